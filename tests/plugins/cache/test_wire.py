"""Wire replies: records walked for their shape and TTLs, OPT cut out, replies rendered."""

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from clusterdns.errors import HeaderError
from clusterdns.plugins.cache import wire
from tests.plugins.cache.conftest import reply, request

SOA = "example.org. 900 IN SOA ns.example.org. hostmaster.example.org. 1 7200 900 86400 60"


def test_parse_finds_shape_and_every_ttl_but_opt() -> None:
    query = request("www.example.org", edns=True).query
    data = reply(
        query,
        ["www.example.org. 300 IN A 192.0.2.1", "www.example.org. 300 IN A 192.0.2.2"],
        [SOA],
    )
    parsed = wire.parse_reply(data)
    assert (parsed.name, parsed.qtype, parsed.qclass) == ("www.example.org.", 1, 1)
    assert parsed.matches(query)
    assert len(parsed.ttl_offsets) == 3 and parsed.opt is not None
    assert parsed.shape.answers == 2 and parsed.shape.records == 3
    assert parsed.shape.lowest_ttl == 300 and parsed.shape.soa_minimum == 60
    template = parsed.template()
    assert template is not None
    stripped = dns.message.from_wire(template[0])
    assert stripped.edns == -1 and len(stripped.answer[0]) == 2


def test_extended_rcode_comes_from_the_opt() -> None:
    query = request("www.example.org", edns=True).query
    message = dns.message.make_response(dns.message.from_wire(query.wire))
    message.set_rcode(dns.rcode.BADVERS)
    assert wire.parse_reply(message.to_wire()).shape.rcode == 16


def test_opt_in_the_middle_is_not_cut() -> None:
    query = request("www.example.org", edns=True).query
    plain = reply(query)
    message = dns.message.make_response(dns.message.from_wire(query.wire))
    message.additional.append(dns.rrset.from_text("extra.example.org.", 60, "IN", "A", "192.0.2.9"))
    extra = message.to_wire()  # dnspython writes the OPT last
    opt_start = wire.parse_reply(plain).opt
    assert opt_start is not None
    head, opt = plain[: opt_start[0]], plain[opt_start[0] :]
    record = extra[len(head) : len(extra) - len(opt)]
    moved = extra[: len(head)] + opt + record  # OPT first, then the A record
    parsed = wire.parse_reply(moved)
    assert parsed.opt == (len(head), len(head) + len(opt))
    assert parsed.template() is None


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x00\x01\x81\x80", id="short-header"),
        pytest.param(
            b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01", id="a-query"
        ),
        pytest.param(
            b"\x00\x01\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00\x01\x00\x01",
            id="answer-missing",
        ),
        pytest.param(
            b"\x00\x01\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00\x01\x00\x01"
            b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00",
            id="rdata-truncated",
        ),
        pytest.param(
            b"\x00\x01\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01junk",
            id="trailing-bytes",
        ),
        pytest.param(
            b"\x00\x01\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00\x01\x00\x01\x7f\x00",
            id="bad-label",
        ),
    ],
)
def test_parse_rejects_garbage_and_truncation(data: bytes) -> None:
    with pytest.raises(HeaderError):
        wire.parse_reply(data)


def test_render_takes_id_case_flags_and_opt_from_the_query() -> None:
    first = request("www.example.org", edns=True).query
    data = reply(first, ["www.example.org. 300 IN A 192.0.2.1"], flags=dns.flags.RA | dns.flags.AD)
    parsed = wire.parse_reply(data)
    template = parsed.template()
    assert template is not None
    second = request("WWW.EXAMPLE.ORG", ident=77, do=True).query
    out = dns.message.from_wire(wire.render(*template, parsed.flags, second, 42))
    assert out.id == 77 and str(out.question[0].name) == "WWW.EXAMPLE.ORG."
    assert out.answer[0].ttl == 42
    assert out.flags & dns.flags.AA and out.flags & dns.flags.AD and out.flags & dns.flags.RA
    assert out.ednsflags & dns.flags.DO
