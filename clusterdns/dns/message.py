"""DNS wire format: strict query decoding, response encoding with truncation; the only dnslib user.

Queries are decoded by hand (header, one question, OPT): it is a few dozen lines, several times
faster than a full dnslib parse, and lets every malformed part map to the rcode RFC 1035/6891
ask for. Responses are encoded by dns.encode; dnslib only reads upstream records.
"""

import struct
from dataclasses import dataclass

from dnslib import CLASS, DNSRecord

from clusterdns.dns.encode import encode_records, finish
from clusterdns.dns.records import Address, Answer, Rcode, Record, RType, Soa, Target, Txt
from clusterdns.dns.wire import FIXED, Section, question_name, skip_name, walk
from clusterdns.dns.wire import HEADER as HEADER  # defined in wire; re-exported for callers
from clusterdns.errors import HeaderError, QueryRejected, WireError

_OPT = struct.Struct("!BHHIH")  # root name, type OPT, payload, ext-rcode/version/flags, rdlen
UDP_MIN_PAYLOAD = 512  # RFC 1035 4.2.1; RFC 6891 6.2.5: treat smaller EDNS sizes as 512
# Replies over UDP never exceed this, whatever the client advertises: a 55-byte query must
# not buy a 25 kB reply (reflection), and 4096 is what BIND and Unbound default to.
UDP_MAX_PAYLOAD = 4096
TCP_MAX_MESSAGE = 65535
_SAFE_BYTES = b"abcdefghijklmnopqrstuvwxyz0123456789-_*"
_SAFE = frozenset(_SAFE_BYTES)


@dataclass(frozen=True, slots=True)
class Edns:
    """The client's OPT record: advertised UDP payload, DO bit, EDNS version."""

    payload: int
    do: bool
    version: int


@dataclass(frozen=True, slots=True)
class Query:
    """A decoded query: header fields, the one question (lowercased), EDNS, and its own bytes."""

    id: int
    flags: int
    labels: tuple[bytes, ...]
    name: str
    qtype: int
    qclass: int
    edns: Edns | None
    wire: bytes
    question_end: int

    @property
    def recursion_desired(self) -> bool:
        """The RD bit."""
        return bool(self.flags & 0x0100)

    @property
    def checking_disabled(self) -> bool:
        """The CD bit."""
        return bool(self.flags & 0x0010)

    def max_udp_size(self) -> int:
        """The largest UDP reply the client accepts (RFC 6891 6.2.3)."""
        if self.edns is None:
            return UDP_MIN_PAYLOAD
        return min(UDP_MAX_PAYLOAD, max(UDP_MIN_PAYLOAD, self.edns.payload))


def decode_query(data: bytes) -> Query:
    """Decode a query; HeaderError means drop it, QueryRejected means answer with its rcode."""
    if len(data) < HEADER.size:
        raise HeaderError(f"message of {len(data)} bytes is shorter than a header")
    ident, flags, qdcount, ancount, nscount, arcount = HEADER.unpack_from(data)
    if flags & 0x8000:
        raise HeaderError("message is a response, not a query")
    if (flags >> 11) & 0xF != 0:
        raise QueryRejected(Rcode.NOTIMP, f"opcode {(flags >> 11) & 0xF} is not QUERY")
    if qdcount != 1:
        raise QueryRejected(Rcode.FORMERR, f"{qdcount} questions, want exactly 1")
    if ancount or nscount:
        raise QueryRejected(Rcode.FORMERR, "a query with answer or authority records")
    try:
        labels, offset = question_name(data, HEADER.size)
    except WireError as exc:
        raise QueryRejected(Rcode.FORMERR, str(exc)) from None
    if offset + 4 > len(data):
        raise QueryRejected(Rcode.FORMERR, "question ends before its type and class")
    qtype, qclass = struct.unpack_from("!HH", data, offset)
    question_end = offset + 4
    edns = _read_additional(data, question_end, arcount)
    return Query(ident, flags, labels, _name_text(labels), qtype, qclass, edns, data, question_end)


