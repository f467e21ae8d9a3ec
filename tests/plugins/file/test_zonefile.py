"""Zone files to records (RFC 1035 5), and bad records named by FILE:LINE and token."""

import logging
from pathlib import Path

import pytest

from clusterdns.app import read_text
from clusterdns.corefile.lexer import CorefileError
from clusterdns.plugins.file.zonefile import parse_zone

# The zone in CoreDNS's file plugin README.
README_ZONE = """\
$ORIGIN example.org.
@	3600 IN	SOA sns.dns.icann.org. noc.dns.icann.org. 2017042745 7200 3600 1209600 3600
	3600 IN NS a.iana-servers.net.
	3600 IN NS b.iana-servers.net.

www     IN A     127.0.0.1
        IN AAAA  ::1
"""


def lines(text: str, origin: str = "example.org.") -> list[str]:
    return [loaded.record.zone_line() for loaded in parse_zone(text, origin, "db.example.org")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            README_ZONE,
            [
                "example.org. 3600 IN SOA sns.dns.icann.org. noc.dns.icann.org. "
                "2017042745 7200 3600 1209600 3600",
                "example.org. 3600 IN NS a.iana-servers.net.",
                "example.org. 3600 IN NS b.iana-servers.net.",
                "www.example.org. 3600 IN A 127.0.0.1",
                "www.example.org. 3600 IN AAAA ::1",
            ],
            id="coredns-readme",
        ),
        pytest.param(
            "$TTL 1h\n@ IN SOA ns hostmaster ( 1 ; serial\n 2h 30m 1w 5m )\n",
            [
                "example.org. 3600 IN SOA ns.example.org. hostmaster.example.org. "
                "1 7200 1800 604800 300"
            ],
            id="ttl-units-parentheses-comments",
        ),
        pytest.param(
            "@ SOA ns h 1 2 3 4 5\nmail 300 IN MX 10 mx1\n"
            "_sip._udp IN 60 SRV 0 5 5060 sip.example.net.\n",
            [
                "example.org. 5 IN SOA ns.example.org. h.example.org. 1 2 3 4 5",
                "mail.example.org. 300 IN MX 10 mx1.example.org.",
                "_sip._udp.example.org. 60 IN SRV 0 5 5060 sip.example.net.",
            ],
            id="soa-minimum-default-mx-srv-class-before-ttl",
        ),
        pytest.param(
            '$TTL 60\ntxt TXT "hello \\"world\\"" plain "a;b" "\\065"\n',
            ['txt.example.org. 60 IN TXT "hello "world"" "plain" "a;b" "A"'],
            id="txt-escapes",
        ),
        pytest.param(
            "$TTL 60\n$ORIGIN sub.example.org.\nwww A 192.0.2.1\n@ CNAME www\n*.wild A 192.0.2.2\n",
            [
                "www.sub.example.org. 60 IN A 192.0.2.1",
                "sub.example.org. 60 IN CNAME www.sub.example.org.",
                "*.wild.sub.example.org. 60 IN A 192.0.2.2",
            ],
            id="origin-change-and-wildcard",
        ),
        pytest.param(
            "$TTL 60\nWWW.Example.ORG. A 192.0.2.1\n",
            ["www.example.org. 60 IN A 192.0.2.1"],
            id="case-folded",
        ),
    ],
)
def test_records(text: str, expected: list[str]) -> None:
    assert lines(text) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param(
            "$TTL 60\nwww A 300.1.1.1\n",
            "db.example.org:2: file: bad A address '300.1.1.1'",
            id="bad-ipv4",
        ),
        pytest.param(
            "$TTL 60\nwww AAAA 192.0.2.1\n",
            "db.example.org:2: file: bad AAAA address '192.0.2.1'",
            id="v4-in-aaaa",
        ),
        pytest.param(
            "$TTL 60\nwww A\n",
            "db.example.org:2: file: A needs 1 data fields, got 'nothing'",
            id="missing-data",
        ),
        pytest.param(
            "$TTL 60\nwww AAA ::1\n",
            "db.example.org:2: file: unknown record type 'AAA'",
            id="typo-type",
        ),
        pytest.param(
            "$TTL 60\nwww CH A 192.0.2.1\n",
            "db.example.org:2: file: class CH is not supported, only IN",
            id="class",
        ),
        pytest.param(
            "$TTL 60\nwww 1x A 192.0.2.1\n", "db.example.org:2: file: bad TTL '1x'", id="bad-ttl"
        ),
        pytest.param(
            "$TTL 60\nmail MX 70000 mx\n",
            "db.example.org:2: file: expected a number 0..65535, got '70000'",
            id="mx-range",
        ),
        pytest.param(
            "$TTL 60\nwww.example.net. A 192.0.2.1\n",
            "db.example.org:2: file: owner 'www.example.net.' is outside the zone example.org.",
            id="out-of-zone",
        ),
        pytest.param(
            "$TTL 60\n\n@ SOA ns h (1 2 3\n 4 5\n",
            "db.example.org:3: file: '(' is never closed",
            id="unclosed-paren",
        ),
        pytest.param(
            '$TTL 60\ntxt TXT "open\n',
            "db.example.org:2: file: unterminated quoted string",
            id="unterminated-quote",
        ),
        pytest.param(
            "$TTL 60\nwww A 192.0.2.1\n $INCLUDE other\n",
            "db.example.org:3: file: unknown record type '$INCLUDE'",
            id="indented-directive",
        ),
        pytest.param(
            "$GENERATE 1-5 host$ A 192.0.2.$\n",
            "db.example.org:1: file: '$GENERATE' is not supported (only $ORIGIN, $TTL, $INCLUDE)",
            id="generate",
        ),
        pytest.param(
            "  IN A 192.0.2.1\n",
            "db.example.org:1: file: a record without an owner name, and none before it",
            id="no-owner",
        ),
        pytest.param(
            "$TTL 60\nwww A 192.0.2.1 )\n",
            "db.example.org:2: file: ')' without '('",
            id="stray-paren",
        ),
        pytest.param(
            "$TTL 60\nw*w A 192.0.2.1\n", "db.example.org:2: file: bad name 'w*w'", id="bad-name"
        ),
        pytest.param(
            "$TTL 60\na.*.b A 192.0.2.1\n",
            "db.example.org:2: file: '*' must be a whole leftmost label, got 'a.*.b'",
            id="inner-wildcard",
        ),
    ],
)
def test_errors(text: str, error: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse_zone(text, "example.org.", "db.example.org")
    assert str(caught.value).startswith(error)


def test_types_not_served_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="clusterdns")
    text = '$TTL 60\n@ CAA 0 issue "letsencrypt.org"\nwww A 192.0.2.1\n'
    assert lines(text) == ["www.example.org. 60 IN A 192.0.2.1"]
    assert "db.example.org:2: file: CAA records are not served; skipped" in caplog.messages


