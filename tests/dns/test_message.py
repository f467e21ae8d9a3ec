"""The wire codec: query decoding (good and bad), answer encoding, truncation, reply checks."""

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clusterdns.dns.message import (
    Edns,
    decode_query,
    encode_answer,
    summarize_reply,
    truncate_reply,
    with_id,
)
from clusterdns.dns.records import Address, Answer, Mx, Rcode, Record, RType, Soa, Srv, Target, Txt
from clusterdns.errors import HeaderError, QueryRejected, WireError

NAME = "db.demo.svc.cluster.local."


def query(name: str = NAME, qtype: str = "A", **kwargs: object) -> bytes:
    return dns.message.make_query(name, qtype, **kwargs).to_wire()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "name", "qtype", "edns"),
    [
        pytest.param(query(use_edns=False), NAME, 1, None, id="plain"),
        pytest.param(
            query("DB.Demo.SVC.cluster.local.", "SRV", use_edns=0, payload=1232, want_dnssec=True),
            NAME,
            33,
            Edns(1232, True, 0),
            id="edns-do-case",
        ),
        pytest.param(query(".", "NS", use_edns=False), ".", 2, None, id="root"),
        pytest.param(
            query("a\\.b.example.", use_edns=False), "a\\046b.example.", 1, None, id="escaped-dot"
        ),
    ],
)
def test_decode_query(data: bytes, name: str, qtype: int, edns: Edns | None) -> None:
    decoded = decode_query(data)
    assert (decoded.name, decoded.qtype, decoded.qclass, decoded.edns) == (name, qtype, 1, edns)
    assert decoded.question_end == 12 + len(data[12 : decoded.question_end])


def test_decode_rejects_responses_and_short_messages() -> None:
    with pytest.raises(HeaderError):
        decode_query(b"\x00\x01")
    response = bytearray(query())
    response[2] |= 0x80
    with pytest.raises(HeaderError):
        decode_query(bytes(response))


@given(st.binary(max_size=200))
def test_decode_raises_only_wire_errors(data: bytes) -> None:
    try:
        decode_query(data)
    except WireError:
        pass


def _records(count: int) -> tuple[Record, ...]:
    return tuple(
        Record(NAME, RType.A, 30, Address(f"10.0.{i // 250}.{i % 250}")) for i in range(count)
    )


SOA = Record(
    "cluster.local.",
    RType.SOA,
    30,
    Soa("ns.dns.cluster.local.", "hostmaster.cluster.local.", 1, 7200, 1800, 86400, 30),
)


def test_encode_round_trips_through_dnspython() -> None:
    q = decode_query(query("DB.demo.svc.cluster.local.", use_edns=0, payload=4096))
    wire = encode_answer(q, Answer(Rcode.NOERROR, _records(2), (SOA,), authoritative=True), 4096)
    reply = dns.message.from_wire(wire)
    assert reply.id == q.id and reply.flags & dns.flags.AA and reply.flags & dns.flags.QR
    assert reply.question[0].name.to_text() == "DB.demo.svc.cluster.local."
    assert [rr.to_text() for rr in reply.answer] == [
        "DB.demo.svc.cluster.local. 30 IN A 10.0.0.0\nDB.demo.svc.cluster.local. 30 IN A 10.0.0.1"
    ]
    assert reply.edns == 0 and reply.payload == 4096


def test_answers_that_do_not_fit_are_truncated_with_tc() -> None:
    q = decode_query(query(use_edns=False))
    wire = encode_answer(q, Answer(Rcode.NOERROR, _records(100), authoritative=True), 512)
    reply = dns.message.from_wire(wire)
    assert len(wire) <= 512
    assert reply.flags & dns.flags.TC
    assert 0 < len(reply.answer[0]) < 100


def test_additional_records_that_do_not_fit_are_dropped_without_tc() -> None:
    q = decode_query(query(use_edns=False))
    answer = Answer(Rcode.NOERROR, _records(1), additional=_records(60), authoritative=True)
    reply = dns.message.from_wire(encode_answer(q, answer, 512))
    assert not reply.flags & dns.flags.TC
    assert len(reply.answer) == 1
    assert 0 < len(reply.additional[0]) < 60  # as many as fit, as CoreDNS's Scrub keeps


