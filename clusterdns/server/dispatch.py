"""Decode, route by longest zone, run the chain, encode: one query from bytes to bytes.

The dispatcher keeps no pre-encoded answers: for a UDP query it also says whether the reply
may be kept (`KeptReply`), and the listener, which owns the store and already computed the
query's key, decides whether to keep it now.
"""

import asyncio
import logging
from collections.abc import Awaitable, Coroutine, Generator
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from clusterdns.chain import Chain
from clusterdns.clock import Clock, SystemClock
from clusterdns.dns.message import (
    TCP_MAX_MESSAGE,
    Query,
    decode_query,
    encode_answer,
    error_reply,
    truncate_reply,
)
from clusterdns.dns.mnemonics import rcode_text
from clusterdns.dns.names import is_subdomain, longest_zone
from clusterdns.dns.records import CLASS_IN, Answer, Rcode
from clusterdns.errors import HeaderError, QueryRejected
from clusterdns.plugin import Family, Request, Response
from clusterdns.server.encodings import Encodings
from clusterdns.server.metrics import HitCell, RequestKey, ResponseKey, ServerCounters, type_label

logger = logging.getLogger(__name__)

T = TypeVar("T")
PANIC_LOG_PERIOD = 60.0  # seconds between the consolidated lines about failed answers


@dataclass(frozen=True, slots=True)
class ZoneChain:
    """The zones one Corefile server block serves, and its chain: what the dispatcher routes to.

    Distinct from `corefile.parser.ServerBlock`, the block as written in the Corefile.
    """

    zones: tuple[str, ...]
    chain: Chain


@dataclass(slots=True)
class PanicLog:
    """Failed answers logged as CoreDNS's `errors consolidate` would: never one line each.

    The first failure of each kind (exception type and where it was raised) is logged with
    its traceback; later ones are counted and reported in one line per period.
    """

    clock: Clock
    period: float = PANIC_LOG_PERIOD
    kinds: set[tuple[str, str, int]] = field(default_factory=set)
    suppressed: int = 0
    window_start: float | None = None

    def report(self, exc: BaseException, name: str, qtype: int) -> None:
        """Log (or count) one failure to answer `name` type `qtype`."""
        now = self.clock.monotonic()
        kind = _kind(exc)
        if kind not in self.kinds and len(self.kinds) < 100:
            self.kinds.add(kind)
            logger.error("answering %s type %d failed", name, qtype, exc_info=exc)
            return
        if self.window_start is None:
            self.window_start = now
        self.suppressed += 1
        if now - self.window_start >= self.period:
            logger.error(
                "%d more answers failed in the last %.0fs (last: %s type %d: %s: %s)",
                self.suppressed,
                now - self.window_start,
                name,
                qtype,
                type(exc).__name__,
                exc,
            )
            self.suppressed = 0
            self.window_start = now


def _kind(exc: BaseException) -> tuple[str, str, int]:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return (type(exc).__name__, "", 0)
    return (type(exc).__name__, tb.tb_frame.f_code.co_filename, tb.tb_lineno)


class KeptReply:
    """A UDP reply that may be kept pre-encoded, with what keeping it needs (hotpath.Keepable).

    Made for every such reply; the costly parts (the hit cell, the other orders' encodings)
    are made only when the store admits it.
    """

    __slots__ = (
        "query",
        "wire",
        "response",
        "family",
        "_dispatcher",
        "_request",
        "_result",
        "_max_size",
        "_started",
    )

    def __init__(
        self,
        dispatcher: "Dispatcher",
        query: Query,
        wire: bytes,
        response: Response,
        family: Family | None,
        labels: tuple[RequestKey, ResponseKey],
        max_size: int,
        started: float,
    ) -> None:
        self.query = query
        self.wire = wire
        self.response = response
        self.family = family
        self._dispatcher = dispatcher
        self._request, self._result = labels
        self._max_size = max_size
        self._started = started

    @property
    def expires(self) -> float:
        """Monotonic seconds after which the bytes stop being true (inf: until a zone change)."""
        ttl = self.response.ttl
        # Counted from when the query was read: never later than the records' own expiry.
        return float("inf") if ttl is None else self._started + ttl

    def cell(self) -> HitCell:
        """The metrics cell a hit of the kept reply counts in."""
        return self._dispatcher.counters.cell(self._request, self._result, self.query, self.wire)

    def rotations(self) -> tuple[bytes, ...]:
        """The reply in the response's other orders (loadbalance), encoded alike."""
        encode = self._dispatcher.encode
        return tuple(encode(self.query, a, self._max_size) for a in self.response.rotations)


