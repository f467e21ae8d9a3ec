"""The one reader of DNS message bytes: header, names, record boundaries, TTL positions.

Every part of clusterdns that walks a message uses this module: query decoding (the question
name, the additional records), the cache (where each TTL sits), forward (does a reply answer
the query), loadbalance and the query log (record boundaries and compression pointers), and
the editable reader (names followed through pointers). It decodes no record data.
RFC 1035 4.1 (format), 4.1.4 (compression).
"""

import struct
from dataclasses import dataclass
from enum import IntEnum

from clusterdns.dns.records import RType
from clusterdns.errors import WireError

HEADER = struct.Struct("!HHHHHH")  # id, flags, qdcount, ancount, nscount, arcount
FIXED = struct.Struct("!HHIH")  # type, class, ttl, rdlength after the owner name
TTL_AFTER_NAME = 4  # the TTL field starts this many bytes after a record's owner name
MAX_LABEL = 63  # RFC 1035 2.3.4; a length byte above this is a pointer or extended label
POINTER = 0xC0  # the top two bits of a compression pointer (RFC 1035 4.1.4)
MAX_NAME = 255  # RFC 1035 2.3.4: octets in a name, length bytes and final zero included

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


_SECTIONS = tuple(Section)  # iterating the enum itself costs a microsecond per message


@dataclass(frozen=True, slots=True)
class WireRecord:
    """One resource record: its section, byte range, type and TTL field."""

    section: Section
    start: int
    end: int
    rtype: int
    ttl: int
    ttl_at: int  # offset of the 32-bit TTL field, for rewriting it in place


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


def question_name(data: bytes, offset: int) -> tuple[tuple[bytes, ...], int]:
    """The lowercased labels of the uncompressed name at `offset`, and the offset after it.

    For a message's first name (the question), where a compression pointer has nothing
    earlier to point at (RFC 1035 4.1.4); WireError when it is compressed, too long or cut.
    """
    start = offset
    size = len(data)
    max_label, max_name = MAX_LABEL, MAX_NAME  # locals: this loop runs for every query
    while True:
        if offset >= size:
            raise WireError("question name runs past the message")
        length = data[offset]
        if length == 0:
            break
        if length > max_label:
            raise WireError("compressed or extended label in the question")
        offset += length + 1
        if offset - start >= max_name or offset > size:
            raise WireError("question name too long or truncated")
    if offset == start:
        return (), offset + 1
    raw = data[start:offset].lower()  # one copy, lowercased once; labels sliced from it
    labels = []
    i = 0
    end = len(raw)
    while i < end:
        length = raw[i]
        labels.append(raw[i + 1 : i + 1 + length])
        i += length + 1
    return tuple(labels), offset + 1


def skip_name(data: bytes, offset: int, limit: int) -> int:
    """The offset after the possibly compressed name at `offset`, which must end by `limit`."""
    first = offset
    while True:
        if offset >= limit:
            raise WireError(f"name at offset {first} runs past its field")
        length = data[offset]
        if length == 0:
            return offset + 1
        if length & POINTER == POINTER:
            if offset + 2 > limit:
                raise WireError(f"compression pointer at offset {offset} is cut short")
            # RFC 1035 4.1.4: a pointer names a prior occurrence.
            if ((length & 0x3F) << 8) | data[offset + 1] >= first:
                raise WireError(f"compression pointer at offset {offset} points forward")
            return offset + 2
        if length > MAX_LABEL:
            raise WireError(f"label type {length >> 6} at offset {offset} is not supported")
        offset += 1 + length


def read_labels(data: bytes, offset: int, limit: int) -> tuple[list[bytes], int]:
    """The labels of the name at `offset`, pointers followed, and the offset after it.

    Each pointer must point before itself and the name it names must end before it, so every
    pointer followed lies before the last one and a loop is impossible; and the
    name may not exceed 255 bytes (RFC 1035 2.3.4, 4.1.4); otherwise WireError.
    """
    labels: list[bytes] = []
    after = -1
    position = offset
    total = 1
    bound = limit
    while True:
        if position >= bound:
            raise WireError(f"name at offset {offset} runs past its field")
        length = data[position]
        if length == 0:
            break
        if length & POINTER == POINTER:
            if position + 2 > bound:
                raise WireError("compression pointer cut short")
            target = ((length & 0x3F) << 8) | data[position + 1]
            # A prior occurrence lies wholly before the pointer: read on only up to it.
            if target >= position:
                raise WireError("compression pointer does not point back")
            if after < 0:
                after = position + 2
            position, bound = target, position
            continue
        if length > MAX_LABEL:
            raise WireError(f"label type {length >> 6} is not supported")
        if position + 1 + length > bound:
            raise WireError("label runs past its field")
        total += 1 + length
        if total > MAX_NAME:
            raise WireError(f"name at offset {offset} is longer than 255 bytes")
        labels.append(data[position + 1 : position + 1 + length])
        position += 1 + length
    return labels, (after if after >= 0 else position + 1)


