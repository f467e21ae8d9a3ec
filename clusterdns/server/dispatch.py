"""Decode, route by longest zone, run the chain, encode: one query from bytes to bytes."""

import asyncio
import logging
from dataclasses import dataclass

from clusterdns.chain import Chain
from clusterdns.dns.message import (
    TCP_MAX_MESSAGE,
    Query,
    decode_query,
    encode_answer,
    error_reply,
    truncate_reply,
)
from clusterdns.dns.names import longest_zone
from clusterdns.dns.records import CLASS_IN, Answer, Rcode
from clusterdns.errors import HeaderError, QueryRejected
from clusterdns.plugin import Request, Response
from clusterdns.server.hotpath import AnswerCache

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

    def __init__(self, blocks: list[ServerBlock], answers: AnswerCache) -> None:
        self.blocks = blocks
        self._zones = tuple(zone for block in blocks for zone in block.zones)
        self._by_zone = {zone: block for block in blocks for zone in block.zones}
        self.answers = answers
        self.stats = DispatchStats()

    async def handle(self, data: bytes, protocol: str, client: tuple[str, int]) -> bytes | None:
        """The reply to `data` received over `protocol` from `client`."""
        try:
            query = decode_query(data)
        except HeaderError:
            self.stats.dropped += 1
            return None
        except QueryRejected as exc:
            self.stats.rejected += 1
            return error_reply(data, exc.rcode)
        max_size = query.max_udp_size() if protocol == "udp" else TCP_MAX_MESSAGE
        generation = self.answers.generation
        try:
            response = await self._respond(query, protocol, client)
            return self._encode(query, response, protocol, max_size, generation)
        except asyncio.CancelledError:
            raise
        except Exception:
            # STYLE 7: a bug in one answer costs that answer a SERVFAIL, never the server.
            self.stats.panics += 1
            logger.exception("answering %s type %d failed", query.name, query.qtype)
            return encode_answer(query, Answer(Rcode.SERVFAIL), max_size)

    async def _respond(self, query: Query, protocol: str, client: tuple[str, int]) -> Response:
        if query.edns is not None and query.edns.version != 0:
            return Response("", answer=Answer(Rcode.BADVERS))  # RFC 6891 6.1.3
        if query.qclass != CLASS_IN:
            return Response("", answer=Answer(Rcode.REFUSED))
        zone = longest_zone(query.name, self._zones)
        if zone is None:
            return Response("", answer=Answer(Rcode.REFUSED))  # no server block for the name
        return await self._by_zone[zone].chain.serve(Request(query, protocol, client))

    def _encode(
        self, query: Query, response: Response, protocol: str, max_size: int, generation: int
    ) -> bytes:
        if response.answer is not None:
            wire = encode_answer(query, response.answer, max_size)
            if response.cacheable and protocol == "udp":
                self.answers.store(query, wire, generation, response.scope)
            return wire
        wire = response.wire or b""
        return truncate_reply(wire, max_size) if len(wire) > max_size else wire
