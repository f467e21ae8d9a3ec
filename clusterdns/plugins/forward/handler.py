"""The `forward` handler: picks upstreams by policy and health, asks them, relays the reply."""

import asyncio
import logging
import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from clusterdns.clock import Clock, SystemClock
from clusterdns.dns.message import Query, with_id
from clusterdns.dns.names import is_subdomain
from clusterdns.dns.records import Answer, Rcode, RType
from clusterdns.dns.wire import Section, walk
from clusterdns.errors import UpstreamError, WireError
from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.forward.failures import FailureLog
from clusterdns.plugins.forward.health import HealthChecker, Sleep
from clusterdns.plugins.forward.metrics import ForwardMetrics, UpstreamMetrics
from clusterdns.plugins.forward.options import ForwardConfig, Upstream
from clusterdns.plugins.forward.upstream import Exchanger, Transport

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Reply:
    """An upstream's reply, already checked by the exchanger to answer the query sent."""

    wire: bytes
    rcode: int  # the header's 4 bits (RFC 1035 4.1.1)
    truncated: bool


class ForwardPlugin:
    """Forwards names under the zone, minus `except`, to healthy upstreams in policy order.

    Each upstream gets an equal share of what is left of the overall deadline; the first reply
    is relayed whatever its rcode (CoreDNS passes SERVFAIL and REFUSED back too). A truncated
    UDP reply is asked again over TCP. No reply by the deadline: SERVFAIL.
    """

    name = "forward"
    keeps_families = True  # it answers only what the plugins before it passed on

    def __init__(
        self,
        config: ForwardConfig,
        exchanger: Exchanger,
        rng: random.Random,
        metrics: ForwardMetrics | None = None,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.config = config
        self.exchanger = exchanger
        self.rng = rng
        self.clock = clock or SystemClock()
        family = metrics or ForwardMetrics(CollectorRegistry())  # unexported when not given
        self._metrics = {u: UpstreamMetrics(family, str(u)) for u in config.upstreams}
        self._broken = family.healthcheck_broken
        self._rejects = family.max_concurrent_rejects
        self._transport: Transport = "tcp" if config.force_tcp else "udp"
        self.health = HealthChecker(
            config.health_check,
            config.max_fails,
            exchanger,
            self._transport,
            self._metrics,
            rng,
            sleep,
        )
        self._robin = 0
        self._in_flight = 0
        self.failures = FailureLog()
        self._flush: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        """Start health checking."""
        await self.health.start()

    async def stop(self) -> None:
        """Stop health checking; report the failures counted so far."""
        await self.health.stop()
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        for summary in self.failures.close_all():
            logger.warning("forward: %s", summary)

    def matches(self, name: str) -> bool:
        """True for names this stanza forwards: under FROM and not under an `except` name."""
        zone = self.config.zone
        if not is_subdomain(name, zone):
            return False
        # CoreDNS isAllowedDomain: FROM itself is forwarded even when `except` names it.
        return name == zone or not any(is_subdomain(name, i) for i in self.config.ignored)

    async def serve(self, request: Request, next: Next) -> Response:
        """Forward names we match; pass the rest, and `next` rcodes, on."""
        query = request.query
        if not self.matches(query.name):
            return await next(request)
        limit = self.config.max_concurrent
        if limit and self._in_flight >= limit:
            self._rejects.inc()
            return Response(self.name, answer=Answer(Rcode.REFUSED, recursion_available=True))
        self._in_flight += 1
        try:
            reply = await self._forward(query)
        finally:
            self._in_flight -= 1
        if reply is None:
            return Response(self.name, answer=Answer(Rcode.SERVFAIL, recursion_available=True))
        if reply.rcode in self.config.next_rcodes:
            following = await next(request)
            # CoreDNS follows `next` only into another forward; else the reply stands.
            if following.plugin == self.name:
                return following
        return Response(self.name, wire=with_opt(with_id(reply.wire, query.id), query))

    def upstream_order(self) -> list[Upstream]:
        """The upstreams in the order the policy gives for one query (advances round_robin)."""
        upstreams = self.config.upstreams
        if self.config.policy == "sequential":
            return list(upstreams)
        if self.config.policy == "round_robin":
            # CoreDNS roundRobin.List: bump first, then that upstream and the rest in order.
            self._robin += 1
            first = self._robin % len(upstreams)
            return [upstreams[first], *upstreams[:first], *upstreams[first + 1 :]]
        return self.rng.sample(upstreams, len(upstreams))

    def _candidates(self) -> Sequence[Upstream]:
        """Healthy upstreams in policy order; one random upstream when every one is down."""
        healthy = [u for u in self.upstream_order() if not self.health.is_down(u)]
        if healthy:
            return healthy
        # CoreDNS: health checking itself is assumed broken; try one anyway.
        self._broken.inc()
        return [self.rng.choice(self.config.upstreams)]

    async def _forward(self, query: Query) -> _Reply | None:
        # A fresh id per upstream query, so replies to the client's id cannot be spoofed in.
        wire = with_id(query.wire, self.rng.randrange(1 << 16))
        deadline = self.clock.monotonic() + self.config.timeout
        candidates = self._candidates()
        reasons = []
        for index, upstream in enumerate(candidates):
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                break
            budget = remaining / (len(candidates) - index)
            reply = await self._attempt(query, wire, upstream, budget)
            if isinstance(reply, _Reply):
                return reply
            reasons.append(reply)
        self._failed(query, reasons)
        return None

    async def _attempt(
        self, query: Query, wire: bytes, upstream: Upstream, budget: float
    ) -> _Reply | str:
        """One upstream's reply within `budget` seconds (TCP after a truncated UDP reply), or
        what went wrong."""
        transport = self._transport
        try:
            async with asyncio.timeout(budget):
                reply = await self._exchange(wire, upstream, transport)
                if reply.truncated and transport == "udp":
                    transport = "tcp"
                    reply = await self._exchange(wire, upstream, transport)
        except TimeoutError:
            reason = f"{upstream} ({transport}): timed out after {round(budget, 1):g}s"
        except UpstreamError as exc:
            reason = str(exc)
        else:
            return reply
        logger.debug("forward: %s", reason)
        self.health.suspect(upstream)
        return reason

    def _failed(self, query: Query, reasons: list[str]) -> None:
        """Log a query no upstream answered: the first of its kind now, then one count per
        period (a flood of failing queries must not become a flood of lines)."""
        kind = "; ".join(sorted(set(reasons))) or f"no time left of {self.config.timeout:g}s"
        now = self.clock.monotonic()
        for summary in self.failures.close_due(now):
            logger.warning("forward: %s", summary)
        if self.failures.add(kind, now):
            logger.warning("forward: no answer for %s: %s", query.name, kind)
            self._schedule_flush(now)

    def _schedule_flush(self, now: float) -> None:
        deadline = self.failures.next_deadline()
        if self._flush is not None or deadline is None:
            return
        self._flush = asyncio.get_running_loop().call_later(max(deadline - now, 0), self._flushed)

    def _flushed(self) -> None:
        self._flush = None
        now = self.clock.monotonic()
        for summary in self.failures.close_due(now):
            logger.warning("forward: %s", summary)
        self._schedule_flush(now)

    async def _exchange(self, wire: bytes, upstream: Upstream, transport: Transport) -> _Reply:
        metrics = self._metrics[upstream]
        metrics.sent(transport)
        started = self.clock.monotonic()
        # The exchanger returns only a reply whose id and question are those of `wire`.
        data = await self.exchanger.exchange(wire, upstream, transport)
        flags = int.from_bytes(data[2:4], "big")
        reply = _Reply(data, flags & 0xF, bool(flags & 0x0200))
        metrics.answered(reply.rcode, self.clock.monotonic() - started)
        return reply


_OPT = struct.Struct("!BHHIH")  # root owner, type, class = payload, TTL = flags, RDLENGTH
_ARCOUNT = struct.Struct("!H")


def with_opt(wire: bytes, query: Query) -> bytes:
    """`wire` as the client gets it: an EDNS query's reply always carries our OPT.

    CoreDNS's forward answers every EDNS query with an OPT whatever the upstream sent back
    (request.SizeAndDo): the upstream's OPT with the payload size we accept from the client
    (RFC 6891 6.2.1: OPT is hop-by-hop), or, if there is none, one like the cache's repeats
    carry: that payload size, the DO bit echoed, version 0, no options.
    """
    if query.edns is None or len(wire) < 12:
        return wire
    arcount = _ARCOUNT.unpack_from(wire, 10)[0]
    size = query.max_udp_size()
    if arcount:
        try:
            records = walk(wire).section(Section.ADDITIONAL)
        except WireError:
            return wire  # not ours to repair: relayed as the upstream sent it
        for record in records:
            if record.rtype == RType.OPT:
                if wire[record.start] != 0:
                    return wire  # an OPT not owned by the root is malformed: leave it be
                data = bytearray(wire)
                _ARCOUNT.pack_into(data, record.start + 3, size)  # its CLASS is the payload
                return bytes(data)
    do = 0x8000 if query.edns.do else 0
    opt = _OPT.pack(0, RType.OPT, size, do, 0)
    # The additional section comes last (RFC 1035 4.1), so the OPT is simply appended.
    return wire[:10] + _ARCOUNT.pack(arcount + 1) + wire[12:] + opt
