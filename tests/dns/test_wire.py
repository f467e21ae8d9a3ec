"""The wire walker: record boundaries, types, pointers, and malformed messages refused."""

import struct

import dns.message
import dns.rcode
import dns.rrset
import pytest

from clusterdns.dns.wire import Section, answers, question_end, read_labels, walk
from clusterdns.errors import WireError
from tests.plugins.loadbalance.wirebuild import QUESTION_NAME, message, name, pointer, rr

A_DATA = bytes([10, 0, 0, 1])


def test_walks_a_dnspython_reply() -> None:
    query = dns.message.make_query("www.example.org.", "A", use_edns=0)
    reply = dns.message.make_response(query)
    reply.answer.append(
        dns.rrset.from_text("www.example.org.", 30, "IN", "CNAME", "web.example.org.")
    )
    reply.answer.append(
        dns.rrset.from_text("web.example.org.", 30, "IN", "A", "10.0.0.1", "10.0.0.2")
    )
    # BADVERS (16): 0 in the header, 1 in the upper rcode bits of the OPT record.
    reply.set_rcode(dns.rcode.BADVERS)
    wire = reply.to_wire()
    walked = walk(wire)
    assert [(r.section, r.rtype) for r in walked.records] == [
        (Section.ANSWER, 5),
        (Section.ANSWER, 1),
        (Section.ANSWER, 1),
        (Section.ADDITIONAL, 41),
    ]
    assert walked.question_end == 12 + 17 + 4
    assert walked.records[0].start == walked.question_end
    assert walked.records[-1].end == len(wire)
    assert walked.rcode == 16
    assert walked.flags & 0xF == 0
    # Every pointer lands where a name or label begins.
    assert walked.pointers and set(walked.pointers) <= walked.label_starts


@pytest.mark.parametrize(
    ("wire", "problem"),
    [
        pytest.param(b"\x00" * 11, "shorter than a header", id="short"),
        pytest.param(message([])[:-2], "question ends", id="question-cut"),
        pytest.param(message([rr(pointer(12), 1, A_DATA)])[:-1], "runs past", id="rdata-cut"),
        pytest.param(message([rr(pointer(12), 1, A_DATA)]) + b"\x00", "after the last", id="tail"),
        pytest.param(message([rr(pointer(40), 1, A_DATA)]), "points forward", id="forward"),
        pytest.param(
            message([rr(name("a", then=b"\x41\x00"), 1, A_DATA)]), "label type 1", id="extended"
        ),
        pytest.param(
            message([rr(pointer(12), 5, name("web") + b"\x00")]), "wrong length", id="cname-length"
        ),
        pytest.param(
            message([rr(pointer(12), 15, b"\x00")]), "runs past its field", id="mx-too-short"
        ),
        pytest.param(
            message([rr(pointer(12), 6, name("ns") + name("hm") + b"\x00" * 19)]),
            "wrong length",
            id="soa-counters",
        ),
        pytest.param(message([], question=name("a", then=b"\xc0")), "cut short", id="pointer-cut"),
    ],
)
def test_malformed(wire: bytes, problem: str) -> None:
    with pytest.raises(WireError, match=problem):
        walk(wire)


def test_opaque_rdata_is_not_read_for_names() -> None:
    # TXT data that looks like a pointer is just bytes (RFC 3597 4: no compression there).
    wire = message([rr(pointer(QUESTION_NAME), 16, b"\x02\xc0\x0c")])
    assert walk(wire).pointers == (QUESTION_NAME,)


def test_counts_larger_than_the_message_are_refused() -> None:
    wire = message([rr(pointer(QUESTION_NAME), 1, A_DATA)])
    wire = wire[:6] + struct.pack("!H", 2) + wire[8:]
    with pytest.raises(WireError):
        walk(wire)


def test_ttl_positions_point_at_each_records_ttl() -> None:
    query = dns.message.make_query("www.example.org.", "A")
    reply = dns.message.make_response(query)
    reply.answer.append(
        dns.rrset.from_text("www.example.org.", 1234, "IN", "A", "10.0.0.1", "10.0.0.2")
    )
    wire = reply.to_wire()
    ttls = [struct.unpack_from("!I", wire, r.ttl_at)[0] for r in walk(wire).records]
    assert ttls == [1234, 1234]


