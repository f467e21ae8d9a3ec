"""Cached replies: what an entry keeps, how old it is, and the reply it makes for a query."""

import math
from dataclasses import dataclass, field, replace

from clusterdns.dns.message import Query
from clusterdns.dns.records import Answer, Record
from clusterdns.plugin import Response
from clusterdns.plugins.cache import wire

PLUGIN = "cache"


@dataclass(slots=True)
class Popularity:
    """How often an entry was asked for lately (CoreDNS cache/freq): decides prefetches."""

    last: float = -math.inf
    hits: int = 0

    def update(self, window: float, now: float) -> int:
        """Count a hit at `now`; a gap longer than `window` starts the count again at one."""
        self.hits = 1 if self.last < now - window else self.hits + 1
        self.last = now
        return self.hits

    def reset(self, now: float, hits: int) -> None:
        """Carry a count over to a refreshed entry."""
        self.last, self.hits = now, hits


@dataclass(frozen=True, slots=True)
class Entry:
    """One cached reply: a structured answer or foreign bytes, when stored, for how long.

    A wire entry keeps the reply without its OPT, the offsets of its TTLs and its header
    flags; the id, the question's case, RD, CD and the OPT come from each query it answers.
    """

    cache: str  # "success" or "denial"
    rcode: int
    stored: float  # monotonic seconds
    ttl: int  # seconds the entry is fresh for (CoreDNS origTTL)
    answer: Answer | None = None
    wire: bytes = b""
    ttl_offsets: tuple[int, ...] = ()
    flags: int = 0
    popularity: Popularity = field(default_factory=Popularity, compare=False)

    def remaining(self, now: float) -> int:
        """Whole seconds of freshness left at `now`; zero or less once expired."""
        return self.ttl - int(now - self.stored)

    def reply(self, query: Query, ttl: int) -> Response:
        """The response to `query` from this entry, every record's TTL set to `ttl`."""
        if self.answer is not None:
            return Response(PLUGIN, answer=with_ttl(self.answer, ttl, authoritative=True))
        return Response(
            PLUGIN, wire=wire.render(self.wire, self.ttl_offsets, self.flags, query, ttl)
        )


def with_ttl(answer: Answer, ttl: int, authoritative: bool | None = None) -> Answer:
    """`answer` with every record's TTL set to `ttl` (and AA set, if given)."""

    def retimed(records: tuple[Record, ...]) -> tuple[Record, ...]:
        return tuple(r if r.ttl == ttl else replace(r, ttl=ttl) for r in records)

    return replace(
        answer,
        answer=retimed(answer.answer),
        authority=retimed(answer.authority),
        additional=retimed(answer.additional),
        authoritative=answer.authoritative if authoritative is None else authoritative,
    )


def answer_entry(cache: str, answer: Answer, now: float, ttl: int) -> Entry:
    """An entry holding a structured answer."""
    return Entry(cache, int(answer.rcode), now, ttl, answer=answer)


def wire_entry(cache: str, reply: wire.WireReply, now: float, ttl: int) -> Entry | None:
    """An entry holding a foreign reply's bytes, or None when its OPT cannot be cut out."""
    template = reply.template()
    if template is None:
        return None
    data, offsets = template
    return Entry(
        cache, reply.shape.rcode, now, ttl, wire=data, ttl_offsets=offsets, flags=reply.flags
    )
