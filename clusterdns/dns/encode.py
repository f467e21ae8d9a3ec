"""Response encoding straight to bytes: header, the client's question, records, OPT.

This is the general path's encoder: no object graph per record, names compressed
against a per-message table of suffixes (RFC 1035 4.1.4), and each name's labels made once
and memoised, so a miss costs a few microseconds per record instead of a dnslib pack.
"""

import socket
import struct
from functools import lru_cache

from clusterdns.dns.records import Address, Answer, Mx, Record, RType, Soa, Srv, Target, Txt

_FIXED = struct.Struct("!HHIH")  # type, class, ttl, rdlength
_SOA_TAIL = struct.Struct("!IIIII")
_SRV_HEAD = struct.Struct("!HHH")
_COUNTS = struct.Struct("!HHHH")
_MAX_POINTER = 0x3FFF  # a compression pointer has 14 bits of offset (RFC 1035 4.1.4)
_CLASS_IN = 1
_POINTERS = tuple((0xC000 | offset).to_bytes(2, "big") for offset in range(_MAX_POINTER + 1))

# The data each record type carries; any other pairing is a bug, not a reply.
_DATA_OF: dict[int, type] = {
    RType.A: Address,
    RType.AAAA: Address,
    RType.CNAME: Target,
    RType.PTR: Target,
    RType.NS: Target,
    RType.SRV: Srv,
    RType.TXT: Txt,
    RType.SOA: Soa,
    RType.MX: Mx,
}

# Per suffix of a name: the suffix as a key for the compression table, and the wire label.
NameParts = tuple[tuple[tuple[bytes, ...], bytes], ...]


@lru_cache(maxsize=8192)
def name_parts(name: str) -> NameParts:
    """The labels of absolute name `name` (\\DDD and \\X escapes decoded), suffix by suffix.

    Memoised: the same owner and target names recur in every answer that carries them. A label
    that is not ASCII is IDNA-encoded, as dnslib (the previous encoder) did; an empty label or
    one over 63 bytes raises ValueError, so the query gets SERVFAIL instead of a broken reply.
    """
    labels = _labels(name)
    if sum(len(label) + 1 for label in labels) + 1 > 255:
        raise ValueError(f"name {name!r} is longer than 255 bytes")
    return tuple((labels[i:], bytes((len(labels[i]),)) + labels[i]) for i in range(len(labels)))


def _labels(name: str) -> tuple[bytes, ...]:
    text = name[:-1] if name.endswith(".") and not name.endswith("\\.") else name
    if not text:
        return ()
    if "\\" not in text:
        parts = [_label_bytes(part) for part in text.split(".")]
    else:
        parts = _escaped_labels(text)
    for part in parts:
        if not part or len(part) > 63:
            raise ValueError(f"name {name!r} has an empty label or one over 63 bytes")
    return tuple(parts)


def _label_bytes(label: str) -> bytes:
    try:
        return label.encode("ascii")
    except UnicodeEncodeError:
        return label.encode("idna")


def _escaped_labels(text: str) -> list[bytes]:
    """Split on unescaped dots and decode \\DDD and \\X (RFC 1035 5.1, RFC 4343 2.1)."""
    parts: list[bytes] = []
    current = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and text[i + 1 : i + 4].isdigit() and len(text[i + 1 : i + 4]) == 3:
            current.append(int(text[i + 1 : i + 4]) & 0xFF)
            i += 4
        elif char == "\\" and i + 1 < len(text):
            current += _label_bytes(text[i + 1])
            i += 2
        elif char == ".":
            parts.append(bytes(current))
            current = bytearray()
            i += 1
        else:
            current += _label_bytes(char)
            i += 1
    parts.append(bytes(current))
    return parts


