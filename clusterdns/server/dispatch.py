"""Decode, route by longest zone, run the chain, encode: one query from bytes to bytes."""

import asyncio
import logging
import time
from dataclasses import dataclass, replace

from clusterdns.chain import Chain
from clusterdns.dns.message import (
    TCP_MAX_MESSAGE,
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
from clusterdns.plugin import Request, Response
from clusterdns.server.hotpath import AnswerCache
from clusterdns.server.metrics import ServerCounters, type_label

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerBlock:
    """The zones one Corefile server block serves, and its chain."""

    zones: tuple[str, ...]
    chain: Chain


@dataclass(slots=True)
class DispatchStats:
    """Plain counters, cheap to bump on every query."""

    dropped: int = 0
    rejected: int = 0
    panics: int = 0


class Dispatcher:
    """Turns query bytes into reply bytes (or None to stay silent); never raises."""

    def __init__(
        self,
        blocks: list[ServerBlock],
        answers: AnswerCache | None = None,
        counters: ServerCounters | None = None,
    ) -> None:
        # Listeners pass their own caches to handle(); without one, nothing is pre-encoded.
        self.answers = answers if answers is not None else AnswerCache(max_entries=0)
        self.counters = counters or ServerCounters("dns://:53")
        self.stats = DispatchStats()
        self.blocks: list[ServerBlock] = []
        self.replace_blocks(blocks)

    def replace_blocks(self, blocks: list[ServerBlock]) -> None:
        """Route to `blocks` from now on (a reload swaps every chain in one assignment)."""
        by_zone = {zone: block for block in blocks for zone in block.zones}
        self._routes = (tuple(by_zone), by_zone)
        self.blocks = blocks

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
            self.stats.dropped += 1
            return None
        except QueryRejected as exc:
            self.stats.rejected += 1
            return error_reply(data, exc.rcode)
        max_size = query.max_udp_size() if protocol == "udp" else TCP_MAX_MESSAGE
        cache = answers if answers is not None else self.answers
        generation = cache.generation
        started = time.perf_counter()
        zones, by_zone = self._routes
        zone = longest_zone(query.name, zones) or "dropped"  # CoreDNS vars.Dropped
        try:
            response = await self._respond(query, protocol, client, zones, by_zone)
            if response.drop:
                return None
            if response.udp_size is not None:
                query, max_size = _lower_payload(query, response.udp_size, protocol, max_size)
            wire = self._encode(query, response, protocol, max_size)
        except asyncio.CancelledError:
            raise
        except Exception:
            # STYLE 7: a bug in one answer costs that answer a SERVFAIL, never the server.
            self.stats.panics += 1
            self.counters.panics += 1
            logger.exception("answering %s type %d failed", query.name, query.qtype)
            response = Response("", answer=Answer(Rcode.SERVFAIL))
            wire = encode_answer(query, response.answer or Answer(Rcode.SERVFAIL), max_size)
        family = "2" if ":" in client[0] else "1"
        request = (zone, protocol, family, type_label(query.qtype))
        result = (zone, rcode_text(wire[3] & 0xF), response.plugin)
        self.counters.count(request, result, time.perf_counter() - started, query, wire)
        if response.answer is not None and response.cacheable and protocol == "udp":
            cell = self.counters.cell(request, result, query, wire)
            rotations = tuple(encode_answer(query, a, max_size) for a in response.rotations)
            cache.store(query, wire, generation, response.scope, cell, rotations)
            if response.ttl is not None:
                # Such answers are filed under EVERYTHING; a timer drops them when they expire.
                asyncio.get_running_loop().call_later(response.ttl, cache.invalidate, ())
        return wire

    async def _respond(
        self,
        query: Query,
        protocol: str,
        client: tuple[str, int],
        zones: tuple[str, ...],
        by_zone: dict[str, ServerBlock],
    ) -> Response:
        if query.edns is not None and query.edns.version != 0:
            return Response("", answer=Answer(Rcode.BADVERS))  # RFC 6891 6.1.3
        if query.qclass != CLASS_IN:
            return Response("", answer=Answer(Rcode.REFUSED))
        zone = longest_zone(query.name, zones)
        if zone is None:
            return Response("", answer=Answer(Rcode.REFUSED))  # no server block for the name
        return await by_zone[zone].chain.serve(Request(query, protocol, client))

    def _encode(self, query: Query, response: Response, protocol: str, max_size: int) -> bytes:
        if response.answer is not None:
            return encode_answer(query, response.answer, max_size)
        wire = response.wire or b""
        return truncate_reply(wire, max_size) if len(wire) > max_size else wire


def _lower_payload(query: Query, size: int, protocol: str, max_size: int) -> tuple[Query, int]:
    """`query` with its EDNS payload lowered to `size` (bufsize), and the UDP limit that gives."""
    if query.edns is None or query.edns.payload <= size:
        return query, max_size
    query = replace(query, edns=replace(query.edns, payload=size))
    return query, min(max_size, query.max_udp_size()) if protocol == "udp" else max_size
