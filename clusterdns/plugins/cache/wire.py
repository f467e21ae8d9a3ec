"""Foreign replies as bytes: walk their records to read and rewrite TTLs, drop and add OPT.

A wire reply is never decoded into objects: one walk over its records finds what the cache
policy needs (a `Shape`) and where each TTL sits, so a cache hit costs a copy of the bytes,
a few `pack_into` calls and the client's own id, question and OPT.
"""

import struct
from dataclasses import dataclass

from clusterdns.dns.message import Query, splice_question, summarize_reply
from clusterdns.dns.records import RType
from clusterdns.dns.wire import FIXED, Section, walk
from clusterdns.errors import HeaderError, WireError
from clusterdns.plugins.cache.policy import MAX_DEFAULT_TTL, Shape

_ANSWER, _AUTHORITY, _ADDITIONAL = Section.ANSWER, Section.AUTHORITY, Section.ADDITIONAL
_TTL = struct.Struct("!I")
_COUNT = struct.Struct("!H")
_SOA_MIN_RDATA = 22  # two root names and five 32-bit fields
_ARCOUNT_AT = 10

# Header flag bits (RFC 1035 4.1.1, RFC 4035 3.2 for AD and CD).
QR = 0x8000
OPCODE = 0x7800
AA = 0x0400
TC = 0x0200
RD = 0x0100
RA = 0x0080
AD = 0x0020
CD = 0x0010
RCODE = 0x000F


@dataclass(frozen=True, slots=True)
class WireReply:
    """A foreign reply taken apart: its question, flags, shape, and where its TTLs are."""

    wire: bytes
    name: str
    qtype: int
    qclass: int
    flags: int
    shape: Shape
    ttl_offsets: tuple[int, ...]  # every record but OPT
    opt: tuple[int, int] | None  # start and end of the OPT record

    def matches(self, query: Query) -> bool:
        """True when the reply answers `query`'s question (CoreDNS request.Match)."""
        return (self.name, self.qtype, self.qclass) == (query.name, query.qtype, query.qclass)

    def template(self) -> tuple[bytes, tuple[int, ...]] | None:
        """The reply without its OPT (hop-by-hop, RFC 6891 6.2.1) and its TTL offsets then.

        None when the OPT is not the last record: cutting it out of the middle would move
        records that later compression pointers may point into.
        """
        if self.opt is None:
            return self.wire, self.ttl_offsets
        start, end = self.opt
        if end != len(self.wire):
            return None
        data = bytearray(self.wire[:start])
        arcount = _COUNT.unpack_from(data, _ARCOUNT_AT)[0]
        _COUNT.pack_into(data, _ARCOUNT_AT, arcount - 1)
        return bytes(data), self.ttl_offsets


def parse_reply(wire: bytes) -> WireReply:
    """Walk a reply once (`dns.wire.walk`); HeaderError when it is not a well-formed response."""
    summary = summarize_reply(wire)
    try:
        walked = walk(wire, names=False)  # TTLs are rewritten in place: no bytes move
    except WireError as exc:
        raise HeaderError(str(exc)) from None
    flags = walked.flags
    offsets: list[int] = []
    ttls: list[int] = []
    minimums: list[int] = []
    opt: tuple[int, int] | None = None
    extended = 0
    authority_ns = False
    answers = 0
    for record in walked.records:
        if record.section is _ANSWER:
            answers += 1
        if record.rtype == RType.OPT and record.section is _ADDITIONAL:
            if opt is not None or wire[record.start] != 0:
                raise HeaderError("more than one OPT, or OPT not at the root")
            opt, extended = (record.start, record.end), record.ttl >> 24
            continue
        offsets.append(record.ttl_at)
        ttls.append(0 if record.ttl & 0x80000000 else record.ttl)  # RFC 2181 8: top bit set = 0
        if record.section is _AUTHORITY:
            if record.rtype == RType.SOA and record.end - record.ttl_at - 6 >= _SOA_MIN_RDATA:
                minimums.append(_TTL.unpack_from(wire, record.end - 4)[0])
            authority_ns = authority_ns or record.rtype == RType.NS
    shape = Shape(
        rcode=(extended << 4) | (flags & RCODE),
        truncated=bool(flags & TC),
        answers=answers,
        authority_soa=bool(minimums),
        authority_ns=authority_ns,
        records=len(ttls),
        lowest_ttl=min(ttls, default=MAX_DEFAULT_TTL),
        soa_minimum=min(minimums, default=None),
    )
    return WireReply(
        wire, summary.name, summary.qtype, summary.qclass, flags, shape, tuple(offsets), opt
    )


def set_ttls(wire: bytes, offsets: tuple[int, ...], ttl: int) -> bytearray:
    """A copy of `wire` with the TTL at each of `offsets` set to `ttl`."""
    data = bytearray(wire)
    for at in offsets:
        _TTL.pack_into(data, at, ttl)
    return data


def clears_ad(query: Query) -> bool:
    """True when the reply to `query` must not carry AD: neither DO nor AD asked (RFC 6840 5.8)."""
    return not (query.flags & AD or (query.edns is not None and query.edns.do))


def rewrite(reply: WireReply, query: Query, ttl: int) -> bytes:
    """The reply as passed on after a miss: every TTL set to `ttl`, AD cleared if unwanted."""
    data = set_ttls(reply.wire, reply.ttl_offsets, ttl)
    if clears_ad(query):
        data[3] &= ~AD & 0xFF
    return bytes(data)


def render(template: bytes, offsets: tuple[int, ...], flags: int, query: Query, ttl: int) -> bytes:
    """A cached reply for `query`: its id, question case, RD and CD, our OPT, TTLs at `ttl`.

    Like CoreDNS's item.toMsg the reply is authoritative and AD survives only if asked for.
    """
    data = set_ttls(template, offsets, ttl)
    kept = flags & (RA | RCODE | (0 if clears_ad(query) else AD))
    header = QR | AA | (query.flags & (OPCODE | RD | CD)) | kept
    struct.pack_into("!HH", data, 0, query.id, header)
    if query.edns is not None:
        arcount = _COUNT.unpack_from(data, _ARCOUNT_AT)[0]
        _COUNT.pack_into(data, _ARCOUNT_AT, arcount + 1)
        data += opt_record(query)
    return splice_question(query, bytes(data))


def opt_record(query: Query) -> bytes:
    """Our OPT for `query`: the payload size we honour, DO echoed, version 0, no options."""
    do = 0x8000 if query.edns is not None and query.edns.do else 0
    return b"\x00" + FIXED.pack(RType.OPT, query.max_udp_size(), do, 0)
