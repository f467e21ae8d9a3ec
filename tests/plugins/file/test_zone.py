"""Answers of a loaded zone (CoreDNS plugin/file lookup.go), and zones RFC 1034 forbids."""

from dataclasses import dataclass, field

import pytest

from clusterdns.dns.records import RType
from clusterdns.errors import ConfigError
from clusterdns.plugins.file.zone import Zone, build_zone, lookup
from clusterdns.plugins.file.zonefile import parse_zone

ZONE_TEXT = """\
$ORIGIN example.org.
@	3600 IN	SOA sns.dns.icann.org. noc.dns.icann.org. 2017042745 7200 3600 1209600 3600
	3600 IN NS a.iana-servers.net.
	3600 IN NS b.iana-servers.net.

www     IN A     127.0.0.1
        IN AAAA  ::1
mail    IN MX 10 mx1
mx1     IN A 192.0.2.25
alias   IN CNAME www
alias2  IN CNAME alias
dangling IN CNAME missing
outside IN CNAME www.example.net.
loop1   IN CNAME loop2
loop2   IN CNAME loop1
*.wild  IN A 192.0.2.99
*.wild  IN TXT "wild"
a.b.c   IN TXT "deep"
sub     IN NS ns.sub
ns.sub  IN A 192.0.2.53
_sip._udp IN SRV 0 5 5060 mx1
"""
SOA = (
    "example.org. 3600 IN SOA sns.dns.icann.org. noc.dns.icann.org. "
    "2017042745 7200 3600 1209600 3600"
)
NS = ["example.org. 3600 IN NS a.iana-servers.net.", "example.org. 3600 IN NS b.iana-servers.net."]


def _zone(text: str = ZONE_TEXT) -> Zone:
    return build_zone(parse_zone(text, "example.org.", "db.example.org"), "example.org.", "db")


ZONE = _zone()


@dataclass(frozen=True)
class Case:
    """A question and the answer expected (zone-file lines)."""

    name: str
    qtype: str
    rcode: str = "NOERROR"
    answer: list[str] = field(default_factory=list)
    authority: list[str] = field(default_factory=list)
    additional: list[str] = field(default_factory=list)
    authoritative: bool = True
    external: str = ""
    name_error: bool = False