def question_end(wire: bytes) -> int:
    """The offset after a message's first question; WireError when it does not fit."""
    end = skip_name(wire, HEADER.size, len(wire)) + 4
    if end > len(wire):
        raise WireError("question ends before its type and class")
    return end


def answers(sent: bytes, sent_question_end: int, reply: bytes) -> bool:
    """True when `reply` answers the query `sent`: same id, a response, the same question.

    The question is compared as bytes, the name in any letter case (RFC 4343) and its type and
    class exactly, as CoreDNS's request.Match does; `sent_question_end` is `question_end(sent)`.
    The reply's question is its first name, so it cannot be compressed to look different.
    """
    name_end = sent_question_end - 4
    return (
        len(reply) >= sent_question_end
        and reply[:2] == sent[:2]
        and reply[2] & 0x80 != 0  # QR
        and reply[4:6] == b"\x00\x01"  # exactly one question
        and reply[name_end:sent_question_end] == sent[name_end:sent_question_end]
        and reply[HEADER.size : name_end].lower() == sent[HEADER.size : name_end].lower()
    )


def walk(wire: bytes, *, names: bool = True) -> WireMessage:
    """Walk `wire`; WireError when a count, length, label or pointer does not fit.

    With `names=False` only record boundaries, types and TTLs are found: names are skipped,
    names inside record data are not walked, and `pointers` and `label_starts` are empty. That
    is for callers that never move bytes (the cache rewrites TTLs in place), and it is cheaper.
    """
    if len(wire) < HEADER.size:
        raise WireError(f"message of {len(wire)} bytes is shorter than a header")
    _, flags, qdcount, ancount, nscount, arcount = HEADER.unpack_from(wire)
    if not names:
        return _boundaries(wire, flags, qdcount, (ancount, nscount, arcount))
    walker = _Walker(wire)
    offset = HEADER.size
    for _ in range(qdcount):
        offset = walker.name(offset, len(wire)) + 4
        if offset > len(wire):
            raise WireError("question ends before its type and class")
    question_end = offset
    records: list[WireRecord] = []
    for section, count in zip(_SECTIONS, (ancount, nscount, arcount), strict=True):
        for _ in range(count):
            record = walker.record(section, offset)
            records.append(record)
            offset = record.end
    if offset != len(wire):
        raise WireError(f"{len(wire) - offset} bytes after the last record")
    return WireMessage(
        flags, question_end, tuple(records), tuple(walker.pointers), frozenset(walker.starts)
    )


def _boundaries(wire: bytes, flags: int, qdcount: int, counts: tuple[int, int, int]) -> WireMessage:
    """`walk` without names: the records' boundaries, types and TTL offsets only."""
    size = len(wire)
    offset = HEADER.size
    for _ in range(qdcount):
        offset = skip_name(wire, offset, size) + 4
        if offset > size:
            raise WireError("question ends before its type and class")
    question_end = offset
    records: list[WireRecord] = []
    for section, count in zip(_SECTIONS, counts, strict=True):
        for _ in range(count):
            start = offset
            offset = skip_name(wire, offset, size)
            if offset + FIXED.size > size:
                raise WireError(f"record at offset {start} is cut short")
            rtype, _, ttl, rdlength = FIXED.unpack_from(wire, offset)
            end = offset + FIXED.size + rdlength
            if end > size:
                raise WireError(
                    f"record data at offset {offset + FIXED.size} runs past the message"
                )
            records.append(WireRecord(section, start, end, rtype, ttl, offset + TTL_AFTER_NAME))
            offset = end
    if offset != size:
        raise WireError(f"{size - offset} bytes after the last record")
    return WireMessage(flags, question_end, tuple(records), (), frozenset())


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
            if length & POINTER == POINTER:
                if offset + 2 > limit:
                    raise WireError(f"compression pointer at offset {offset} is cut short")
                target = ((length & 0x3F) << 8) | wire[offset + 1]
                # RFC 1035 4.1.4: a pointer names a prior occurrence.
                if target >= first:
                    raise WireError(f"compression pointer at offset {offset} points forward")
                self.pointers.append(target)
                return offset + 2
            if length > MAX_LABEL:
                raise WireError(f"label type {length >> 6} at offset {offset} is not supported")
            offset += 1 + length

    def record(self, section: Section, offset: int) -> WireRecord:
        """The record starting at `offset`, with the names in its RDATA walked too."""
        start = offset
        offset = self.name(offset, len(self.wire))
        if offset + FIXED.size > len(self.wire):
            raise WireError(f"record at offset {start} is cut short")
        rtype, _, ttl, rdlength = FIXED.unpack_from(self.wire, offset)
        rdata = offset + FIXED.size
        end = rdata + rdlength
        if end > len(self.wire):
            raise WireError(f"record data at offset {rdata} runs past the message")
        self._rdata_names(rtype, rdata, end)
        return WireRecord(section, start, end, rtype, ttl, offset + TTL_AFTER_NAME)

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