def _read_additional(data: bytes, offset: int, count: int) -> Edns | None:
    edns: Edns | None = None
    for _ in range(count):
        is_root = offset < len(data) and data[offset] == 0
        if is_root:
            offset += 1  # the usual owner here: OPT's root name, no need to walk it
        else:
            try:
                offset = skip_name(data, offset, len(data))
            except WireError as exc:
                raise QueryRejected(Rcode.FORMERR, f"additional section: {exc}") from None
        if offset + FIXED.size > len(data):
            raise QueryRejected(Rcode.FORMERR, "truncated additional record")
        rtype, rclass, ttl, rdlength = FIXED.unpack_from(data, offset)
        offset += FIXED.size
        end = offset + rdlength
        if end > len(data):
            raise QueryRejected(Rcode.FORMERR, "additional record data runs past the message")
        if rtype == RType.OPT:
            if edns is not None or not is_root:
                raise QueryRejected(Rcode.FORMERR, "more than one OPT, or OPT not at the root")
            _check_options(data, offset, end)
            edns = Edns(rclass, bool(ttl & 0x8000), (ttl >> 16) & 0xFF)
        offset = end
    if offset != len(data):
        raise QueryRejected(Rcode.FORMERR, f"{len(data) - offset} bytes after the last record")
    return edns