CASES = [
    pytest.param(Case("example.org.", "SOA", answer=[SOA], authority=NS), id="apex-soa"),
    pytest.param(Case("example.org.", "NS", answer=NS), id="apex-ns"),
    pytest.param(Case("example.org.", "A", authority=[SOA]), id="apex-nodata"),
    pytest.param(
        Case(
            "www.example.org.", "A", answer=["www.example.org. 3600 IN A 127.0.0.1"], authority=NS
        ),
        id="a",
    ),
    pytest.param(
        Case(
            "www.example.org.", "AAAA", answer=["www.example.org. 3600 IN AAAA ::1"], authority=NS
        ),
        id="aaaa",
    ),
    pytest.param(Case("www.example.org.", "TXT", authority=[SOA]), id="nodata-with-soa"),
    pytest.param(
        Case("nope.example.org.", "A", "NXDOMAIN", authority=[SOA], name_error=True),
        id="nxdomain-with-soa",
    ),
    pytest.param(
        Case(
            "mail.example.org.",
            "MX",
            answer=["mail.example.org. 3600 IN MX 10 mx1.example.org."],
            authority=NS,
            additional=["mx1.example.org. 3600 IN A 192.0.2.25"],
        ),
        id="mx-with-additional",
    ),
    pytest.param(
        Case(
            "_sip._udp.example.org.",
            "SRV",
            answer=["_sip._udp.example.org. 3600 IN SRV 0 5 5060 mx1.example.org."],
            authority=NS,
            additional=["mx1.example.org. 3600 IN A 192.0.2.25"],
        ),
        id="srv-with-additional",
    ),
    pytest.param(
        Case(
            "alias2.example.org.",
            "A",
            answer=[
                "alias2.example.org. 3600 IN CNAME alias.example.org.",
                "alias.example.org. 3600 IN CNAME www.example.org.",
                "www.example.org. 3600 IN A 127.0.0.1",
            ],
            authority=NS,
        ),
        id="cname-chain-inside-zone",
    ),
    pytest.param(
        Case(
            "alias.example.org.",
            "CNAME",
            answer=["alias.example.org. 3600 IN CNAME www.example.org."],
            authority=NS,
        ),
        id="cname-asked-for",
    ),
    pytest.param(
        Case(
            "alias.example.org.",
            "TXT",
            answer=["alias.example.org. 3600 IN CNAME www.example.org."],
            authority=[SOA],
        ),
        id="cname-to-nodata",
    ),
    pytest.param(
        Case(
            "dangling.example.org.",
            "A",
            "NXDOMAIN",
            answer=["dangling.example.org. 3600 IN CNAME missing.example.org."],
            authority=[SOA],
        ),
        id="cname-to-nxdomain-rfc6604",
    ),
    pytest.param(
        Case(
            "outside.example.org.",
            "A",
            answer=["outside.example.org. 3600 IN CNAME www.example.net."],
            authority=NS,
            external="www.example.net.",
        ),
        id="cname-leaving-the-zone",
    ),
    pytest.param(
        Case(
            "loop1.example.org.",
            "A",
            answer=[
                "loop1.example.org. 3600 IN CNAME loop2.example.org.",
                "loop2.example.org. 3600 IN CNAME loop1.example.org.",
            ],
            authority=NS,
        ),
        id="cname-loop-stops",
    ),
    pytest.param(
        Case(
            "x.wild.example.org.",
            "A",
            answer=["x.wild.example.org. 3600 IN A 192.0.2.99"],
            authority=NS,
        ),
        id="wildcard",
    ),
    pytest.param(
        Case(
            "y.x.wild.example.org.",
            "TXT",
            answer=['y.x.wild.example.org. 3600 IN TXT "wild"'],
            authority=NS,
        ),
        id="wildcard-deeper",
    ),
    pytest.param(Case("x.wild.example.org.", "MX", authority=[SOA]), id="wildcard-nodata"),
    pytest.param(
        Case("wild.example.org.", "A", authority=[SOA], name_error=True),
        id="wildcard-parent-is-empty-non-terminal",
    ),
    pytest.param(
        Case("b.c.example.org.", "A", authority=[SOA], name_error=True), id="empty-non-terminal"
    ),
    pytest.param(
        Case(
            "x.sub.example.org.",
            "A",
            authority=["sub.example.org. 3600 IN NS ns.sub.example.org."],
            additional=["ns.sub.example.org. 3600 IN A 192.0.2.53"],
            authoritative=False,
        ),
        id="delegation-referral",
    ),
    pytest.param(
        Case(
            "sub.example.org.",
            "NS",
            authority=["sub.example.org. 3600 IN NS ns.sub.example.org."],
            additional=["ns.sub.example.org. 3600 IN A 192.0.2.53"],
            authoritative=False,
        ),
        id="delegation-point",
    ),
    pytest.param(Case("www.example.org.", "ANY", authority=[SOA]), id="any-nodata"),
]


@pytest.mark.parametrize("case", CASES)
def test_lookup(case: Case) -> None:
    result = lookup(ZONE, case.name, int(RType[case.qtype]))
    found = result.answer
    assert found.rcode.name == case.rcode
    assert [r.zone_line() for r in found.answer] == case.answer
    assert [r.zone_line() for r in found.authority] == case.authority
    assert [r.zone_line() for r in found.additional] == case.additional
    assert found.authoritative is case.authoritative
    assert result.external == case.external
    assert result.name_error is case.name_error


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param(
            "$TTL 60\nwww A 192.0.2.1\n",
            "db: file: zone example.org. has no SOA record",
            id="no-soa",
        ),
        pytest.param(
            ZONE_TEXT + "www CNAME mail\n",
            "db:22: file: www.example.org. has a CNAME and other data",
            id="cname-and-data",
        ),
        pytest.param(
            ZONE_TEXT + "alias CNAME mail\n",
            "db:22: file: a second CNAME for alias.example.org.",
            id="two-cnames",
        ),
        pytest.param(
            ZONE_TEXT + "@ SOA a b 1 2 3 4 5\n", "db:22: file: a second SOA record", id="two-soas"
        ),
        pytest.param(
            ZONE_TEXT + "www SOA a b 1 2 3 4 5\n",
            "db:22: file: SOA of www.example.org. in zone example.org.: it must be at the apex",
            id="soa-below-apex",
        ),
    ],
)
def test_zone_errors(text: str, error: str) -> None:
    loaded = parse_zone(text, "example.org.", "db")
    with pytest.raises(ConfigError) as caught:
        build_zone(loaded, "example.org.", "db")
    assert str(caught.value) == error
