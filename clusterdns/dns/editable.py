"""A DNS message's bytes as editable records, and back: names as text, re-compressed.

`rewrite` changes owner names, names inside record data, TTLs, the rcode and the question of
replies that arrive as bytes (from forward or cache); `template` builds replies from records.
Changing a name's length moves every byte after it and breaks compression pointers (RFC 1035
4.1.4), so a reply is read into records with names as text and written again, compressing
names where RFC 1035 allows it. No dnslib: this is on the per-query path.
"""

import struct
from dataclasses import dataclass, replace

from clusterdns.dns.records import RType
from clusterdns.dns.wire import FIXED, HEADER, Section, read_labels
from clusterdns.errors import WireError

# Data layouts holding names: (bytes before the names, number of names). Only these RFC 1035
# types may be compressed (RFC 3597 4); SRV (RFC 2782) and DNAME names are written in full.
_NAMED = {2: (0, 1), 5: (0, 1), 6: (0, 2), 12: (0, 1), 15: (2, 1), 33: (6, 1), 39: (0, 1)}
_COMPRESSIBLE = frozenset({2, 5, 6, 12, 15})
# Whose data name `answer value` rewrites (CoreDNS getRecordValueForRewrite; SOA: the mname).
VALUE_TYPES = frozenset({2, 5, 6, 12, 15, 33, 39})
_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_*/")


@dataclass(frozen=True, slots=True)
class Rr:
    """One record: owner as text, data split into fixed bytes, names (text) and trailing bytes."""

    section: Section
    name: str
    rtype: int
    rclass: int
    ttl: int
    head: bytes  # data before the names (MX preference, SRV priority/weight/port)
    names: tuple[str, ...]
    tail: bytes  # data after the names (SOA counters), or all of it for other types


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply as values: id, flags (rcode in the low bits), question, records in order."""

    id: int
    flags: int
    question: tuple[str, int, int]
    records: tuple[Rr, ...]

    def section(self, section: Section) -> tuple[Rr, ...]:
        """The records of one section."""
        return tuple(r for r in self.records if r.section is section)


def read(wire: bytes) -> Reply:
    """The records of `wire`; WireError when it does not hold exactly one question and records."""
    if len(wire) < HEADER.size:
        raise WireError("reply shorter than a header")
    ident, flags, qdcount, ancount, nscount, arcount = HEADER.unpack_from(wire)
    if qdcount != 1:
        raise WireError(f"{qdcount} questions in a reply")
    qname, offset = _read_name(wire, HEADER.size)
    if offset + 4 > len(wire):
        raise WireError("question cut short")
    qtype, qclass = struct.unpack_from("!HH", wire, offset)
    offset += 4
    records = []
    for section, count in zip(Section, (ancount, nscount, arcount), strict=True):
        for _ in range(count):
            record, offset = _read_record(wire, offset, section)
            records.append(record)
    if offset != len(wire):
        raise WireError("bytes after the last record")
    return Reply(ident, flags, (qname, qtype, qclass), tuple(records))


def _read_record(wire: bytes, offset: int, section: Section) -> tuple[Rr, int]:
    name, offset = _read_name(wire, offset)
    if offset + FIXED.size > len(wire):
        raise WireError("record cut short")
    rtype, rclass, ttl, length = FIXED.unpack_from(wire, offset)
    start = offset + FIXED.size
    end = start + length
    if end > len(wire):
        raise WireError("record data runs past the message")
    layout = _NAMED.get(rtype)
    if layout is None:
        return Rr(section, name, rtype, rclass, ttl, b"", (), wire[start:end]), end
    fixed, count = layout
    if start + fixed > end:
        raise WireError(f"type {rtype} data cut short")
    position, names = start + fixed, []
    for _ in range(count):
        found, position = _read_name(wire, position, end)
        names.append(found)
    head, tail = wire[start : start + fixed], wire[position:end]
    if rtype == RType.SOA and len(tail) != 20:
        raise WireError("SOA data has the wrong length")
    return Rr(section, name, rtype, rclass, ttl, head, tuple(names), tail), end


def _read_name(wire: bytes, offset: int, limit: int | None = None) -> tuple[str, int]:
    """The name at `offset` as text, and the offset after it (after the first pointer)."""
    labels, end = read_labels(wire, offset, len(wire) if limit is None else limit)
    return (".".join(map(_label_text, labels)) + "." if labels else "."), end


def _label_text(label: bytes) -> str:
    if _SAFE.issuperset(label):
        return label.decode("ascii")
    return "".join(chr(b) if b in _SAFE else f"\\{b:03d}" for b in label)


def name_labels(name: str) -> list[bytes]:
    """The labels of a presentation-form name (\\DDD and \\X escapes, RFC 1035 5.1)."""
    if "\\" not in name:
        return [label.encode("latin-1", "replace") for label in name.split(".") if label]
    labels: list[bytes] = []
    current = bytearray()
    index = 0
    while index < len(name):
        char = name[index]
        if char == "\\":
            digits = name[index + 1 : index + 4]
            if len(digits) == 3 and digits.isdigit():
                current.append(int(digits) & 0xFF)
                index += 4
                continue
            if index + 1 < len(name):
                current.extend(name[index + 1].encode("latin-1", "replace"))
            index += 2
            continue
        if char == ".":
            if current:
                labels.append(bytes(current))
            current = bytearray()
        else:
            current.extend(char.encode("latin-1", "replace"))
        index += 1
    if current:
        labels.append(bytes(current))
    return labels


def valid_name(name: str) -> bool:
    """True when `name` fits DNS limits: labels up to 63 bytes, 255 in all (RFC 1035 2.3.4)."""
    labels = name_labels(name)
    return all(len(label) <= 63 for label in labels) and sum(len(x) + 1 for x in labels) + 1 <= 255


class _Writer:
    """Writes names with compression against every name (suffix) written before."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.offsets: dict[tuple[bytes, ...], int] = {}

    def name(self, name: str, compress: bool = True) -> None:
        labels = name_labels(name)
        for index in range(len(labels)):
            key = tuple(label.lower() for label in labels[index:])
            found = self.offsets.get(key) if compress else None
            if found is not None:
                self.out += struct.pack("!H", 0xC000 | found)
                return
            if len(self.out) < 0x4000:
                self.offsets.setdefault(key, len(self.out))
            self.out.append(len(labels[index]))
            self.out += labels[index]
        self.out.append(0)

    def record(self, rr: Rr) -> None:
        self.name(rr.name)
        fixed = len(self.out)
        self.out += FIXED.pack(rr.rtype, rr.rclass, rr.ttl, 0)
        data = len(self.out)
        self.out += rr.head
        for name in rr.names:
            self.name(name, rr.rtype in _COMPRESSIBLE)
        self.out += rr.tail
        struct.pack_into("!H", self.out, fixed + 8, len(self.out) - data)


