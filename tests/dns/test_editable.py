"""dns.editable: replies read into records and written back, both ways, plus broken input."""

import dns.edns
import dns.message
import dns.rrset
import pytest

from clusterdns.dns import editable
from clusterdns.dns.wire import Section
from clusterdns.errors import WireError


def rrset(text: str) -> dns.rrset.RRset:
    """An RRset from `NAME TTL CLASS TYPE DATA`."""
    name, ttl, rclass, rtype, data = text.split(" ", 4)
    return dns.rrset.from_text(name, int(ttl), rclass, rtype, data)


def reply(*answers: str, authority: tuple[str, ...] = (), edns: bool = True) -> bytes:
    query = dns.message.make_query("Www.Example.com.", "A", use_edns=edns)
    response = dns.message.make_response(query)
    for text in answers:
        response.answer.append(rrset(text))
    for text in authority:
        response.authority.append(rrset(text))
    return response.to_wire()


ROUND_TRIPS = [
    pytest.param(("www.example.com. 60 IN A 192.0.2.1",), (), id="a"),
    pytest.param(
        (
            "www.example.com. 60 IN CNAME web.example.com.",
            "web.example.com. 60 IN AAAA 2001:db8::1",
        ),
        (),
        id="cname-chain",
    ),
    pytest.param(("www.example.com. 60 IN MX 10 mail.example.com.",), (), id="mx"),
    pytest.param(("www.example.com. 60 IN SRV 1 2 3 t.example.com.",), (), id="srv"),
    pytest.param(('www.example.com. 60 IN TXT "a b" "c"',), (), id="txt-opaque"),
    pytest.param(
        (), ("example.com. 60 IN SOA ns.example.com. h.example.com. 1 2 3 4 5",), id="soa-authority"
    ),
    pytest.param(("www.example.com. 60 IN DNAME other.example.",), (), id="dname"),
]


@pytest.mark.parametrize(("answers", "authority"), ROUND_TRIPS)
def test_read_then_write_gives_the_same_records(
    answers: tuple[str, ...], authority: tuple[str, ...]
) -> None:
    wire = reply(*answers, authority=authority)
    read = editable.read(wire)
    written = editable.write(read, wire[12 : 12 + len(b"\x03Www\x07Example\x03com\x00") + 4])
    before, after = dns.message.from_wire(wire), dns.message.from_wire(written)
    assert after.answer == before.answer and after.authority == before.authority
    assert after.question[0].name.to_text() == "Www.Example.com."
    assert after.edns == 0 and after.id == before.id
    # Compression: writing never makes a reply larger than dnspython's compressed one.
    assert len(written) <= len(wire)


def test_records_carry_names_as_text() -> None:
    read = editable.read(reply("www.example.com. 60 IN MX 10 mail.example.com."))
    (mx,) = read.section(Section.ANSWER)
    assert (mx.name, mx.rtype, mx.ttl, mx.head, mx.names) == (
        "Www.Example.com.",
        15,
        60,
        b"\x00\x0a",
        ("mail.Example.com.",),
    )  # dnspython compressed "example.com" to the question's spelling


def test_odd_label_bytes_survive_as_escapes() -> None:
    read = editable.read(reply("a\\.b\\032c.example.com. 60 IN A 192.0.2.1"))
    (record,) = read.section(Section.ANSWER)
    assert record.name == "a\\046b\\032c.Example.com."
    assert editable.name_labels(record.name) == [b"a.b c", b"Example", b"com"]


GOOD = reply("www.example.com. 60 IN CNAME web.example.com.")


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param(GOOD[:11], id="short-header"),
        pytest.param(GOOD[:-3], id="truncated-record"),
        pytest.param(GOOD + b"\x00", id="trailing-byte"),
        pytest.param(GOOD[:4] + b"\x00\x02" + GOOD[6:], id="two-questions"),
        pytest.param(GOOD[:12] + b"\xc0\x0c" + GOOD[12:], id="pointer-loop-in-question"),
        pytest.param(GOOD[:12] + b"\x80" + GOOD[13:], id="extended-label"),
    ],
)
def test_broken_replies_raise_wire_error(wire: bytes) -> None:
    with pytest.raises(WireError):
        editable.read(wire)


def test_rcode_with_upper_bits_goes_to_the_opt_record() -> None:
    read = editable.read(reply())
    changed = editable.with_rcode(read, 23)  # BADCOOKIE
    assert editable.full_rcode(changed) == 23
    message = dns.message.from_wire(
        editable.write(changed, b"\x03www\x07example\x03com\x00\x00\x01\x00\x01")
    )
    assert message.rcode() == 23


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        pytest.param("a.example.", True, id="plain"),
        pytest.param("a" * 63 + ".example.", True, id="63-byte-label"),
        pytest.param("a" * 64 + ".example.", False, id="64-byte-label"),
        pytest.param(".".join(["a" * 63] * 3 + ["a" * 61]) + ".", True, id="255-on-the-wire"),
        pytest.param(".".join(["a" * 63] * 3 + ["a" * 62]) + ".", False, id="256-on-the-wire"),
    ],
)
def test_valid_name(name: str, valid: bool) -> None:
    assert editable.valid_name(name) is valid