def _check_options(data: bytes, offset: int, end: int) -> None:
    """RFC 6891 6.1.2: options are {code, length, data} triples filling RDATA exactly."""
    while offset < end:
        if offset + 4 > end:
            raise QueryRejected(Rcode.FORMERR, "truncated EDNS option header")
        (length,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + length
    if offset != end:
        raise QueryRejected(Rcode.FORMERR, "EDNS option runs past the OPT record")


def _name_text(labels: tuple[bytes, ...]) -> str:
    """Presentation form of lowercased labels; unusual bytes escaped as \\DDD (RFC 4343 2.1)."""
    if not labels:
        return "."
    joined = b".".join(labels)
    if joined.translate(None, _SAFE_BYTES) == b"." * (len(labels) - 1):
        return joined.decode("ascii") + "."  # the usual case: only separators are left
    parts = []
    for label in labels:
        if _SAFE.issuperset(label):
            parts.append(label.decode("ascii"))
        else:
            parts.append("".join(chr(b) if b in _SAFE else f"\\{b:03d}" for b in label))
    return ".".join(parts) + "."


def error_reply(data: bytes, rcode: int) -> bytes:
    """A header-only reply carrying `rcode`, for queries that cannot be processed."""
    ident, flags = struct.unpack_from("!HH", data)
    reply_flags = 0x8000 | (flags & 0x7900) | (rcode & 0xF)  # QR, opcode and RD kept
    return HEADER.pack(ident, reply_flags, 0, 0, 0, 0)


BIG_ANSWER = 64  # records from which an encoding is worth keeping for the next query
BODIES_KEPT = 128
# (answer's id, question labels that names may point at, budget, question end)
#   -> (the answer, bytes after the question, counts, TC)
BodyMemo = dict[
    tuple[int, tuple[bytes, ...], int, int], tuple[Answer, bytes, tuple[int, int, int], bool]
]


def encode_answer(
    query: Query, answer: Answer, max_size: int, bodies: BodyMemo | None = None
) -> bytes:
    """Encode `answer` to `query`, cut to `max_size` bytes.

    Records are packed once, in order, and the message ends after the last one that fits
    (CoreDNS request.Scrub keeps what fits too). TC is set only when an answer record was
    left out (RFC 2181 9). The question is written with the client's own bytes (its letter
    case), and owner names equal to the question compress to a pointer at it, so the client
    sees its own case. With `bodies`, big answers and negative answers (shared objects, see
    `kubernetes.answer.negative_answer`) reuse their encoding from earlier queries.
    """
    opt = opt_bytes(query.edns, int(answer.rcode)) if query.edns is not None else b""
    flags = (
        0x8000
        | (query.flags & 0x0110)  # RD and CD copied (RFC 1035 4.1.1, RFC 4035 3.2.2)
        | (0x0400 if answer.authoritative else 0)
        | (0x0080 if answer.recursion_available else 0)
        | (int(answer.rcode) & 0xF)
    )
    head = HEADER.pack(query.id, flags, 1, 0, 0, 0) + query.wire[HEADER.size : query.question_end]
    budget = max_size - len(opt)
    if bodies is not None:
        if len(answer.answer) >= BIG_ANSWER:
            return _encode_kept(head, query.labels, query, answer, budget, opt, bodies)
        if not answer.answer:
            tail = query.labels[-_name_depth(answer) :]
            return _encode_kept(head, tail, query, answer, budget, opt, bodies)
    out, counts, truncated = encode_records(head, query.labels, answer, budget)
    return finish(out, counts, opt, truncated)


def _name_depth(answer: Answer) -> int:
    """The most labels of any name in `answer`'s records (how far back a pointer may reach)."""
    depth = 1
    for record in answer.authority + answer.additional:
        depth = max(depth, record.name.count("."))
        data = record.data
        if isinstance(data, Soa):
            depth = max(depth, data.mname.count("."), data.rname.count("."))
        elif isinstance(data, Target):
            depth = max(depth, data.target.count("."))
        elif not isinstance(data, Address | Txt):
            return 255  # other names (SRV, MX): key by the whole question
    return depth


def _encode_kept(
    head: bytes,
    tail: tuple[bytes, ...],
    query: Query,
    answer: Answer,
    budget: int,
    opt: bytes,
    bodies: BodyMemo,
) -> bytes:
    """Records encoded once per (answer, question layout, size) and reused.

    Names in the records point only at the question or at each other. A pointer into the
    question can only reach its last `len(tail)` labels (no record name has more), and the
    question's length fixes where those sit and where the records start, so the bytes after
    the question serve every question of that length ending in `tail`, in any letter case.
    """
    key = (id(answer), tail, budget, query.question_end)
    found = bodies.get(key)
    if found is None or found[0] is not answer:
        out, counts, truncated = encode_records(head, query.labels, answer, budget)
        if len(bodies) >= BODIES_KEPT:
            bodies.pop(next(iter(bodies)))
        found = (answer, bytes(out[len(head) :]), counts, truncated)
        bodies[key] = found
    return finish(bytearray(head) + found[1], found[2], opt, found[3])


def splice_question(query: Query, wire: bytes) -> bytes:
    """`wire` (encoded for the lowercased question) with the client's id and question bytes."""
    own = query.wire[HEADER.size : query.question_end]
    if wire[HEADER.size : HEADER.size + len(own)].lower() != own.lower():
        return query.wire[:2] + wire[2:]
    return query.wire[:2] + wire[2 : HEADER.size] + own + wire[HEADER.size + len(own) :]


def opt_bytes(edns: Edns, rcode: int) -> bytes:
    """Our OPT record (RFC 6891 6.1.2): a fresh one, as CoreDNS's SizeAndDo makes it.

    The payload size we honour (512..4096), the DO bit echoed, version 0, the upper rcode
    bits, and no options: the client's options (COOKIE, padding, client-subnet...) are not
    echoed, and no server cookie is added (RFC 7873 5.2: a server that does not implement
    cookies answers as if the option were absent).
    """
    payload = min(UDP_MAX_PAYLOAD, max(UDP_MIN_PAYLOAD, edns.payload))
    return _OPT.pack(0, 41, payload, (rcode >> 4) << 24 | (0x8000 if edns.do else 0), 0)


@dataclass(frozen=True, slots=True)
class ReplySummary:
    """What an upstream reply says about itself: enough to check it matches the question."""

    id: int
    truncated: bool
    rcode: int
    name: str
    qtype: int
    qclass: int


def summarize_reply(data: bytes) -> ReplySummary:
    """Header and question of a reply; HeaderError when it is not a well-formed response."""
    if len(data) < HEADER.size:
        raise HeaderError("reply shorter than a header")
    ident, flags, qdcount, _, _, _ = HEADER.unpack_from(data)
    if not flags & 0x8000 or qdcount != 1:
        raise HeaderError("not a response to one question")
    try:
        labels, offset = question_name(data, HEADER.size)
    except WireError as exc:
        raise HeaderError(str(exc)) from None
    if offset + 4 > len(data):
        raise HeaderError("reply question truncated")
    qtype, qclass = struct.unpack_from("!HH", data, offset)
    return ReplySummary(ident, bool(flags & 0x0200), flags & 0xF, _name_text(labels), qtype, qclass)


def with_id(wire: bytes, ident: int) -> bytes:
    """`wire` with its message id replaced."""
    return struct.pack("!H", ident) + wire[2:]


def truncate_reply(wire: bytes, max_size: int) -> bytes:
    """A foreign reply cut to fit `max_size`: the answers that fit, its OPT kept, TC set.

    Walks record boundaries in the bytes (dns.wire) instead of decoding: linear in the
    reply's size, however many records it holds (RFC 2181 9).
    """
    try:
        message = walk(wire)
    except WireError:
        return _header_only_tc(wire)
    opt = b"".join(
        wire[r.start : r.end] for r in message.section(Section.ADDITIONAL) if r.rtype == RType.OPT
    )
    budget = max_size - len(opt)
    cut, kept = message.question_end, 0
    for record in message.section(Section.ANSWER):
        if record.end > budget:
            break
        cut, kept = record.end, kept + 1
    head = bytearray(wire[:cut])
    head[2] |= 0x02
    struct.pack_into("!HHH", head, 6, kept, 0, 1 if opt else 0)
    return bytes(head) + opt


def _header_only_tc(wire: bytes) -> bytes:
    ident, flags = struct.unpack_from("!HH", wire)
    return HEADER.pack(ident, flags | 0x0200, 0, 0, 0, 0)


def encode_query(
    name: str, qtype: int, ident: int, flags: int = 0x0100, edns: Edns | None = None
) -> bytes:
    """The bytes of a query for `name` (absolute, ASCII labels) with these header flags."""
    labels = [label.encode("ascii") for label in name.rstrip(".").split(".") if label]
    wire = HEADER.pack(ident, flags, 1, 0, 0, 1 if edns else 0)
    wire += b"".join(bytes((len(label),)) + label for label in labels) + b"\x00"
    wire += struct.pack("!HH", qtype, CLASS.IN)
    if edns is not None:
        do = 0x8000 if edns.do else 0
        wire += b"\x00" + struct.pack("!HHIH", RType.OPT, edns.payload, do, 0)
    return wire


def make_query(name: str, qtype: int, template: Query) -> Query:
    """A query for `name`/`qtype` with `template`'s id, RD/CD bits and EDNS (to chase a CNAME)."""
    flags = template.flags & 0x0110  # RD and CD
    return decode_query(encode_query(name, qtype, template.id, flags, template.edns))


def answer_records(wire: bytes) -> tuple[Rcode, tuple[Record, ...]]:
    """The rcode and the answer-section records of a reply (types clusterdns can carry)."""
    try:
        message = DNSRecord.parse(wire)
    except Exception:  # dnslib raises several types for bad input; any means "no records"
        return Rcode.SERVFAIL, ()
    records = []
    for rr in message.rr:
        name = str(rr.rname).lower()
        rtype = rr.rtype
        if rtype in (RType.A, RType.AAAA):
            records.append(Record(name, RType(rtype), rr.ttl, Address(str(rr.rdata))))
        elif rtype in (RType.CNAME, RType.PTR, RType.NS):
            records.append(Record(name, RType(rtype), rr.ttl, Target(str(rr.rdata.label).lower())))
        elif rtype == RType.TXT:
            strings = tuple(part.decode("utf-8", "replace") for part in rr.rdata.data)
            records.append(Record(name, RType.TXT, rr.ttl, Txt(strings)))
    try:
        rcode = Rcode(message.header.rcode)
    except ValueError:
        rcode = Rcode.SERVFAIL
    return rcode, tuple(records)
