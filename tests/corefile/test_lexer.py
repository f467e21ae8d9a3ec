"""Corefile lexing: words, quotes, comments, braces, lines and env values, and located errors."""

import json

import pytest

from clusterdns.corefile.lexer import CorefileError, Kind, Token, substitute_env, tokenize


def render(tokens: tuple[Token, ...]) -> list[str]:
    """One string per source line holding tokens: `LINE: tok tok`, quoted tokens in JSON."""
    lines: list[str] = []
    for token in tokens:
        text = json.dumps(token.text) if token.quoted else token.text
        if token.line_start or not lines:
            lines.append(f"{token.line}: {text}")
        else:
            lines[-1] += f" {text}"
    return lines


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", [], id="empty"),
        pytest.param(" \n\t\n", [], id="only-space"),
        pytest.param(
            ".:53 {\n    errors\n}\n", ["1: .:53 {", "2: errors", "3: }"], id="server-block"
        ),
        pytest.param(
            "cache 30 {\n disable success cluster.local\n}",
            ["1: cache 30 {", "2: disable success cluster.local", "3: }"],
            id="directive-block",
        ),
        pytest.param("errors # log them\nready", ["1: errors", "2: ready"], id="comment-after"),
        pytest.param("# all comment\n  # more\nready", ["3: ready"], id="comment-lines"),
        pytest.param("a#b c\nd", ["1: a", "2: d"], id="hash-inside-word-starts-comment"),
        pytest.param('x "a # b"', ['1: x "a # b"'], id="hash-inside-quotes"),
        pytest.param('chaos "CoreDNS 001"', ['1: chaos "CoreDNS 001"'], id="quoted-space"),
        pytest.param(r'x "say \"hi\""', ['1: x "say \\"hi\\""'], id="escaped-quote"),
        pytest.param(r'x "a\nb\\c"', ['1: x "a\\\\nb\\\\\\\\c"'], id="other-backslashes-kept"),
        pytest.param('x ""', ['1: x ""'], id="empty-quoted"),
        pytest.param('x "a\nb" y\nz', ['1: x "a\\nb" y', "3: z"], id="quote-spans-lines"),
        pytest.param('x "a"b', ['1: x "a" b'], id="quote-ends-token"),
        pytest.param('x a"b c"', ['1: x a"b c"'], id="quote-inside-word-is-literal"),
        pytest.param("a{ }b {}", ["1: a{ }b {}"], id="braces-only-standalone"),
        pytest.param("a\r\nb\r\n", ["1: a", "2: b"], id="crlf"),
        pytest.param("\ufeff. {\n}", ["1: . {", "2: }"], id="byte-order-mark"),
        pytest.param("a,b c, d", ["1: a,b c, d"], id="commas-stay-in-words"),
    ],
)
def test_tokens(text: str, expected: list[str]) -> None:
    assert render(tokenize(text)) == expected


def test_brace_kinds() -> None:
    assert {t.kind for t in tokenize("a{ }b {} {{ x}")} == {Kind.WORD}
    assert [t.kind for t in tokenize("{ } { }")] == [Kind.OPEN, Kind.CLOSE] * 2


def test_token_fields() -> None:
    tokens = tokenize('cache 30 {\n "{"\n}', "conf/Corefile")
    assert [t.kind for t in tokens] == [Kind.WORD, Kind.WORD, Kind.OPEN, Kind.WORD, Kind.CLOSE]
    assert tokens[3] == Token(Kind.WORD, "{", "conf/Corefile", 2, True, quoted=True)
    assert [t.line_start for t in tokens] == [True, False, False, True, True]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("forward . {$UPSTREAM}", ["1: forward . 10.0.0.10"], id="set"),
        pytest.param("forward . {%UPSTREAM%}", ["1: forward . 10.0.0.10"], id="windows-form"),
        pytest.param("x {$UNSET} y", ["1: x  y"], id="unset-is-empty"),
        pytest.param("x pre-{$ZONE}-post", ["1: x pre-cluster.local-post"], id="inside-word"),
        pytest.param("x {$SPACED}", ["1: x a b # c"], id="value-stays-one-token"),
        pytest.param('x "{$SPACED}"', ['1: x "a b # c"'], id="inside-quotes"),
        pytest.param("x {$ZONE:example.org}", ["1: x "], id="no-default-syntax"),
        pytest.param("x {$} {$ZONE", ["1: x {$} {$ZONE"], id="not-references"),
        pytest.param("x {$NESTED}", ["1: x {$ZONE}"], id="values-not-rescanned"),
    ],
)
def test_env_substitution(text: str, expected: list[str]) -> None:
    env = {
        "UPSTREAM": "10.0.0.10",
        "ZONE": "cluster.local",
        "SPACED": "a b # c",
        "NESTED": "{$ZONE}",
    }
    assert render(tokenize(text, env=env)) == expected


def test_env_value_never_becomes_a_brace() -> None:
    tokens = tokenize("x {$OPEN}", env={"OPEN": "{"})
    assert tokens[1].kind is Kind.WORD and tokens[1].text == "{"


def test_substitute_env_directly() -> None:
    assert substitute_env("{$A}.{%B%}", {"A": "x", "B": "y"}) == "x.y"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param('x "abc', "Corefile:1: unterminated quoted string", id="unterminated"),
        pytest.param(
            'a\nb\nc "d\ne\n', "Corefile:3: unterminated quoted string", id="line-of-quote"
        ),
        pytest.param(
            'x "abc\\"', "Corefile:1: unterminated quoted string", id="escaped-last-quote"
        ),
        pytest.param('x "abc\\', "Corefile:1: unterminated quoted string", id="trailing-backslash"),
    ],
)
def test_errors(text: str, error: str) -> None:
    with pytest.raises(CorefileError, match="^" + error):
        tokenize(text)


def test_error_names_the_file() -> None:
    with pytest.raises(CorefileError) as caught:
        tokenize('\n"x', "/etc/coredns/Corefile")
    assert (caught.value.file, caught.value.line) == ("/etc/coredns/Corefile", 2)
    assert str(caught.value).startswith("/etc/coredns/Corefile:2: unterminated quoted string")
