"""`log [NAMES...] [FORMAT] { class CLASSES...; minDuration [DURATION] }` as a frozen config."""

from dataclasses import dataclass

from clusterdns.corefile.directive import (
    arg_duration,
    check_properties,
    directive_error,
    expect_args,
)
from clusterdns.corefile.parser import Directive
from clusterdns.dns.names import ROOT, normalize
from clusterdns.plugins.log.reply import CLASSES
from clusterdns.plugins.log.template import COMMON, SHORTHANDS

DEFAULT_MIN_DURATION = 0.1  # CoreDNS: `minDuration` without a value means 100ms


@dataclass(frozen=True, slots=True)
class LogConfig:
    """What the stanza says: names to log, the format, response classes, the slow threshold."""

    names: tuple[str, ...] = (ROOT,)
    format: str = COMMON
    classes: frozenset[str] = frozenset({"all"})
    min_duration: float = 0.0  # seconds; 0: slowness alone does not log a query


def parse(directive: Directive) -> LogConfig:
    """The config of a `log` directive; CorefileError (with file:line) if invalid."""
    args = list(directive.args)
    if len(args) == 1 and "{" in args[0]:
        # CoreDNS reads a lone argument as a name, so `log {combined}` would log nothing.
        problem = f"'{args[0]}' is a format, and a lone argument is a name; write: log . {args[0]}"
        raise directive_error(directive, problem)
    form = COMMON
    if len(args) > 1 and "{" in args[-1]:
        text = args.pop()
        form = SHORTHANDS.get(text, text)
    check_properties(directive, ("class", "minDuration"))
    classes: set[str] = set()
    min_duration = 0.0
    for option in directive.block:
        if option.name == "class":
            for name in expect_args(option, 1, None, directive):
                if name not in CLASSES:
                    expected = ", ".join(CLASSES)
                    problem = f"class must be one of {expected}, got '{name}'"
                    raise directive_error(option, problem, directive)
                classes.add(name)
        else:
            expect_args(option, 0, 1, directive)
            min_duration = DEFAULT_MIN_DURATION
            if option.args:
                min_duration = arg_duration(option, 0, 0.0, None, "DURATION", directive)
    names = tuple(normalize(name) for name in args) or (ROOT,)
    return LogConfig(names, form, frozenset(classes or {"all"}), min_duration)
