"""Replies as the query log sees them: CoreDNS's response types and classes, rcode, flags, size."""

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from clusterdns.dns.message import encode_answer
from clusterdns.dns.records import Address, Answer, Rcode, Record, RType, Soa, Target
from clusterdns.plugin import Response
from clusterdns.plugins.log.reply import Kind, ReplyFacts, classify, kind_of, reply_facts, typify
from tests.plugins.log.conftest import build_request

A, AAAA, CNAME, NS, SOA, TXT = 1, 28, 5, 2, 6, 16


@pytest.mark.parametrize(
    ("qtype", "rcode", "answers", "authority", "kind", "klass"),
    [
        pytest.param(A, 0, [A], [], Kind.NOERROR, "success", id="address"),
        pytest.param(A, 0, [CNAME, A], [], Kind.NOERROR, "success", id="cname-and-address"),
        pytest.param(A, 0, [CNAME], [], Kind.NODATA, "denial", id="cname-only-for-address"),
        pytest.param(TXT, 0, [CNAME], [], Kind.NOERROR, "success", id="cname-only-for-txt"),
        pytest.param(AAAA, 0, [], [SOA], Kind.NODATA, "denial", id="nodata"),
        pytest.param(A, 3, [], [SOA], Kind.NXDOMAIN, "denial", id="nxdomain"),
        pytest.param(A, 3, [], [], Kind.OTHER_ERROR, "error", id="nxdomain-without-soa"),
        pytest.param(A, 2, [], [], Kind.SERVER_ERROR, "error", id="servfail"),
        pytest.param(A, 4, [], [], Kind.SERVER_ERROR, "error", id="notimp"),
        pytest.param(A, 5, [], [], Kind.OTHER_ERROR, "error", id="refused"),
        pytest.param(A, 1, [], [], Kind.OTHER_ERROR, "error", id="formerr"),
        pytest.param(A, 0, [], [NS], Kind.DELEGATION, "success", id="delegation"),
        pytest.param(A, 0, [], [], Kind.NOERROR, "success", id="empty-noerror"),
        pytest.param(252, 0, [SOA], [], Kind.META, "error", id="axfr"),
        pytest.param(A, 16, [], [], Kind.OTHER_ERROR, "error", id="badvers"),
    ],
)
def test_typify_and_classify(
    qtype: int, rcode: int, answers: list[int], authority: list[int], kind: Kind, klass: str
) -> None:
    assert typify(qtype, rcode, answers, authority) == kind
    assert classify_kind(kind) == klass


def classify_kind(kind: Kind) -> str:
    """The class CoreDNS gives `kind`, through a structured answer of that kind."""
    soa = Record("example.org.", RType.SOA, 30, Soa("ns.", "hm.", 1, 2, 3, 4, 30))
    ns = Record("example.org.", RType.NS, 30, Target("ns.example.org."))
    address = Record("example.org.", RType.A, 30, Address("10.0.0.1"))
    cname = Record("example.org.", RType.CNAME, 30, Target("web.example.org."))
    answers = {
        Kind.NOERROR: Answer(Rcode.NOERROR, (address,)),
        Kind.NODATA: Answer(Rcode.NOERROR, (cname,)),
        Kind.NXDOMAIN: Answer(Rcode.NXDOMAIN, authority=(soa,)),
        Kind.SERVER_ERROR: Answer(Rcode.SERVFAIL),
        Kind.OTHER_ERROR: Answer(Rcode.REFUSED),
        Kind.DELEGATION: Answer(Rcode.NOERROR, authority=(ns,)),
    }
    qtype = "AXFR" if kind is Kind.META else "A"
    response = Response("x", answer=answers.get(kind, Answer(Rcode.NOERROR)))
    request = build_request(qtype=qtype)
    assert kind_of(request.query, response) == kind
    return classify(request.query, response)


def rrset(line: str) -> dns.rrset.RRset:
    """An RRset of one record from a zone-file line."""
    name, ttl, rdclass, rdtype, data = line.split(maxsplit=4)
    return dns.rrset.from_text(name, int(ttl), rdclass, rdtype, data)


def wire_reply(
    rcode: int = 0, records: tuple[str, ...] = (), authority: tuple[str, ...] = ()
) -> bytes:
    """A dnspython reply to `example.org. A` with zone-file `records`, as bytes."""
    query = dns.message.make_query("example.org.", "A", use_edns=0)
    query.id = 28631
    reply = dns.message.make_response(query)
    reply.flags |= dns.flags.RA
    reply.set_rcode(dns.rcode.Rcode(rcode))
    for line in records:
        reply.answer.append(rrset(line))
    for line in authority:
        reply.authority.append(rrset(line))
    return reply.to_wire()


SOA_LINE = "example.org. 30 IN SOA ns.example.org. hostmaster.example.org. 1 2 3 4 30"


@pytest.mark.parametrize(
    ("wire", "kind"),
    [
        pytest.param(wire_reply(0, ("example.org. 30 IN A 10.0.0.1",)), Kind.NOERROR, id="answer"),
        pytest.param(wire_reply(3, (), (SOA_LINE,)), Kind.NXDOMAIN, id="nxdomain"),
        pytest.param(wire_reply(0, (), (SOA_LINE,)), Kind.NODATA, id="nodata"),
        pytest.param(wire_reply(2), Kind.SERVER_ERROR, id="servfail"),
        pytest.param(wire_reply(16), Kind.OTHER_ERROR, id="extended-rcode"),
        pytest.param(b"\x00\x01garbage", Kind.OTHER_ERROR, id="garbage"),
    ],
)
def test_kind_of_wire_replies(wire: bytes, kind: Kind) -> None:
    assert kind_of(build_request().query, Response("forward", wire=wire)) == kind


def test_reply_facts_of_a_wire_reply() -> None:
    wire = wire_reply(16)
    facts = reply_facts(build_request().query, Response("forward", wire=wire))
    assert facts == ReplyFacts(16, 0x8180, len(wire))


def test_reply_facts_of_a_structured_answer_are_untruncated() -> None:
    records = tuple(
        Record("web.example.org.", RType.A, 30, Address(f"10.0.{i // 250}.{i % 250}"))
        for i in range(100)
    )
    answer = Answer(Rcode.NOERROR, records, authoritative=True)
    request = build_request("web.example.org.")
    facts = reply_facts(request.query, Response("kubernetes", answer=answer))
    wire = encode_answer(request.query, answer, 65535)
    assert facts == ReplyFacts(0, 0x8500, len(wire))  # qr, aa, rd
    assert len(wire) > 512  # a UDP client gets less; {rsize} is the whole reply, as CoreDNS
    assert len(dns.message.from_wire(wire).answer[0]) == 100


def test_reply_facts_without_a_header() -> None:
    assert reply_facts(build_request().query, Response("x", wire=b"\x00")) is None
