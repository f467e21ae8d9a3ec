"""A walker over a DNS message's bytes: record boundaries, types and compression pointers.

It decodes no data: it finds where each record starts and ends, and where every name (and
every label of one) begins and points to, which is what reordering records safely and
describing a reply for the query log need. RFC 1035 4.1 (format), 4.1.4 (compression).
"""

import struct
from dataclasses import dataclass
from enum import IntEnum

from clusterdns.dns.records import RType
from clusterdns.errors import WireError

_HEADER = struct.Struct("!HHHHHH")
_FIXED = struct.Struct("!HHIH")  # type, class, ttl, rdlength after the owner name

# Types whose RDATA may hold compressed names (RFC 1035 3.3, RFC 2163, RFC 1183, RFC 2782):
# a fixed prefix of this many bytes, then the names. RFC 3597 4 forbids compression in any
# other type, so their RDATA is opaque here.
_ONE_NAME = {2: 0, 3: 0, 4: 0, 5: 0, 7: 0, 8: 0, 9: 0, 12: 0, 39: 0}  # NS MD MF CNAME MB MG MR PTR
_PREFIXED_NAME = {15: 2, 18: 2, 21: 2, 36: 2, 33: 6}  # MX AFSDB RT KX: 2 bytes; SRV: 6 bytes
_TWO_NAMES = {6: 20, 14: 0, 17: 0}  # SOA (then 20 bytes of counters), MINFO, RP


class Section(IntEnum):
    """The record sections of a message (RFC 1035 4.1)."""

    ANSWER = 1
    AUTHORITY = 2
    ADDITIONAL = 3


@dataclass(frozen=True, slots=True)
class WireRecord:
    """One resource record: its section, byte range, type and TTL field."""

    section: Section
    start: int
    end: int
    rtype: int
    ttl: int


@dataclass(frozen=True, slots=True)
class WireMessage:
    """A walked message: header flags, the end of the question, records, and names' offsets."""

    flags: int
    question_end: int
    records: tuple[WireRecord, ...]
    pointers: tuple[int, ...]  # the target of every compression pointer in a name seen
    label_starts: frozenset[int]  # offsets where a name, or a label of one, begins

    @property
    def rcode(self) -> int:
        """The full rcode: header bits, plus the OPT record's upper bits (RFC 6891 6.1.3)."""
        for record in self.records:
            if record.section is Section.ADDITIONAL and record.rtype == RType.OPT:
                return ((record.ttl >> 24) << 4) | (self.flags & 0xF)
        return self.flags & 0xF

    def section(self, section: Section) -> tuple[WireRecord, ...]:
        """The records of one section, in message order."""
        return tuple(record for record in self.records if record.section is section)


def walk(wire: bytes) -> WireMessage:
    """Walk `wire`; WireError when a count, length, label or pointer does not fit."""
    if len(wire) < _HEADER.size:
        raise WireError(f"message of {len(wire)} bytes is shorter than a header")
    _, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(wire)
    walker = _Walker(wire)
    offset = _HEADER.size
    for _ in range(qdcount):
        offset = walker.name(offset, len(wire)) + 4
        if offset > len(wire):
            raise WireError("question ends before its type and class")
    question_end = offset
    records: list[WireRecord] = []
    for section, count in zip(Section, (ancount, nscount, arcount), strict=True):
        for _ in range(count):
            record = walker.record(section, offset)
            records.append(record)
            offset = record.end
    if offset != len(wire):
        raise WireError(f"{len(wire) - offset} bytes after the last record")
    return WireMessage(
        flags, question_end, tuple(records), tuple(walker.pointers), frozenset(walker.starts)
    )


class _Walker:
    """Reads names and records of one message, noting label starts and pointer targets."""

    def __init__(self, wire: bytes) -> None:
        self.wire = wire
        self.pointers: list[int] = []
        self.starts: set[int] = set()

    def name(self, offset: int, limit: int) -> int:
        """Skip the name at `offset`, which must end by `limit`; return the offset after it."""
        wire = self.wire
        first = offset
        while True:
            if offset >= limit:
                raise WireError(f"name at offset {first} runs past its field")
            self.starts.add(offset)
            length = wire[offset]
            if length == 0:
                return offset + 1
            if length & 0xC0 == 0xC0:
                if offset + 2 > limit:
                    raise WireError(f"compression pointer at offset {offset} is cut short")
                target = ((length & 0x3F) << 8) | wire[offset + 1]
                # RFC 1035 4.1.4: a pointer names a prior occurrence.
                if target >= first:
                    raise WireError(f"compression pointer at offset {offset} points forward")
                self.pointers.append(target)
                return offset + 2
            if length & 0xC0:
                raise WireError(f"label type {length >> 6} at offset {offset} is not supported")
            offset += 1 + length

    def record(self, section: Section, offset: int) -> WireRecord:
        """The record starting at `offset`, with the names in its RDATA walked too."""
        start = offset
        offset = self.name(offset, len(self.wire))
        if offset + _FIXED.size > len(self.wire):
            raise WireError(f"record at offset {start} is cut short")
        rtype, _, ttl, rdlength = _FIXED.unpack_from(self.wire, offset)
        rdata = offset + _FIXED.size
        end = rdata + rdlength
        if end > len(self.wire):
            raise WireError(f"record data at offset {rdata} runs past the message")
        self._rdata_names(rtype, rdata, end)
        return WireRecord(section, start, end, rtype, ttl)

    def _rdata_names(self, rtype: int, offset: int, end: int) -> None:
        if rtype in _ONE_NAME:
            after = self.name(offset, end)
        elif rtype in _PREFIXED_NAME:
            after = self.name(offset + _PREFIXED_NAME[rtype], end)
        elif rtype in _TWO_NAMES:
            after = self.name(self.name(offset, end), end) + _TWO_NAMES[rtype]
        else:
            return
        if after != end:
            raise WireError(f"type {rtype} record data at offset {offset} has the wrong length")
