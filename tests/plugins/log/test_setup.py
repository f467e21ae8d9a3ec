"""The `log` stanza: Corefile snippets to a config, or to an error naming file and line."""

import pytest

from clusterdns.corefile.lexer import CorefileError
from clusterdns.plugins.log.handler import LogHandler
from clusterdns.plugins.log.options import LogConfig, parse
from clusterdns.plugins.log.setup import setup
from clusterdns.plugins.log.template import COMBINED, COMMON
from tests.plugins.log.conftest import FakeClock, context, stanza

ALL = frozenset({"all"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("log", LogConfig(), id="bare"),
        pytest.param("log example.org", LogConfig(("example.org.",)), id="one-name"),
        pytest.param(
            "log Example.ORG svc.cluster.local.",
            LogConfig(("example.org.", "svc.cluster.local.")),
            id="names-normalized",
        ),
        pytest.param("log . {combined}", LogConfig((".",), COMBINED), id="combined"),
        pytest.param("log . {common}", LogConfig((".",), COMMON), id="common"),
        pytest.param(
            'log . "{proto} Request: {name} {type} {>id}"',
            LogConfig((".",), "{proto} Request: {name} {type} {>id}"),
            id="custom-format",
        ),
        pytest.param(
            "log a.org b.org {combined}",
            LogConfig(("a.org.", "b.org."), COMBINED),
            id="names-format",
        ),
        pytest.param(
            "log example.org {\n class denial\n}",
            LogConfig(("example.org.",), classes=frozenset({"denial"})),
            id="class",
        ),
        pytest.param(
            "log . {combined} {\n class denial error\n class success\n}",
            LogConfig((".",), COMBINED, frozenset({"denial", "error", "success"})),
            id="classes-or-ed",
        ),
        pytest.param(
            "log {\n minDuration\n}", LogConfig(min_duration=0.1), id="min-duration-default"
        ),
        pytest.param(
            "log . {\n class error\n minDuration 1s\n}",
            LogConfig(classes=frozenset({"error"}), min_duration=1.0),
            id="class-and-min-duration",
        ),
        pytest.param(
            "log {\n class all denial\n}",
            LogConfig(classes=frozenset({"all", "denial"})),
            id="all-with-others",
        ),
    ],
)
def test_parse(text: str, expected: LogConfig) -> None:
    assert parse(stanza(text)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "log {combined}",
            "Corefile:2: log: '{combined}' is a format, and a lone argument is a name; "
            "write: log . {combined}",
            id="lone-format",
        ),
        pytest.param(
            "log {\n class\n}",
            "Corefile:3: log: class: expected at least 1 argument, got none",
            id="class-empty",
        ),
        pytest.param(
            "log {\n class denial nope\n}",
            "Corefile:3: log: class: class must be one of all, denial, error, success, got 'nope'",
            id="class-unknown",
        ),
        pytest.param(
            "log {\n format x\n}", "Corefile:3: log: unknown property 'format'", id="property"
        ),
        pytest.param(
            "log {\n minDuration soon\n}",
            "Corefile:3: log: minDuration: DURATION must be a duration such as 5s",
            id="duration",
        ),
        pytest.param(
            "log {\n minDuration 1s 2s\n}",
            "Corefile:3: log: minDuration: expected at most 1 argument, got 2: 1s 2s",
            id="duration-twice",
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse(stanza(text))
    assert str(caught.value).startswith(message)


def test_setup_makes_a_handler() -> None:
    handler = setup(stanza("log example.org"), context(FakeClock()))
    assert isinstance(handler, LogHandler)
    assert handler.name == "log"
    assert handler.config == LogConfig(("example.org.",), COMMON, ALL)
