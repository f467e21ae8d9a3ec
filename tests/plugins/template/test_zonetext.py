"""Records from template output: zone-file text as miekg/dns reads it, and bad text."""

import dns.message
import pytest

from clusterdns.dns import editable
from clusterdns.dns.editable import Reply
from clusterdns.dns.wire import Section
from clusterdns.plugins.template.zonetext import RecordTextError, as_record, parse_record

QUESTION = b"\x01x\x00\x00\x01\x00\x01"


def presented(text: str) -> str:
    """`text` parsed, written into a reply and read back by dnspython."""
    rr = parse_record(text, Section.ANSWER)
    wire = editable.write(Reply(1, 0x8400, ("x.", 1, 1), (rr,)), QUESTION)
    return dns.message.from_wire(wire).answer[0].to_text()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "ip-10-1-2-3.example. 60 IN A 10.1.2.3", "ip-10-1-2-3.example. 60 IN A 10.1.2.3", id="a"
        ),
        pytest.param(
            "a.example. 60 IN AAAA 2001:db8::1", "a.example. 60 IN AAAA 2001:db8::1", id="aaaa"
        ),
        pytest.param(
            "foogle.com 60 IN CNAME google.com",
            "foogle.com. 60 IN CNAME google.com.",
            id="relative-names-are-absolute",
        ),
        pytest.param(
            "a.example. 60 IN MX 10 a.example.", "a.example. 60 IN MX 10 a.example.", id="mx"
        ),
        pytest.param("example. 60 IN NS ns0.example.", "example. 60 IN NS ns0.example.", id="ns"),
        pytest.param(
            "3.2.1.10.in-addr.arpa. 60 IN PTR ip-10-1-2-3.example.",
            "3.2.1.10.in-addr.arpa. 60 IN PTR ip-10-1-2-3.example.",
            id="ptr",
        ),
        pytest.param(
            "_s._tcp.example. 60 IN SRV 0 100 80 web.example.",
            "_s._tcp.example. 60 IN SRV 0 100 80 web.example.",
            id="srv",
        ),
        pytest.param(
            "invalid. 60 IN SOA ns.invalid. hostmaster.invalid. (1 60 60 60 60)",
            "invalid. 60 IN SOA ns.invalid. hostmaster.invalid. 1 60 60 60 60",
            id="soa-parenthesised",
        ),
        pytest.param(
            't.example. 0 IN TXT "hello world" second',
            't.example. 0 IN TXT "hello world" "second"',
            id="txt",
        ),
        pytest.param(
            "a.example. IN 60 A 10.0.0.1", "a.example. 60 IN A 10.0.0.1", id="class-before-ttl"
        ),
        pytest.param(
            "a.example. A 10.0.0.1", "a.example. 3600 IN A 10.0.0.1", id="default-ttl-3600"
        ),
        pytest.param(
            "a.example. 60 IN TYPE65280 \\# 2 abcd",
            "a.example. 60 IN TYPE65280 \\# 2 abcd",
            id="rfc3597-generic",
        ),
        pytest.param(
            "a.example. 60 IN A 10.0.0.1 ; note", "a.example. 60 IN A 10.0.0.1", id="comment"
        ),
    ],
)
def test_record_text(text: str, expected: str) -> None:
    assert presented(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("a.example. 60 IN A 10.0.0", "bad A address '10.0.0'", id="short-ipv4"),
        pytest.param("a.example. 60 IN A ::1", "bad A address", id="v6-in-a"),
        pytest.param("a.example. 60 IN BOGUS x", "unknown type 'BOGUS'", id="unknown-type"),
        pytest.param("a.example. 60 IN MX x a.example.", "bad preference 'x'", id="bad-mx"),
        pytest.param("a.example. 60 IN SOA a. b. 1 2 3", "SOA wants 7", id="short-soa"),
        pytest.param("a.example. 60 IN CAA 0 issue x", "generic form", id="unsupported-type"),
        pytest.param("<no value>.example. 60 IN A 10.0.0.1", "unknown type", id="no-value-owner"),
        pytest.param("a.example.", "not a resource record", id="owner-only"),
        pytest.param(("a" * 64) + ".example. 60 IN A 10.0.0.1", "bad name", id="long-label"),
        pytest.param("a.example. 60 IN TYPE1 \\# 3 0a00", "length says 3", id="generic-length"),
    ],
)
def test_bad_record_text(text: str, message: str) -> None:
    with pytest.raises(RecordTextError, match=message):
        parse_record(text, Section.ANSWER)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("A.Example. 60 IN A 10.0.0.1", "a.example. 60 IN A 10.0.0.1", id="a"),
        pytest.param("a. 60 IN AAAA 2001:DB8:0::1", "a. 60 IN AAAA 2001:db8::1", id="aaaa"),
        pytest.param("a. 60 IN CNAME B.example.", "a. 60 IN CNAME b.example.", id="cname"),
        pytest.param("a. 60 IN SRV 1 2 3 t.", "a. 60 IN SRV 1 2 3 t.", id="srv"),
        pytest.param('a. 60 IN TXT "x y" z', 'a. 60 IN TXT "x y" "z"', id="txt"),
        pytest.param("a. 60 IN SOA m. r. 1 2 3 4 5", "a. 60 IN SOA m. r. 1 2 3 4 5", id="soa"),
        pytest.param("a. 60 IN MX 10 m.", None, id="mx-stays-bytes"),
        pytest.param("a. 60 CH A 10.0.0.1", None, id="other-class-stays-bytes"),
        pytest.param("a\\032b. 60 IN A 10.0.0.1", None, id="escaped-name-stays-bytes"),
    ],
)
def test_structured_form(text: str, line: str | None) -> None:
    record = as_record(parse_record(text, Section.ANSWER))
    assert (record.zone_line() if record else None) == line