class Writer:
    """One message being written: its bytes and the offsets of the names written so far."""

    __slots__ = ("out", "names")

    def __init__(self, out: bytearray, names: dict[tuple[bytes, ...], int]) -> None:
        self.out = out
        self.names = names

    def name(self, name: str, compress: bool = True) -> None:
        """Write `name`, ending in a pointer to an earlier copy of its longest known suffix."""
        out = self.out
        names = self.names
        if not compress:
            # Neither compressed nor a target for later pointers, as dnslib (and BIND) do.
            for _, label in name_parts(name):
                out += label
            out.append(0)
            return
        for key, label in name_parts(name):
            offset = names.get(key)
            if offset is not None:
                out += _POINTERS[offset]
                return
            if len(out) <= _MAX_POINTER:
                names[key] = len(out)
            out += label
        out.append(0)

    def record(self, record: Record) -> None:
        """Write one resource record of class IN."""
        out = self.out
        self.name(record.name)
        rtype = int(record.rtype)
        fixed = len(out)
        out += _FIXED.pack(rtype, _CLASS_IN, record.ttl, 0)
        start = len(out)
        data = record.data
        if _DATA_OF.get(rtype) is not type(data):
            raise ValueError(f"{record.name} type {rtype} cannot carry {type(data).__name__}")
        if isinstance(data, Address):
            family = socket.AF_INET6 if rtype == RType.AAAA else socket.AF_INET
            out += socket.inet_pton(family, data.address)
        elif isinstance(data, Target):
            self.name(data.target)
        elif isinstance(data, Srv):
            # RFC 2782: the SRV target is never compressed.
            out += _SRV_HEAD.pack(data.priority, data.weight, data.port)
            self.name(data.target, compress=False)
        elif isinstance(data, Txt):
            for string in data.strings:
                encoded = string.encode()
                if len(encoded) > 255:
                    raise ValueError("a TXT character-string is longer than 255 bytes")
                out.append(len(encoded))
                out += encoded
        elif isinstance(data, Mx):
            out += data.preference.to_bytes(2, "big")
            self.name(data.exchange)  # RFC 1035 3.3.9: a compressible domain name
        elif isinstance(data, Soa):
            self.name(data.mname)
            self.name(data.rname)
            out += _SOA_TAIL.pack(data.serial, data.refresh, data.retry, data.expire, data.minimum)
        struct.pack_into("!H", out, fixed + 8, len(out) - start)


def question_names(labels: tuple[bytes, ...]) -> dict[tuple[bytes, ...], int]:
    """The compression table after a question for `labels` written at offset 12."""
    names: dict[tuple[bytes, ...], int] = {}
    offset = 12
    for i in range(len(labels)):
        names[labels[i:]] = offset
        offset += len(labels[i]) + 1
    return names


def encode_records(
    head: bytes, labels: tuple[bytes, ...], answer: Answer, budget: int
) -> tuple[bytearray, tuple[int, int, int], bool]:
    """`head` (header and question) followed by as many of `answer`'s records as fit `budget`.

    Returns the bytes, the count per section, and whether an answer record was left out
    (RFC 2181 9: only that sets TC). Records are written in order and the message ends after
    the last one that fits, as CoreDNS's Scrub keeps what fits.
    """
    writer = Writer(bytearray(head), question_names(labels))
    out = writer.out
    counts = [0, 0, 0]
    truncated = False
    for index, section in enumerate((answer.answer, answer.authority, answer.additional)):
        for record in section:
            mark = len(out)
            writer.record(record)
            if len(out) > budget:
                # Nothing is written after this point, so no later name points into it.
                del out[mark:]
                truncated = index == 0
                return out, (counts[0], counts[1], counts[2]), truncated
            counts[index] += 1
    return out, (counts[0], counts[1], counts[2]), truncated


def finish(out: bytearray, counts: tuple[int, int, int], opt: bytes, truncated: bool) -> bytes:
    """Set the counts (and TC) in `out`'s header and append `opt`."""
    if truncated:
        out[2] |= 0x02
    _COUNTS.pack_into(out, 4, 1, counts[0], counts[1], counts[2] + (1 if opt else 0))
    out += opt
    return bytes(out)
