"""Directive checks: Go durations, argument counts, integers, choices and properties."""

import pytest

from clusterdns.corefile.directive import (
    arg_choice,
    arg_duration,
    arg_int,
    check_properties,
    duration,
    expect_args,
    expect_no_block,
    format_duration,
)
from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import Directive, parse_corefile


def directive(line: str) -> Directive:
    """The first directive of a server block holding `line` (the directive is on line 2)."""
    return parse_corefile(f".:53 {{\n    {line}\n}}\n").blocks[0].directives[0]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("0", 0.0, id="bare-zero"),
        pytest.param("5s", 5.0, id="seconds"),
        pytest.param("1m30s", 90.0, id="minutes-seconds"),
        pytest.param("100ms", 0.1, id="milliseconds"),
        pytest.param("1h", 3600.0, id="hour"),
        pytest.param("1.5h", 5400.0, id="fraction"),
        pytest.param(".5s", 0.5, id="leading-dot"),
        pytest.param("1.s", 1.0, id="trailing-dot"),
        pytest.param("2h45m10.5s", 9910.5, id="three-units"),
        pytest.param("1500us", 0.0015, id="microseconds"),
        pytest.param("1500\u00b5s", 0.0015, id="micro-sign"),
        pytest.param("1500\u03bcs", 0.0015, id="greek-mu"),
        pytest.param("250ns", 2.5e-7, id="nanoseconds"),
        pytest.param("+5s", 5.0, id="plus"),
        pytest.param("-1m", -60.0, id="minus"),
        pytest.param("30s30s", 60.0, id="repeated-unit-adds"),
    ],
)
def test_duration(text: str, seconds: float) -> None:
    assert duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("5", id="missing-unit"),
        pytest.param("s", id="missing-number"),
        pytest.param(".s", id="dot-only"),
        pytest.param("5 s", id="space"),
        pytest.param("5sec", id="unknown-unit"),
        pytest.param("5d", id="days-are-not-go"),
        pytest.param("-", id="sign-only"),
        pytest.param("1..5s", id="two-dots"),
        pytest.param("3000000h", id="overflows-int64-nanoseconds"),
    ],
)
def test_duration_errors(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0.0, "0s", id="zero"),
        pytest.param(0.25, "250ms", id="millis"),
        pytest.param(5.0, "5s", id="seconds"),
        pytest.param(90.0, "1m30s", id="minutes"),
        pytest.param(7200.0, "2h", id="hours"),
        pytest.param(-5.0, "-5s", id="negative"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("line", "least", "most", "error"),
    [
        pytest.param("ready x", 0, 0, "ready: expected no arguments, got 1: x", id="none"),
        pytest.param("cache", 1, 1, "cache: expected 1 argument, got none", id="exactly-one"),
        pytest.param(
            "health a b", 0, 1, "health: expected at most 1 argument, got 2: a b", id="max"
        ),
        pytest.param(
            "forward", 2, None, "forward: expected at least 2 arguments, got none", id="min"
        ),
        pytest.param("x 1 2 3", 1, 2, "x: expected 1..2 arguments, got 3: 1 2 3", id="range"),
    ],
)
def test_expect_args_errors(line: str, least: int, most: int | None, error: str) -> None:
    with pytest.raises(CorefileError, match=f"^Corefile:2: {error}$"):
        expect_args(directive(line), least, most)


def test_expect_args_returns_them() -> None:
    assert expect_args(directive("forward . 10.0.0.1"), 2) == (".", "10.0.0.1")
    assert expect_args(directive("ready"), 0, 0) == ()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("cache 30", 30, id="plain"),
        pytest.param("cache 0", 0, id="low-bound"),
        pytest.param("cache 3600", 3600, id="high-bound"),
        pytest.param("cache 0030", 30, id="leading-zeros"),
    ],
)
def test_arg_int(line: str, expected: int) -> None:
    assert arg_int(directive(line), 0, 0, 3600, "TTL") == expected


@pytest.mark.parametrize(
    ("line", "error"),
    [
        pytest.param("cache 99999", "cache: TTL must be 0..3600, got 99999", id="too-big"),
        pytest.param("cache -1", "cache: TTL must be 0..3600, got -1", id="negative"),
        pytest.param("cache 30s", "cache: TTL must be an integer 0..3600, got '30s'", id="text"),
        pytest.param(
            "cache 1_0", "cache: TTL must be an integer 0..3600, got '1_0'", id="underscore"
        ),
        pytest.param("cache", "cache: expected TTL, got nothing", id="missing"),
    ],
)
def test_arg_int_errors(line: str, error: str) -> None:
    with pytest.raises(CorefileError, match=f"^Corefile:2: {error}$"):
        arg_int(directive(line), 0, 0, 3600, "TTL")


def test_default_argument_name() -> None:
    with pytest.raises(CorefileError, match="^Corefile:2: x: argument 2 must be 1..9, got 10$"):
        arg_int(directive("x 1 10"), 1, 1, 9)


def test_arg_duration() -> None:
    health = parse_corefile(".:53 {\n  health {\n    lameduck 5s\n  }\n}").blocks[0].directives[0]
    lameduck = health.block[0]
    assert arg_duration(lameduck, 0, 0.0, 60.0, "lameduck", parent=health) == 5.0


@pytest.mark.parametrize(
    ("line", "hi", "error"),
    [
        pytest.param(
            "lameduck 5",
            None,
            "lameduck: duration must be a duration such as 5s or 1m30s, got '5'",
            id="no-unit",
        ),
        pytest.param(
            "lameduck 2h", 3600.0, "lameduck: duration must be 0s..1h, got 2h", id="above-range"
        ),
        pytest.param(
            "lameduck -1s", None, "lameduck: duration must be at least 0s, got -1s", id="negative"
        ),
    ],
)
def test_arg_duration_errors(line: str, hi: float | None, error: str) -> None:
    with pytest.raises(CorefileError, match=f"^Corefile:2: {error}$"):
        arg_duration(directive(line), 0, 0.0, hi, "duration")


def test_property_errors_name_the_plugin_and_the_property_line() -> None:
    cache = (
        parse_corefile(
            ".:53 {\n  cache 30 {\n    disable sucess cluster.local\n    prefetch 10\n  }\n}"
        )
        .blocks[0]
        .directives[0]
    )
    disable = cache.block[0]
    with pytest.raises(
        CorefileError,
        match="^Corefile:3: cache: disable: type must be one of success, denial, got 'sucess'$",
    ):
        arg_choice(disable, 0, ("success", "denial"), "type", parent=cache)
    with pytest.raises(
        CorefileError,
        match="^Corefile:4: cache: unknown property 'prefetch', expected one of: disable, success$",
    ):
        check_properties(cache, {"success", "disable"})
    check_properties(cache, {"disable", "prefetch"})


def test_expect_no_block() -> None:
    expect_no_block(directive("errors"))
    with pytest.raises(
        CorefileError, match="^Corefile:2: ready: expected no block, got properties a, b$"
    ):
        expect_no_block(directive("ready {\n a\n b 1\n a\n }"))