def write(reply: Reply, question: bytes) -> bytes:
    """`reply` as bytes, with `question` (the client's own name, type and class) as its question."""
    sections = [reply.section(s) for s in Section]
    writer = _Writer()
    writer.out += HEADER.pack(reply.id, reply.flags, 1, *(len(s) for s in sections))
    writer.out += question
    qname_end = len(question) - 4
    # Names equal to (or under) the question's compress to it: the client sees its own case.
    labels, position = _labels_at(question[:qname_end]), HEADER.size
    for index, label in enumerate(labels):
        writer.offsets[tuple(x.lower() for x in labels[index:])] = position
        position += 1 + len(label)
    for records in sections:
        for rr in records:
            writer.record(rr)
    return bytes(writer.out)


def _labels_at(name: bytes) -> list[bytes]:
    labels, position = [], 0
    while position < len(name) and name[position]:
        length = name[position]
        labels.append(name[position + 1 : position + 1 + length])
        position += 1 + length
    return labels


def with_rcode(reply: Reply, rcode: int) -> Reply:
    """`reply` with `rcode`: low four bits in the header, the rest in its OPT (RFC 6891 6.1.3)."""
    flags = (reply.flags & ~0xF) | (rcode & 0xF)
    records = tuple(
        replace(r, ttl=(r.ttl & 0x00FFFFFF) | ((rcode >> 4) << 24)) if r.rtype == RType.OPT else r
        for r in reply.records
    )
    return replace(reply, flags=flags, records=records)


def full_rcode(reply: Reply) -> int:
    """The reply's rcode including the OPT record's upper bits."""
    for record in reply.records:
        if record.rtype == RType.OPT:
            return ((record.ttl >> 24) << 4) | (reply.flags & 0xF)
    return reply.flags & 0xF
