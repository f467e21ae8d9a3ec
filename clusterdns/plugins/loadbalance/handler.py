"""The `loadbalance` handler: replies from later plugins in round-robin order."""

from dataclasses import replace
from functools import partial

from cachetools import LRUCache

from clusterdns.dns.records import Answer, RType
from clusterdns.offloop import OffLoop
from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.loadbalance.rotate import (
    balance_answer,
    balance_wire,
    balances,
    spread_orders,
    varies,
    wire_plan,
)

# Questions whose turn is remembered; a forgotten one starts again at turn 0. A few hundred
# KiB at most, and only questions with two or more addresses are counted.
REMEMBERED_QUESTIONS = 4096
ROTATIONS_KEPT = 4  # orderings of one answer the pre-encoded replies cycle through
_ROTATED = (RType.A, RType.AAAA)
_AT_MOST_ONE = (b"\x00\x00", b"\x00\x01")  # ANCOUNT bytes of a reply with 0 or 1 answers
BIG_SECTION = 64  # answer records from which the orders are made once and kept
BIG_ANSWERS_KEPT = 64


class LoadBalanceHandler:
    """Rotates address records, one step per query for each (name, type) asked."""

    name = "loadbalance"
    keeps_families = True  # name errors have no records to reorder

    def __init__(self, remembered: int = REMEMBERED_QUESTIONS) -> None:
        # One counter per question, not one per plugin: clients ask A and AAAA in pairs, and a
        # shared counter would give each of the two only every other turn.
        self._turns: LRUCache[tuple[str, int], int] = LRUCache(maxsize=remembered)
        self._big: dict[int, tuple[Answer, tuple[Answer, ...]]] = {}
        self._building: OffLoop[int, tuple[Answer, ...]] = OffLoop()

    async def serve(self, request: Request, next: Next) -> Response:
        """Ask `next`, then reorder the reply's records."""
        response = await next(request)
        answer = response.answer
        if answer is not None:
            if len(answer.answer) >= BIG_SECTION and balances(request.query.qtype, answer.rcode):
                return await self._balance_big(request, response, answer)
            return self._balance_answer(request, response)
        if response.wire is not None:
            return self._balance_wire(request, response, response.wire)
        return response

    def _balance_answer(self, request: Request, response: Response) -> Response:
        answer = response.answer
        if answer is None or not balances(request.query.qtype, answer.rcode):
            return response
        if not varies(answer):
            # CNAMEs still go first, but the order is the same on every query: still cacheable.
            ordered = balance_answer(answer, 0)
            return response if ordered == answer else replace(response, answer=ordered)
        turn = self._take_turn(request)
        # Rather than shuffle per query, offer a few rotations; the server keeps
        # them all pre-encoded and cycles through them.
        distinct = min(ROTATIONS_KEPT, sum(1 for r in answer.answer if r.rtype in _ROTATED))
        rotations = tuple(balance_answer(answer, turn + k) for k in range(1, distinct))
        return replace(response, answer=balance_answer(answer, turn), rotations=rotations)

    async def _balance_big(self, request: Request, response: Response, answer: Answer) -> Response:
        """A big answer (a large headless Service) in one of ROTATIONS_KEPT orders, made once.

        Reordering 2,000 records takes about a millisecond (and checking whether any order
        changes, as much again): the orders start a quarter of the records apart, are made
        once per answer object in a worker thread (clusterdns.offloop) while the loop serves
        other queries, are kept (the kubernetes plugin hands out the same object while its
        zone lasts), and cycle; a repeat costs a lookup.
        """
        kept = self._big.get(id(answer))
        if kept is not None and kept[0] is answer:
            orders = kept[1]
        else:
            make = partial(spread_orders, answer, ROTATIONS_KEPT)
            orders = await self._building.make(id(answer), make, partial(self._keep, answer))
        if len(orders) == 1:  # nothing rotates: one order, the same on every query
            return response if orders[0] is answer else replace(response, answer=orders[0])
        turn = self._take_turn(request) % len(orders)
        rotations = tuple(orders[(turn + k) % len(orders)] for k in range(1, len(orders)))
        return replace(response, answer=orders[turn], rotations=rotations)

    def _keep(self, answer: Answer, orders: tuple[Answer, ...]) -> None:
        if len(self._big) >= BIG_ANSWERS_KEPT:
            self._big.pop(next(iter(self._big)))
        self._big[id(answer)] = (answer, orders)

    def _balance_wire(self, request: Request, response: Response, wire: bytes) -> Response:
        if wire[6:8] in _AT_MOST_ONE:
            return response  # one answer record or none: no order to change, nothing to walk
        found = wire_plan(wire)
        if found is None:
            return response
        message, plan = found
        if not balances(request.query.qtype, message.rcode):
            return response
        key = (request.query.name, request.query.qtype)
        turn = self._turns.get(key, 0) if plan.varies else 0
        balanced = balance_wire(wire, message, turn)
        if balanced is None:
            return response
        if plan.varies:
            self._turns[key] = turn + 1
        if balanced is wire:
            return response
        # An order that changes per query must not be pre-encoded as one order.
        return replace(response, wire=balanced, cacheable=response.cacheable and not plan.varies)

    def _take_turn(self, request: Request) -> int:
        key = (request.query.name, request.query.qtype)
        turn = self._turns.get(key, 0)
        self._turns[key] = turn + 1
        return turn
