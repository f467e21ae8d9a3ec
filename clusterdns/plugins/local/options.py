"""The `local [{ localhost_prefix on|off }]` stanza as a frozen config."""

from dataclasses import dataclass

from clusterdns.corefile.directive import arg_choice, check_properties, expect_args
from clusterdns.corefile.parser import Directive


@dataclass(frozen=True, slots=True)
class LocalConfig:
    """Whether legacy `localhost.<domain>` names are answered too (CoreDNS default: on)."""

    localhost_prefix: bool = True


def parse(directive: Directive) -> LocalConfig:
    """The config of a `local` directive; CorefileError (file:line) if invalid."""
    expect_args(directive, 0, 0)
    check_properties(directive, ("localhost_prefix",))
    config = LocalConfig()
    for option in directive.block:
        expect_args(option, 1, 1, directive)
        config = LocalConfig(arg_choice(option, 0, ("on", "off"), "value", directive) == "on")
    return config
