"""`loadbalance [round_robin]`: the stanza as a frozen config, and the handler it makes."""

from dataclasses import dataclass

from clusterdns.corefile.directive import check_properties, directive_error, expect_args
from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.plugins.loadbalance.handler import LoadBalanceHandler

# The handler each policy makes; CoreDNS's default policy is round_robin.
_HANDLERS = {"round_robin": LoadBalanceHandler}
POLICIES = tuple(_HANDLERS)
# CoreDNS policies and properties clusterdns does not implement: named in the error.
_UNSUPPORTED = ("weighted",)


@dataclass(frozen=True, slots=True)
class LoadBalanceConfig:
    """What the stanza says: the policy (only round_robin)."""

    policy: str = "round_robin"


def parse(directive: Directive) -> LoadBalanceConfig:
    """The config of a `loadbalance` directive; CorefileError (with file:line) if invalid."""
    args = directive.args
    expected = " or ".join(POLICIES)
    if args and args[0] in _UNSUPPORTED:
        raise directive_error(
            directive, f"policy '{args[0]}' is not supported, expected {expected}"
        )
    if args and args[0] not in POLICIES:
        raise directive_error(directive, f"unknown policy '{args[0]}', expected {expected}")
    expect_args(directive, 0, 1)
    check_properties(directive, ())
    return LoadBalanceConfig(args[0]) if args else LoadBalanceConfig()


def setup(directive: Directive, context: SetupContext) -> LoadBalanceHandler:
    """Parse the stanza and make the handler of its policy."""
    return _HANDLERS[parse(directive).policy]()
