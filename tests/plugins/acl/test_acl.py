"""`acl`: CoreDNS's README examples parse and decide as documented; bad rules name the token."""

import ipaddress

import pytest

from clusterdns.assembly import build_servers
from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import parse_corefile
from clusterdns.plugin import Request, Response
from clusterdns.plugins.acl.handler import AclHandler
from clusterdns.plugins.acl.options import Policy, Rule, parse
from clusterdns.plugins.acl.setup import setup
from tests.fakes.plugins import FakeClock, build_request, context, stanza

ALL = ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "acl {\n  block type A net 192.168.0.0/16\n}",
            Rule((".",), (Policy("block", frozenset({1}), (net("192.168.0.0/16"),)),)),
            id="doc-block",
        ),
        pytest.param(
            "acl {\n  filter type A net 192.168.0.0/16\n}",
            Rule((".",), (Policy("filter", frozenset({1}), (net("192.168.0.0/16"),)),)),
            id="doc-filter",
        ),
        pytest.param(
            "acl {\n  allow net 192.168.0.0/24 192.168.1.0/24\n  block\n}",
            Rule(
                (".",),
                (
                    Policy("allow", None, (net("192.168.0.0/24"), net("192.168.1.0/24"))),
                    Policy("block", None, None),
                ),
            ),
            id="doc-allow-only",
        ),
        pytest.param(
            "acl a.example.org {\n  block net 192.168.1.0/24\n}",
            Rule(("a.example.org.",), (Policy("block", None, (net("192.168.1.0/24"),)),)),
            id="doc-zone",
        ),
        pytest.param(
            "acl {\n  drop net 192.0.2.0/24\n}",
            Rule((".",), (Policy("drop", None, (net("192.0.2.0/24"),)),)),
            id="doc-drop",
        ),
        pytest.param(
            "acl {\n  block type * net *\n}",
            Rule((".",), (Policy("block", None, ALL),)),
            id="stars",
        ),
        pytest.param(
            "acl {\n  BLOCK net 10.0.0.1 type AAAA MX\n}",
            Rule((".",), (Policy("block", frozenset({28, 15}), (net("10.0.0.1/32"),)),)),
            id="single-address-any-order",
        ),
    ],
)
def test_parse(text: str, expected: Rule) -> None:
    assert parse(stanza(text), (".",)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "acl {\n  deny net 10.0.0.0/8\n}",
            "Corefile:3: acl: unexpected token 'deny', expected one of allow, block, filter, drop",
            id="action",
        ),
        pytest.param(
            "acl {\n  block type AA\n}",
            "Corefile:3: acl: unexpected token 'AA', expected a QTYPE such as A or AAAA",
            id="qtype",
        ),
        pytest.param(
            "acl {\n  block net 10.0.0.0/33\n}",
            "Corefile:3: acl: illegal CIDR notation '10.0.0.0/33'",
            id="cidr",
        ),
        pytest.param(
            "acl {\n  block net\n}", "Corefile:3: acl: no value in the 'net' section", id="empty"
        ),
        pytest.param(
            "acl {\n  block source 10.0.0.1\n}",
            "Corefile:3: acl: unexpected token 'source', expected 'type' or 'net'",
            id="section",
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse(stanza(text), (".",))
    assert str(caught.value) == message


ALLOW_ONLY = "acl {\n  allow net 192.168.0.0/24 192.168.1.0/24\n  block\n}"
EXCEPT = "acl {\n  allow net 192.168.1.0/24\n  block net 192.168.0.0/16\n}"
ZONED = "acl a.example.org {\n  block net 192.168.1.0/24\n}"


@pytest.mark.parametrize(
    ("text", "name", "qtype", "client", "expected"),
    [
        pytest.param(ALLOW_ONLY, "x.org.", "A", "192.168.1.7", "next", id="allow-listed"),
        pytest.param(ALLOW_ONLY, "x.org.", "A", "10.1.1.1", "REFUSED", id="block-rest"),
        pytest.param(EXCEPT, "x.org.", "A", "192.168.1.7", "next", id="except-allowed"),
        pytest.param(EXCEPT, "x.org.", "A", "192.168.9.7", "REFUSED", id="except-blocked"),
        pytest.param(EXCEPT, "x.org.", "A", "10.0.0.1", "next", id="default-allow"),
        pytest.param(ZONED, "a.example.org.", "A", "192.168.1.2", "REFUSED", id="zone-hit"),
        pytest.param(ZONED, "b.example.org.", "A", "192.168.1.2", "next", id="zone-miss"),
        pytest.param(
            "acl {\n  filter type A net 192.168.0.0/16\n}",
            "x.org.",
            "A",
            "192.168.3.3",
            "NOERROR",
            id="filter-empty-noerror",
        ),
        pytest.param(
            "acl {\n  filter type A net 192.168.0.0/16\n}",
            "x.org.",
            "AAAA",
            "192.168.3.3",
            "next",
            id="filter-other-type",
        ),
        pytest.param(
            "acl {\n  drop net 192.0.2.0/24\n}", "x.org.", "A", "192.0.2.5", "drop", id="drop"
        ),
        pytest.param(
            "acl {\n  block net 2001:db8::/32\n}", "x.org.", "A", "2001:db8::1", "REFUSED", id="v6"
        ),
    ],
)
async def test_decisions(text: str, name: str, qtype: str, client: str, expected: str) -> None:
    handler = setup((stanza(text),), context(FakeClock()))

    async def next(request: Request) -> Response:
        return Response("next")

    response = await handler.serve(build_request(name, qtype, client=(client, 5353)), next)
    if response.drop:
        assert expected == "drop"
    elif response.plugin == "next":
        assert expected == "next"
    else:
        assert response.answer is not None and response.answer.rcode.name == expected
        assert response.answer.answer == ()


def test_several_acl_stanzas_in_a_block_are_one_rule_list() -> None:
    corefile = parse_corefile(
        ".:0 {\n  acl a.example.org {\n    block\n  }\n  acl {\n    allow\n  }\n}\n"
    )
    clock = FakeClock()
    (server,) = build_servers(corefile, context(clock), 53)
    plugins = [plugin for name, plugin in server.plugins if name == "acl"]
    assert len(plugins) == 1 and isinstance(plugins[0], AclHandler)
    assert [rule.zones for rule in plugins[0].rules] == [("a.example.org.",), (".",)]
    assert not server.hot_path  # answers depend on the client: nothing pre-encoded