def test_include_reads_relative_to_the_including_file(tmp_path: Path) -> None:
    (tmp_path / "hosts.db").write_text("www A 192.0.2.1\n")
    (tmp_path / "sub.db").write_text("$INCLUDE hosts.db\nmail A 192.0.2.2\n")
    main = tmp_path / "db.example.org"
    text = "$TTL 60\n$INCLUDE hosts.db\n$INCLUDE sub.db lab.example.org.\nafter A 192.0.2.3\n"
    loaded = parse_zone(text, "example.org.", str(main), read_text)
    assert [item.record.zone_line() for item in loaded] == [
        "www.example.org. 60 IN A 192.0.2.1",
        "www.lab.example.org. 60 IN A 192.0.2.1",
        "mail.lab.example.org. 60 IN A 192.0.2.2",
        "after.example.org. 60 IN A 192.0.2.3",  # the origin reverts (RFC 1035 5.1)
    ]
    assert loaded[2].file == str(tmp_path / "sub.db") and loaded[2].line == 2


@pytest.mark.parametrize(
    ("files", "error"),
    [
        pytest.param(
            {}, "db.example.org:2: file: $INCLUDE missing.db: cannot read it:", id="missing"
        ),
        pytest.param(
            {"missing.db": "www A 1.2.3\n"},
            "missing.db:1: file: bad A address '1.2.3'",
            id="bad-record-names-the-included-file",
        ),
        pytest.param(
            {"missing.db": "$INCLUDE missing.db\n"},
            "missing.db:1: file: $INCLUDE nested deeper than 7",
            id="include-loop",
        ),
    ],
)
def test_include_errors(tmp_path: Path, files: dict[str, str], error: str) -> None:
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    main = tmp_path / "db.example.org"
    with pytest.raises(CorefileError) as caught:
        parse_zone("$TTL 60\n$INCLUDE missing.db\n", "example.org.", str(main), read_text)
    assert str(caught.value).startswith(f"{tmp_path}/{error}")


def test_include_needs_a_reader() -> None:
    with pytest.raises(CorefileError) as caught:
        parse_zone("$INCLUDE other.db\n", "example.org.", "db.example.org")
    assert str(caught.value) == "db.example.org:1: file: $INCLUDE is not allowed here"