def test_truncated_edns_reply_keeps_its_opt() -> None:
    q = decode_query(query(use_edns=0, payload=600))
    wire = encode_answer(q, Answer(Rcode.NOERROR, _records(100), authoritative=True), 600)
    reply = dns.message.from_wire(wire)
    assert len(wire) <= 600 and reply.flags & dns.flags.TC and reply.edns == 0


def test_summarize_and_rewrite_foreign_replies() -> None:
    q = dns.message.make_query("example.com.", "A")
    response = dns.message.make_response(q)
    wire = with_id(response.to_wire(), 7)
    summary = summarize_reply(wire)
    assert (summary.id, summary.name, summary.qtype, summary.truncated) == (
        7,
        "example.com.",
        1,
        False,
    )
    with pytest.raises(HeaderError):
        summarize_reply(q.to_wire())  # a query, not a reply


def test_truncate_foreign_reply() -> None:
    q = dns.message.make_query("example.com.", "A")
    response = dns.message.make_response(q)
    response.answer.append(
        dns.rrset.from_text("example.com.", 60, "IN", "A", *[f"192.0.2.{i}" for i in range(1, 101)])
    )
    cut = truncate_reply(response.to_wire(), 512)
    assert len(cut) <= 512 and dns.message.from_wire(cut).flags & dns.flags.TC


def test_rejections_carry_rcodes() -> None:
    data = bytearray(query())
    data[5] = 2
    with pytest.raises(QueryRejected) as caught:
        decode_query(bytes(data))
    assert caught.value.rcode == dns.rcode.FORMERR


OWNER = "x.demo.svc.cluster.local."


@pytest.mark.parametrize(
    ("record", "text"),
    [
        pytest.param(Record(OWNER, RType.A, 5, Address("10.1.2.3")), "10.1.2.3", id="A"),
        pytest.param(
            Record(OWNER, RType.AAAA, 5, Address("2001:db8::7")), "2001:db8::7", id="AAAA"
        ),
        pytest.param(
            Record(OWNER, RType.CNAME, 5, Target("web.demo.svc.cluster.local.")),
            "web.demo.svc.cluster.local.",
            id="CNAME-compressed",
        ),
        pytest.param(
            Record(OWNER, RType.SRV, 5, Srv(0, 50, 80, "a.x.demo.svc.cluster.local.")),
            "0 50 80 a.x.demo.svc.cluster.local.",
            id="SRV-target-uncompressed",
        ),
        pytest.param(Record(OWNER, RType.TXT, 5, Txt(("1.1.0", "two"))), '"1.1.0" "two"', id="TXT"),
        pytest.param(
            Record(OWNER, RType.MX, 5, Mx(10, "mail.demo.svc.cluster.local.")),
            "10 mail.demo.svc.cluster.local.",
            id="MX",
        ),
        pytest.param(
            Record(OWNER, RType.PTR, 5, Target("1-2-3-4.demo.pod.cluster.local.")),
            "1-2-3-4.demo.pod.cluster.local.",
            id="PTR",
        ),
        pytest.param(
            Record("esc\\.aped.demo.", RType.A, 5, Address("10.0.0.1")),
            "10.0.0.1",
            id="escaped-dot",
        ),
    ],
)
def test_each_record_type_encodes_as_dnspython_reads_it(record: Record, text: str) -> None:
    q = decode_query(query(OWNER, use_edns=False))
    reply = dns.message.from_wire(encode_answer(q, Answer(Rcode.NOERROR, (record,)), 512))
    (rrset,) = reply.answer
    assert rrset.name.to_text() == record.name and rrset.ttl == 5
    assert [rdata.to_text() for rdata in rrset] == [text]


def test_a_record_whose_data_does_not_fit_its_type_is_an_error() -> None:
    q = decode_query(query(OWNER, use_edns=False))
    broken = Record(OWNER, RType.MX, 5, Address("10.0.0.1"))
    with pytest.raises(ValueError, match="cannot carry Address"):
        encode_answer(q, Answer(Rcode.NOERROR, (broken,)), 512)
