"""Checks plugin setups run on a Directive, with errors that name file, line and directive."""

import re
from collections.abc import Collection
from fractions import Fraction

from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import Directive
from clusterdns.dns.names import normalize

# Go's time.ParseDuration units, which CoreDNS plugins accept, in nanoseconds.
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_COMPONENT = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)", re.ASCII)
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_MAX_NANOSECONDS = 2**63 - 1  # a Go time.Duration is an int64 of nanoseconds


def duration(text: str) -> float:
    """Seconds in a Go duration such as `5s`, `1m30s`, `100ms` or `1.5h`; ValueError if bad."""
    rest = text
    sign = -1 if rest.startswith("-") else 1
    if rest[:1] in ("-", "+"):
        rest = rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise ValueError(f"invalid duration {text!r}")
    total = Fraction(0)
    pos = 0
    while pos < len(rest):
        match = _COMPONENT.match(rest, pos)
        if match is None or not (match.group(1) or match.group(2)):
            raise ValueError(f"invalid duration {text!r}")
        whole, fraction, unit = match.group(1) or "0", match.group(2) or "", match.group(3)
        if unit not in _UNITS:
            raise ValueError(f"unknown or missing unit in duration {text!r}")
        value = int(whole) + Fraction(int(fraction or "0"), 10 ** len(fraction))
        total += value * _UNITS[unit]
        pos = match.end()
    if total > _MAX_NANOSECONDS:
        raise ValueError(f"duration {text!r} is too long")
    return sign * float(total / 1_000_000_000)


def format_duration(seconds: float) -> str:
    """A short Go-style rendering of `seconds`: `0s`, `250ms`, `5s`, `1m30s`, `2h`."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    hours, remainder = divmod(seconds, 3600)
    minutes, secs = divmod(remainder, 60)
    parts = (f"{hours:g}h" if hours else "", f"{minutes:g}m" if minutes else "")
    return "".join(parts) + (f"{secs:g}s" if secs else "")


def directive_error(d: Directive, problem: str, parent: Directive | None = None) -> CorefileError:
    """`FILE:LINE: [parent: ]name: problem` for a directive (or a property inside `parent`)."""
    name = f"{parent.name}: {d.name}" if parent is not None else d.name
    return CorefileError(d.file, d.line, f"{name}: {problem}")


def expect_args(
    d: Directive, least: int = 0, most: int | None = None, parent: Directive | None = None
) -> tuple[str, ...]:
    """The arguments of `d`, if there are `least`..`most` of them (`most` None: no limit)."""
    count = len(d.args)
    if count < least or (most is not None and count > most):
        got = f"{count}: {' '.join(d.args)}" if d.args else "none"
        raise directive_error(d, f"expected {_how_many(least, most)}, got {got}", parent)
    return d.args


def expect_no_block(d: Directive, parent: Directive | None = None) -> None:
    """Reject a `{ }` block on a directive that takes no properties."""
    if d.block:
        got = ", ".join(sorted({child.name for child in d.block}))
        raise directive_error(d, f"expected no block, got properties {got}", parent)


def check_properties(d: Directive, allowed: Collection[str]) -> None:
    """Reject any property in the block of `d` whose name is not in `allowed`."""
    for child in d.block:
        if child.name not in allowed:
            expected = ", ".join(sorted(allowed)) if allowed else "none"
            problem = f"unknown property '{child.name}', expected one of: {expected}"
            raise CorefileError(child.file, child.line, f"{d.name}: {problem}")


def arg_int(
    d: Directive,
    index: int,
    lo: int,
    hi: int,
    what: str | None = None,
    parent: Directive | None = None,
) -> int:
    """Argument `index` of `d` as an integer in `lo`..`hi`."""
    what = what or f"argument {index + 1}"
    text = _arg(d, index, what, parent)
    if not _INTEGER.fullmatch(text):
        raise directive_error(d, f"{what} must be an integer {lo}..{hi}, got '{text}'", parent)
    value = int(text)
    if not lo <= value <= hi:
        raise directive_error(d, f"{what} must be {lo}..{hi}, got {value}", parent)
    return value


def arg_duration(
    d: Directive,
    index: int,
    lo: float = 0.0,
    hi: float | None = None,
    what: str | None = None,
    parent: Directive | None = None,
) -> float:
    """Argument `index` of `d` as a Go duration, in seconds, within `lo`..`hi`."""
    what = what or f"argument {index + 1}"
    text = _arg(d, index, what, parent)
    try:
        seconds = duration(text)
    except ValueError:
        problem = f"{what} must be a duration such as 5s or 1m30s, got '{text}'"
        raise directive_error(d, problem, parent) from None
    if seconds < lo or (hi is not None and seconds > hi):
        bounds = f"{format_duration(lo)}..{format_duration(hi)}" if hi is not None else ""
        limit = bounds or f"at least {format_duration(lo)}"
        raise directive_error(d, f"{what} must be {limit}, got {text}", parent)
    return seconds


def arg_choice(
    d: Directive,
    index: int,
    choices: Collection[str],
    what: str | None = None,
    parent: Directive | None = None,
) -> str:
    """Argument `index` of `d`, which must be one of `choices`."""
    what = what or f"argument {index + 1}"
    text = _arg(d, index, what, parent)
    if text not in choices:
        problem = f"{what} must be one of {', '.join(choices)}, got '{text}'"
        raise directive_error(d, problem, parent)
    return text


def _arg(d: Directive, index: int, what: str, parent: Directive | None) -> str:
    if index >= len(d.args):
        raise directive_error(d, f"expected {what}, got nothing", parent)
    return d.args[index]


def _how_many(least: int, most: int | None) -> str:
    def arguments(n: int) -> str:
        return f"{n} argument" + ("" if n == 1 else "s")

    if most is None:
        return f"at least {arguments(least)}"
    if least == most:
        return arguments(least) if least else "no arguments"
    if least == 0:
        return f"at most {arguments(most)}"
    return f"{least}..{arguments(most)}"


def fallthrough_zones(d: Directive) -> tuple[str, ...]:
    """`fallthrough [ZONES...]`: the zones it names, normalized, or the root (every name)."""
    return tuple(normalize(zone) for zone in d.args) or (".",)
