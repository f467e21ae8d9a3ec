"""The `errors` stanza: Corefile snippets to a config, or to an error naming file and line."""

import logging

import pytest

from clusterdns.corefile.lexer import CorefileError
from clusterdns.plugins.errors.handler import ErrorsHandler
from clusterdns.plugins.errors.options import ErrorsConfig, parse
from clusterdns.plugins.errors.setup import setup
from tests.plugins.errors.conftest import FakeClock, context, stanza

Pattern = tuple[float, str, int, bool]  # window, regexp, level, show_first


def patterns(config: ErrorsConfig) -> list[Pattern]:
    """The consolidate lines of `config` as plain values."""
    return [(p.window, p.regexp.pattern, p.level, p.show_first) for p in config.consolidate]


@pytest.mark.parametrize(
    ("text", "expected", "stacktrace"),
    [
        pytest.param("errors", [], False, id="bare"),
        pytest.param("errors stdout", [], False, id="stdout"),
        pytest.param("errors {\n stacktrace\n}", [], True, id="stacktrace"),
        pytest.param(
            'errors {\n consolidate 5m ".* i/o timeout$" warning\n'
            ' consolidate 30s "^Failed to .+"\n}',
            [
                (300.0, ".* i/o timeout$", logging.WARNING, False),
                (30.0, "^Failed to .+", 40, False),
            ],
            False,
            id="readme-example",
        ),
        pytest.param(
            "errors {\n consolidate 30s ^x show_first\n}",
            [(30.0, "^x", logging.ERROR, True)],
            False,
            id="show-first-default-level",
        ),
        pytest.param(
            "errors {\n consolidate 1m x info show_first\n stacktrace\n}",
            [(60.0, "x", logging.INFO, True)],
            True,
            id="level-and-show-first",
        ),
        pytest.param(
            "errors {\n consolidate 1s x warn\n consolidate 2s y debug\n}",
            [(1.0, "x", logging.WARNING, False), (2.0, "y", logging.DEBUG, False)],
            False,
            id="warn-alias-and-debug",
        ),
    ],
)
def test_parse(text: str, expected: list[Pattern], stacktrace: bool) -> None:
    config = parse(stanza(text))
    assert patterns(config) == expected
    assert config.stacktrace is stacktrace


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "errors stderr",
            "Corefile:2: errors: invalid log file 'stderr', expected stdout",
            id="file",
        ),
        pytest.param(
            "errors stdout x", "Corefile:2: errors: expected at most 1 argument", id="args"
        ),
        pytest.param(
            "errors {\n panic\n}", "Corefile:3: errors: unknown property 'panic'", id="property"
        ),
        pytest.param(
            "errors {\n stacktrace yes\n}",
            "Corefile:3: errors: stacktrace: expected no arguments, got 1: yes",
            id="stacktrace-arg",
        ),
        pytest.param(
            "errors {\n consolidate 5m\n}",
            "Corefile:3: errors: consolidate: expected 2..4 arguments, got 1: 5m",
            id="consolidate-short",
        ),
        pytest.param(
            "errors {\n consolidate soon x\n}",
            "Corefile:3: errors: consolidate: DURATION must be a duration such as 5s",
            id="duration",
        ),
        pytest.param(
            "errors {\n consolidate -1s x\n}",
            "Corefile:3: errors: consolidate: DURATION must be at least 0s, got -1s",
            id="negative-duration",
        ),
        pytest.param(
            'errors {\n consolidate 5s "(x"\n}',
            "Corefile:3: errors: consolidate: invalid REGEXP '(x': missing ), unterminated",
            id="regexp",
        ),
        pytest.param(
            f"errors {{\n consolidate 5s {'x' * 10_001}\n}}",
            "Corefile:3: errors: consolidate: REGEXP must be at most 10000 characters, got 10001",
            id="regexp-too-long",
        ),
        pytest.param(
            "errors {\n consolidate 5s x loud\n}",
            "Corefile:3: errors: consolidate: LEVEL must be one of warning, warn, error, info,"
            " debug, got 'loud'",
            id="level",
        ),
        pytest.param(
            "errors {\n consolidate 5s x info twice\n}",
            "Corefile:3: errors: consolidate: expected show_first after LEVEL, got 'twice'",
            id="after-level",
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse(stanza(text))
    assert str(caught.value).startswith(message)


def test_setup_makes_a_handler_on_the_context_clock() -> None:
    clock = FakeClock()
    handler = setup(stanza("errors {\n consolidate 5s x\n}"), context(clock))
    assert isinstance(handler, ErrorsHandler)
    assert handler.name == "errors"
    assert patterns(handler.config) == [(5.0, "x", logging.ERROR, False)]
