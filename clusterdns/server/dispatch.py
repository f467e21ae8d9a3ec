"""Decode, route by longest zone, run the chain, encode: one query from bytes to bytes."""

import asyncio
import logging
from collections.abc import Awaitable, Coroutine, Generator
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from clusterdns.chain import Chain
from clusterdns.clock import Clock, SystemClock
from clusterdns.dns.message import (
    TCP_MAX_MESSAGE,
    BodyMemo,
    Query,
    decode_query,
    encode_answer,
    error_reply,
    truncate_reply,
)
from clusterdns.dns.mnemonics import rcode_text
from clusterdns.dns.names import longest_zone
from clusterdns.dns.records import CLASS_IN, Answer, Rcode
from clusterdns.errors import HeaderError, QueryRejected
from clusterdns.plugin import Family, Request, Response
from clusterdns.server.encodings import Encodings
from clusterdns.server.hotpath import AnswerCache
from clusterdns.server.metrics import ServerCounters, type_label

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


class Dispatcher:
    """Turns query bytes into reply bytes (or None to stay silent); never raises."""

    def __init__(
        self,
        blocks: list[ZoneChain],
        answers: AnswerCache | None = None,
        counters: ServerCounters | None = None,
        clock: Clock | None = None,
    ) -> None:
        # Listeners pass their own caches to handle(); without one, nothing is pre-encoded.
        self.answers = answers if answers is not None else AnswerCache(max_entries=0)
        self.counters = counters or ServerCounters("dns://:53")
        self.clock = clock or SystemClock()
        self.panic_log = PanicLog(self.clock)
        self._bodies: BodyMemo = {}  # big and negative answers' encodings (encode_answer)
        self._encodings = Encodings(self._bodies)  # big first encodings made off the loop
        self.replace_blocks(blocks)

    def replace_blocks(self, blocks: list[ZoneChain]) -> None:
        """Route to `blocks` from now on (a reload swaps every chain in one assignment)."""
        by_zone = {zone: block for block in blocks for zone in block.zones}
        self._routes = (tuple(by_zone), by_zone)

    def serve_now(
        self,
        data: bytes,
        protocol: str,
        client: tuple[str, int],
        answers: AnswerCache | None = None,
    ) -> "bytes | None | asyncio.Task[bytes | None]":
        """`handle`, run synchronously: the reply, or a task when a plugin had to wait.

        Most answers (the zone, cache hits) never wait, and an asyncio task per query costs
        more than answering it: only a query that really waits (forward) gets one.
        """
        return run_now(self.handle(data, protocol, client, answers))

    async def handle(
        self,
        data: bytes,
        protocol: str,
        client: tuple[str, int],
        answers: AnswerCache | None = None,
    ) -> bytes | None:
        """The reply to `data` received over `protocol` from `client`.

        `answers` is where a UDP listener keeps pre-encoded replies (default: the server's).
        """
        try:
            query = decode_query(data)
        except HeaderError:
            return None  # an unreadable header gets no reply at all (nothing to answer to)
        except QueryRejected as exc:
            return error_reply(data, exc.rcode)
        max_size = query.max_udp_size() if protocol == "udp" else TCP_MAX_MESSAGE
        cache = answers if answers is not None else self.answers
        generation = cache.generation
        monotonic = self.clock.monotonic
        started = monotonic()
        zones, by_zone = self._routes
        zone = longest_zone(query.name, zones)
        try:
            response = await self._respond(query, protocol, client, zone, by_zone)
            if response.drop:
                return None
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
        if response.cacheable and protocol == "udp" and _whole(response, wire):
            siblings = response.family
            if siblings is not None and (zone is None or not by_zone[zone].chain.keeps_families):
                siblings = None  # a handler on the way could tell the siblings apart
            self._store(
                cache,
                query,
                wire,
                generation,
                response,
                request,
                result,
                max_size,
                started,
                siblings,
            )
        return wire

    def _store(
        self,
        cache: AnswerCache,
        query: Query,
        wire: bytes,
        generation: int,
        response: Response,
        request: tuple[str, str, str, str],
        result: tuple[str, str, str],
        max_size: int,
        now: float,
        family: Family | None,
    ) -> None:
        if response.observe is not None and wire[2] & 0x02:
            # A cut reply's size is not the size `log` reports ({rsize} is before truncation):
            # such answers keep taking the chain, where `log` sees them.
            return
        admitted = cache.admit(query, generation, family)
        if admitted is None:
            return  # a first sighting (or pre-encoding is off): nothing more to make
        cell = self.counters.cell(request, result, query, wire)
        rotations = tuple(
            encode_answer(query, a, max_size, self._bodies) for a in response.rotations
        )
        # Answers holding upstream records end with their TTL: the store checks the expiry
        # on each hit, so no timer is armed per answer.
        expires = float("inf") if response.ttl is None else now + response.ttl
        cache.store(
            query,
            wire,
            generation,
            response.scope,
            cell,
            rotations,
            expires,
            admitted,
            response.on_hit,
            response.observe,
            family,
        )

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
