"""What the query log says about a reply: rcode, flags, size, and CoreDNS's response class."""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from clusterdns.dns.message import HEADER, TCP_MAX_MESSAGE, Query, encode_answer
from clusterdns.dns.records import ZONE_TRANSFERS, Rcode, RType
from clusterdns.dns.wire import Section, walk
from clusterdns.errors import WireError
from clusterdns.plugin import Response

CLASSES = ("all", "denial", "error", "success")


class Kind(Enum):
    """CoreDNS's response types (plugin/pkg/response/typify.go)."""

    NOERROR = "NOERROR"
    NXDOMAIN = "NXDOMAIN"
    SERVER_ERROR = "SERVERERROR"
    NODATA = "NODATA"
    DELEGATION = "DELEGATION"
    META = "META"
    OTHER_ERROR = "OTHERERROR"


_CLASS_OF = {
    Kind.NOERROR: "success",
    Kind.DELEGATION: "success",
    Kind.NXDOMAIN: "denial",
    Kind.NODATA: "denial",
}


@dataclass(frozen=True, slots=True)
class ReplyFacts:
    """The reply as the client gets it (before any truncation): rcode, header flags, size."""

    rcode: int
    flags: int
    size: int


def typify(qtype: int, rcode: int, answers: Sequence[int], authority: Sequence[int]) -> Kind:
    """The kind of a reply to `qtype`, from its rcode and the types in two of its sections."""
    if qtype in ZONE_TRANSFERS:
        return Kind.META
    if answers and rcode == Rcode.NOERROR:
        # An A or AAAA question answered without its type (a CNAME alone) is NODATA.
        address = qtype in (RType.A, RType.AAAA)
        return Kind.NODATA if address and qtype not in answers else Kind.NOERROR
    soa = RType.SOA in authority
    if soa and rcode == Rcode.NOERROR:
        return Kind.NODATA
    if soa and rcode == Rcode.NXDOMAIN:
        return Kind.NXDOMAIN
    if rcode in (Rcode.SERVFAIL, Rcode.NOTIMP):
        return Kind.SERVER_ERROR
    if RType.NS in authority and rcode == Rcode.NOERROR:
        return Kind.DELEGATION
    return Kind.NOERROR if rcode == Rcode.NOERROR else Kind.OTHER_ERROR


def classify(query: Query, response: Response) -> str:
    """`success`, `denial` or `error`, as CoreDNS's response.Classify says."""
    return _CLASS_OF.get(kind_of(query, response), "error")


def kind_of(query: Query, response: Response) -> Kind:
    """The kind of `response` to `query`; an unreadable reply is OTHER_ERROR."""
    if response.answer is not None:
        answer = response.answer
        answers: list[int] = [record.rtype for record in answer.answer]
        authority: list[int] = [record.rtype for record in answer.authority]
        return typify(query.qtype, answer.rcode, answers, authority)
    try:
        message = walk(response.wire or b"")
    except WireError:
        return Kind.OTHER_ERROR
    answers = [record.rtype for record in message.section(Section.ANSWER)]
    authority = [record.rtype for record in message.section(Section.AUTHORITY)]
    return typify(query.qtype, message.rcode, answers, authority)


def reply_facts(query: Query, response: Response) -> ReplyFacts | None:
    """Rcode, flags and size of the reply; None when there is no readable header."""
    if response.answer is not None:
        # CoreDNS's {rsize} is the size before the server cuts a reply to fit UDP.
        wire = response.encoded or encode_answer(query, response.answer, TCP_MAX_MESSAGE)
        flags = int.from_bytes(wire[2:4], "big")
        return ReplyFacts(int(response.answer.rcode), flags, len(wire))
    wire = response.wire or b""
    if len(wire) < HEADER.size:
        return None
    flags = int.from_bytes(wire[2:4], "big")
    try:
        rcode = walk(wire).rcode
    except WireError:
        rcode = flags & 0xF
    return ReplyFacts(rcode, flags, len(wire))