Served = tuple[bytes | None, KeptReply | None]  # the reply (None: silence), and whether to keep it


class Dispatcher:
    """Turns query bytes into reply bytes (or None to stay silent); never raises."""

    def __init__(
        self,
        blocks: list[ZoneChain],
        counters: ServerCounters | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.counters = counters or ServerCounters("dns://:53")
        self.clock = clock or SystemClock()
        self.panic_log = PanicLog(self.clock)
        # Big and negative answers' encodings, reused; big first ones made off the loop.
        self._encodings = Encodings()
        self.replace_blocks(blocks)

    def replace_blocks(self, blocks: list[ZoneChain]) -> None:
        """Route to `blocks` from now on (a reload swaps every chain in one assignment)."""
        by_zone = {zone: block for block in blocks for zone in block.zones}
        self._routes = (tuple(by_zone), by_zone)

    def serve_udp(self, data: bytes, client: tuple[str, int]) -> "Served | asyncio.Task[Served]":
        """A UDP query's reply and whether it may be kept, or a task when a plugin had to wait.

        Most answers (the zone, cache hits) never wait, and an asyncio task per query costs
        more than answering it: only a query that really waits (forward) gets one.
        """
        return run_now(self._serve(data, "udp", client))

    async def handle(self, data: bytes, protocol: str, client: tuple[str, int]) -> bytes | None:
        """The reply to `data` received over `protocol` from `client` (None: stay silent)."""
        return (await self._serve(data, protocol, client))[0]

    async def _serve(self, data: bytes, protocol: str, client: tuple[str, int]) -> Served:
        try:
            query = decode_query(data)
        except HeaderError:
            return None, None  # an unreadable header gets no reply at all (nothing to answer to)
        except QueryRejected as exc:
            return error_reply(data, exc.rcode), None
        max_size = query.max_udp_size() if protocol == "udp" else TCP_MAX_MESSAGE
        monotonic = self.clock.monotonic
        started = monotonic()
        zones, by_zone = self._routes
        zone = longest_zone(query.name, zones)
        try:
            response = await self._respond(query, protocol, client, zone, by_zone)
            if response.drop:
                return None, None
            if response.udp_size is not None:
                query, max_size = _lower_payload(query, response.udp_size, protocol, max_size)
                # `log` encoded for the client's own payload; the OPT now says another.
                response = replace(response, encoded=None)
            wire = self._encode(query, response, protocol, max_size)
            if not isinstance(wire, bytes):
                wire = await wire  # a big answer's first encoding, made off the loop
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # A bug in one answer costs that answer a SERVFAIL, never the server (CoreDNS recovers
            # a plugin panic the same way in ServeDNS).
            self.counters.panics += 1
            self.panic_log.report(exc, query.name, query.qtype)
            response = Response("", answer=Answer(Rcode.SERVFAIL))
            wire = encode_answer(query, Answer(Rcode.SERVFAIL), max_size)
        family = "2" if ":" in client[0] else "1"
        label = zone or "dropped"  # CoreDNS vars.Dropped
        request = (label, protocol, family, type_label(query.qtype))
        result = (label, rcode_text(wire[3] & 0xF), response.plugin)
        self.counters.count(request, result, monotonic() - started, query, wire)
        if not response.cacheable or protocol != "udp" or not _whole(response, wire):
            return wire, None
        if response.observe is not None and wire[2] & 0x02:
            # A cut reply's size is not the size `log` reports ({rsize} is before truncation):
            # such answers keep taking the chain, where `log` sees them.
            return wire, None
        siblings = response.family
        if siblings is not None and not self._same_route(siblings, zone, zones, by_zone):
            siblings = None
        kept = KeptReply(
            self, query, wire, response, siblings, (request, result), max_size, started
        )
        return wire, kept

    @staticmethod
    def _same_route(
        family: Family, zone: str | None, zones: tuple[str, ...], by_zone: dict[str, ZoneChain]
    ) -> bool:
        """True when every sibling `family` claims goes the way its question went.

        Not when a handler on the way could tell the siblings apart, nor when a server block
        serves a zone below the parent (its siblings there are routed to that block).
        """
        if zone is None or not by_zone[zone].chain.keeps_families:
            return False
        parent = family.parent
        return not any(z != parent and is_subdomain(z, parent) for z in zones)

    def encode(self, query: Query, answer: Answer, max_size: int) -> bytes:
        """`answer` to `query` in wire form within `max_size`, on the loop, encodings reused."""
        return encode_answer(query, answer, max_size, self._encodings.bodies)

    async def _respond(
        self,
        query: Query,
        protocol: str,
        client: tuple[str, int],
        zone: str | None,
        by_zone: dict[str, ZoneChain],
    ) -> Response:
        if query.edns is not None and query.edns.version != 0:
            return Response("", answer=Answer(Rcode.BADVERS))  # RFC 6891 6.1.3
        if query.qclass != CLASS_IN:
            return Response("", answer=Answer(Rcode.REFUSED))
        if zone is None:
            return Response("", answer=Answer(Rcode.REFUSED))  # no server block for the name
        return await by_zone[zone].chain.entry(Request(query, protocol, client))

    def _encode(
        self, query: Query, response: Response, protocol: str, max_size: int
    ) -> bytes | Awaitable[bytes]:
        if response.answer is not None:
            encoded = response.encoded
            if encoded is not None and len(encoded) <= max_size:
                return encoded  # the same bytes encode_answer would make: nothing was cut
            return self._encodings.encode(query, response.answer, max_size)
        wire = response.wire or b""
        return truncate_reply(wire, max_size) if len(wire) > max_size else wire


def _whole(response: Response, wire: bytes) -> bool:
    """True when `wire` is `response` as given: a structured answer, or bytes not cut to fit."""
    return response.answer is not None or (response.wire is not None and wire is response.wire)


def run_now(coro: Coroutine[object, None, T]) -> "T | asyncio.Task[T]":
    """Run `coro` until it first suspends: its result, or a task that finishes it.

    Needs a running loop only when the coroutine suspends. The task resumes the coroutine
    exactly where it stopped (whatever it was waiting for is handed to the task).
    """
    try:
        waiting = coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]  # StopIteration.value is untyped
    return asyncio.get_running_loop().create_task(_finish(coro, waiting))


async def _finish(coro: Coroutine[object, None, T], waiting: object) -> T:
    return await _Resumed(coro, waiting)


class _Resumed(Generic[T]):
    """Awaitable that continues a started coroutine, passing its first wait to the task."""

    __slots__ = ("_coro", "_waiting")

    def __init__(self, coro: Coroutine[object, None, T], waiting: object) -> None:
        self._coro = coro
        self._waiting = waiting

    def __await__(self) -> Generator[object, None, T]:
        coro, value = self._coro, self._waiting
        while True:
            try:
                yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # thrown in by the task (CancelledError): passed on
                try:
                    value = coro.throw(exc)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]  # untyped
            else:
                try:
                    value = coro.send(None)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]  # untyped


def _lower_payload(query: Query, size: int, protocol: str, max_size: int) -> tuple[Query, int]:
    """`query` with its EDNS payload lowered to `size` (bufsize), and the UDP limit that gives."""
    if query.edns is None or query.edns.payload <= size:
        return query, max_size
    query = replace(query, edns=replace(query.edns, payload=size))
    return query, min(max_size, query.max_udp_size()) if protocol == "udp" else max_size
