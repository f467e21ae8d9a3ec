"""The `errors [stdout] { stacktrace; consolidate ... }` stanza as a frozen config."""

import logging
import re
from dataclasses import dataclass

from clusterdns.corefile.directive import (
    arg_duration,
    check_properties,
    directive_error,
    expect_args,
)
from clusterdns.corefile.parser import Directive
from clusterdns.plugins.errors.consolidate import Consolidate

# CoreDNS's consolidate levels; `warn` is what its README said for a while.
LEVELS = {
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}
MAX_REGEXP = 10_000  # CoreDNS's limit on a consolidate REGEXP, in characters
SHOW_FIRST = "show_first"


@dataclass(frozen=True, slots=True)
class ErrorsConfig:
    """What the stanza says: consolidation patterns in order, and whether to add tracebacks."""

    consolidate: tuple[Consolidate, ...] = ()
    stacktrace: bool = False


def parse(directive: Directive) -> ErrorsConfig:
    """The config of an `errors` directive; CorefileError (with file:line) if invalid."""
    args = expect_args(directive, 0, 1)
    if args and args[0] != "stdout":
        raise directive_error(directive, f"invalid log file '{args[0]}', expected stdout")
    check_properties(directive, ("consolidate", "stacktrace"))
    patterns: list[Consolidate] = []
    stacktrace = False
    for option in directive.block:
        if option.name == "stacktrace":
            expect_args(option, 0, 0, directive)
            stacktrace = True
        else:
            patterns.append(_consolidate(option, directive))
    return ErrorsConfig(tuple(patterns), stacktrace)


def _consolidate(option: Directive, parent: Directive) -> Consolidate:
    args = list(expect_args(option, 2, 4, parent))
    window = arg_duration(option, 0, 0.0, None, "DURATION", parent)
    text = args[1]
    if len(text) > MAX_REGEXP:
        problem = f"REGEXP must be at most {MAX_REGEXP} characters, got {len(text)}"
        raise directive_error(option, problem, parent)
    try:
        regexp = re.compile(text)
    except re.error as exc:
        raise directive_error(option, f"invalid REGEXP '{text}': {exc}", parent) from None
    rest = args[2:]
    show_first = bool(rest) and rest[-1] == SHOW_FIRST
    if show_first:
        rest.pop()
    if len(rest) > 1:
        raise directive_error(option, f"expected {SHOW_FIRST} after LEVEL, got '{rest[1]}'", parent)
    level = logging.ERROR
    if rest:
        if rest[0] not in LEVELS:
            expected = ", ".join(LEVELS)
            raise directive_error(
                option, f"LEVEL must be one of {expected}, got '{rest[0]}'", parent
            )
        level = LEVELS[rest[0]]
    return Consolidate(window, regexp, level, show_first)
