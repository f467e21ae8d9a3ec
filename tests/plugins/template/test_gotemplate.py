"""The Go template subset: what renders, what fails per query, what is rejected at load."""

import pytest

from clusterdns.plugins.template.gotemplate import (
    Message,
    Question,
    TemplateExecError,
    TemplateSyntaxError,
    parse,
)

QUESTION = Question("ip-10-1-2-3.example.", 1, 1, ";ip-10-1-2-3.example.\tIN\t A")
DATA: dict[str, object] = {
    "Name": "ip-10-1-2-3.example.",
    "Zone": "example.",
    "Class": "IN",
    "Type": "A",
    "Regex": "x",
    "Match": ["ip-10-1-2-3.example.", "10", "7b"],
    "Group": {"0": "ip-10-1-2-3.example.", "a": "10", "h": "7b"},
    "Message": Message(4242, 0x0100, QUESTION),
    "Question": QUESTION,
    "Remote": "192.0.2.9",
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            "{{ .Name }} 60 IN A 10.0.0.1", "ip-10-1-2-3.example. 60 IN A 10.0.0.1", id="field"
        ),
        pytest.param(
            "{{ .Zone }}|{{ .Class }}|{{ .Type }}|{{ .Remote }}",
            "example.|IN|A|192.0.2.9",
            id="plain-fields",
        ),
        pytest.param("{{ index .Match 1 }}", "10", id="index-match"),
        pytest.param('{{ .Group.a }}.{{ index .Group "h" }}', "10.7b", id="groups"),
        pytest.param("{{ .Group.missing }}", "<no value>", id="missing-group-as-go"),
        pytest.param("{{ parseInt .Group.h 16 8 }}", "123", id="parseInt"),
        pytest.param("{{ (parseInt .Group.h 16 8) }}", "123", id="parenthesised"),
        # Go appends the piped value as the last argument: index .Group "10" -> no such key.
        pytest.param("{{ .Group.a | index .Group }}", "<no value>", id="pipeline-appends-value"),
        pytest.param(
            "{{ .Question.Name }} {{ .Question.Qtype }}",
            "ip-10-1-2-3.example. 1",
            id="question-fields",
        ),
        pytest.param(
            "{{ .Message.Id }} {{ .Message.RecursionDesired }}", "4242 true", id="message-fields"
        ),
        pytest.param("{{ .Question }}", ";ip-10-1-2-3.example.\tIN\t A", id="question-printed"),
        pytest.param("{{ .Match }}", "[ip-10-1-2-3.example. 10 7b]", id="list-printed"),
        pytest.param("a {{- .Type -}} b", "aAb", id="trim-markers"),
        pytest.param("x{{/* a comment */}}y", "xy", id="comment"),
        pytest.param('{{ "lit\\"eral" }} {{ `raw` }} {{ 0x10 }}', 'lit"eral raw 16', id="literals"),
        pytest.param("no actions at all", "no actions at all", id="text-only"),
    ],
)
def test_renders(source: str, expected: str) -> None:
    assert parse(source).render(DATA) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param("{{ index .Match 9 }}", "index out of range", id="index-out-of-range"),
        pytest.param("{{ parseInt .Group.h 10 8 }}", "invalid syntax", id="parseInt-bad-digits"),
        pytest.param("{{ parseInt .Group.a 10 3 }}", "out of range", id="parseInt-too-big"),
        pytest.param("{{ parseInt .Group.h 16 }}", "3 arguments", id="parseInt-arity"),
    ],
)
def test_fails_per_query(source: str, message: str) -> None:
    with pytest.raises(TemplateExecError, match=message):
        parse(source).render(DATA)


@pytest.mark.parametrize(
    ("source", "token"),
    [
        pytest.param("{{ .Bogus }}", "unknown field '.Bogus'", id="unknown-field"),
        pytest.param("{{ if .Name }}x{{ end }}", "'if' actions are not supported", id="if"),
        pytest.param("{{ range .Match }}{{ . }}{{ end }}", "'range'", id="range"),
        pytest.param("{{ $x := .Name }}", "variables are not supported: '$x'", id="variable"),
        pytest.param(
            '{{ printf "%s" .Name }}', "function 'printf' is not supported", id="other-function"
        ),
        pytest.param("{{ .Name", "unclosed action", id="unclosed"),
        pytest.param("{{ .Name .Zone }}", "unexpected '.Zone'", id="two-values"),
        pytest.param("{{ .Name | .Zone }}", "only a function can follow '|'", id="pipe-to-value"),
        pytest.param("{{ (index .Match 1 }}", "unclosed '('", id="unclosed-paren"),
        pytest.param("{{ .Message }}", "'.Message' alone", id="whole-message"),
        pytest.param(
            "{{ .Question.Bogus }}", "'.Question.Bogus' is not supported", id="question-field"
        ),
        pytest.param("{{ .Name.Length }}", ".Name has no fields", id="string-field"),
        pytest.param("{{ }}", "missing value", id="empty-action"),
        pytest.param("{{/* open }}", "unclosed comment", id="unclosed-comment"),
    ],
)
def test_rejected_at_load_naming_the_token(source: str, token: str) -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        parse(source)
    assert token in str(caught.value)


@pytest.mark.parametrize(
    ("source", "fields"),
    [
        pytest.param("{{ .Name }} 60 IN A {{ .Group.a }}", {"Name", "Group"}, id="question-only"),
        pytest.param("{{ .Name }} 0 IN TXT {{ .Remote }}", {"Name", "Remote"}, id="remote"),
        pytest.param("{{ .Message.Id }}", {"Message"}, id="message"),
    ],
)
def test_fields_read_are_known_at_load(source: str, fields: set[str]) -> None:
    assert parse(source).fields == fields
