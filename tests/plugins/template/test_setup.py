"""`template` stanzas: parsed options, and errors naming FILE:LINE, directive and token."""

import pytest

from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import parse_corefile
from clusterdns.plugins.template.options import parse_templates
from clusterdns.plugins.template.setup import setup
from tests.plugins.rewrite.conftest import FakeClock, context, stanza


def test_readme_a_and_ptr_templates() -> None:
    block = parse_corefile(
        ". {\n"
        "template IN A example {\n"
        "  match (^|[.])ip-(?P<a>[0-9]*)-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)"
        "[.]example[.]$\n"
        '  answer "{{ .Name }} 60 IN A'
        ' {{ .Group.a }}.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"\n'
        "  fallthrough\n"
        "}\n"
        "template IN PTR in-addr.arpa {\n"
        "  match ^(?P<d>[0-9]*)[.](?P<c>[0-9]*)[.](?P<b>[0-9]*)[.](?P<a>[0-9]*)"
        "[.]in-addr[.]arpa[.]$\n"
        '  answer "{{ .Name }} 60 IN PTR'
        ' ip-{{ .Group.a }}-{{ .Group.b }}-{{ .Group.c }}-{{ .Group.d }}.example."\n'
        "}\n"
        "}\n"
    ).blocks[0]
    first, second = parse_templates(block.directives, (".",))
    assert (first.qclass, first.qtype, first.zones, first.fallthrough) == (1, 1, ("example.",), ())
    assert (second.qtype, second.zones, second.fallthrough) == (12, ("in-addr.arpa.",), None)
    assert [r.section for r in first.records] == ["answer"]
    assert not first.per_client


def test_defaults_zone_from_the_server_block_and_regex_everything() -> None:
    (config,) = parse_templates((stanza("template ANY ANY {\n rcode NXDOMAIN\n}"),), ("corp.",))
    assert (config.qclass, config.qtype, config.zones, config.rcode) == (255, 255, ("corp.",), 3)
    assert config.regexes[0].pattern == ".*"


def test_setup_makes_one_handler_for_every_occurrence() -> None:
    directives = (stanza("template IN A a.example"), stanza("template IN AAAA b.example"))
    handler = setup(directives, context(FakeClock()))
    assert [t.zones for t in handler.templates] == [("a.example.",), ("b.example.",)]
    assert handler.zones == ("a.example.", "b.example.")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("template IN", "template: expected at least 2 arguments", id="no-type"),
        pytest.param("template XX A", "template: invalid query class 'XX'", id="bad-class"),
        pytest.param("template IN BOGUS", "template: invalid query type 'BOGUS'", id="bad-type"),
        pytest.param(
            "template IN A {\n match (unclosed\n}",
            "template: match: could not parse regex '(unclosed'",
            id="bad-regex",
        ),
        pytest.param(
            'template IN A {\n answer "{{ .Nmae }}"\n}',
            "template: answer: could not parse template '{{ .Nmae }}': unknown field '.Nmae'",
            id="bad-field",
        ),
        pytest.param(
            'template IN A {\n additional "{{ if .Name }}{{ end }}"\n}',
            "template: additional: could not parse template",
            id="if-action",
        ),
        pytest.param(
            'template IN A {\n authority "{{ lower .Name }}"\n}',
            "function 'lower' is not supported",
            id="unknown-function",
        ),
        pytest.param(
            "template IN A {\n rcode NOPE\n}",
            "template: rcode: unknown rcode 'NOPE'",
            id="bad-rcode",
        ),
        pytest.param(
            "template IN A {\n answer\n}",
            "template: answer: expected at least 1",
            id="empty-answer",
        ),
        pytest.param(
            "template IN A {\n var ip group('ip')\n}", "expressions (var, expr)", id="var"
        ),
        pytest.param(
            "template IN A {\n bogus 1\n}",
            "template: unknown property 'bogus'",
            id="unknown-property",
        ),
        pytest.param(
            "template IN A {\n ederror x\n}", "bad extended error code 'x'", id="bad-ederror"
        ),
    ],
)
def test_bad_stanzas(text: str, message: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse_templates((stanza(text),), (".",))
    assert str(caught.value).startswith("Corefile:")
    assert message in str(caught.value)


def test_error_line_is_the_line_of_the_bad_property() -> None:
    with pytest.raises(CorefileError, match=r"^Corefile:4: template: answer: "):
        parse_templates((stanza('template IN A {\n match x\n answer "{{ nope }}"\n}'),), (".",))