# Header, then "a.example." at 12 and a pointer back to it at 23 ("b" + pointer at 25).
_NAMES = bytes(12) + b"\x01a\x07example\x00" + b"\x01b\xc0\x0c"


@pytest.mark.parametrize(
    ("data", "offset", "labels", "after"),
    [
        pytest.param(_NAMES, 12, [b"a", b"example"], 23, id="plain"),
        pytest.param(_NAMES, 23, [b"b", b"a", b"example"], 27, id="pointer-followed"),
        pytest.param(bytes(12) + b"\x00", 12, [], 13, id="root"),
    ],
)
def test_read_labels_follows_pointers(
    data: bytes, offset: int, labels: list[bytes], after: int
) -> None:
    assert read_labels(data, offset, len(data)) == (labels, after)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(bytes(12) + b"\xc0\x0c", id="pointer-to-itself"),
        pytest.param(bytes(12) + b"\x01a\xc0\x0c", id="loop-through-a-label"),
        pytest.param(bytes(12) + b"\xc0\x0e\x01a\x00", id="forward-pointer"),
        pytest.param(bytes(12) + b"\x01a", id="cut-short"),
        pytest.param(bytes(12) + b"\x41a\x00", id="extended-label"),
        pytest.param(bytes(12) + (b"\x3f" + b"y" * 63) * 4 + b"\x00", id="longer-than-255"),
    ],
)
def test_read_labels_refuses_loops_and_malformed_names(data: bytes) -> None:
    with pytest.raises(WireError):
        read_labels(data, 12, len(data))


_SENT = dns.message.make_query("Www.Example.org.", "A", id=4660).to_wire()


def _reply_to(name: str, rtype: str = "A", ident: int = 4660) -> bytes:
    return dns.message.make_response(dns.message.make_query(name, rtype, id=ident)).to_wire()


@pytest.mark.parametrize(
    ("reply", "matches"),
    [
        pytest.param(_reply_to("www.example.org."), True, id="same-question-other-case"),
        pytest.param(_reply_to("www.example.org.", ident=1), False, id="other-id"),
        pytest.param(_reply_to("www.example.net."), False, id="other-name"),
        pytest.param(_reply_to("www.example.org.", "AAAA"), False, id="other-type"),
        pytest.param(_SENT, False, id="the-query-itself"),
        pytest.param(_reply_to("www.example.org.")[:20], False, id="cut-short"),
    ],
)
def test_answers_checks_id_response_and_question(reply: bytes, matches: bool) -> None:
    assert answers(_SENT, question_end(_SENT), reply) is matches


def test_answers_compares_the_type_exactly_not_case_folded() -> None:
    # Type 65 (HTTPS) is 0x0041, "A" to bytes.lower(), which makes it 0x0061 (type 97).
    sent = dns.message.make_query("www.example.org.", "HTTPS", id=1).to_wire()
    assert answers(sent, question_end(sent), _reply_to("www.example.org.", "HTTPS", 1))
    assert not answers(sent, question_end(sent), _reply_to("www.example.org.", "TYPE97", 1))


def test_walk_without_names_finds_the_same_records() -> None:
    query = dns.message.make_query("www.example.org.", "MX", use_edns=0)
    reply = dns.message.make_response(query)
    reply.answer.append(
        dns.rrset.from_text("www.example.org.", 30, "IN", "MX", "10 mx.example.org.")
    )
    reply.authority.append(
        dns.rrset.from_text(
            "example.org.", 60, "IN", "SOA", "ns.example.org. h.example.org. 1 2 3 4 5"
        )
    )
    wire = reply.to_wire()
    full, bare = walk(wire), walk(wire, names=False)
    assert bare.records == full.records and bare.question_end == full.question_end
    assert bare.rcode == full.rcode
    assert (bare.pointers, bare.label_starts) == ((), frozenset())
