"""`health [ADDRESS] { lameduck DURATION }`: registers /health on the shared HTTP listeners."""

from dataclasses import dataclass

from clusterdns.corefile.directive import arg_duration, check_properties, expect_args
from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.server.http import HttpListeners, HttpReply

DEFAULT_ADDRESS = ":8080"


@dataclass(frozen=True, slots=True)
class HealthPlugin:
    """Where /health is served, and how long to keep answering after SIGTERM."""

    address: str = DEFAULT_ADDRESS
    lameduck: float = 0.0
    name: str = "health"


def setup(directive: Directive, context: SetupContext) -> HealthPlugin:
    """Parse the stanza and route /health (200 OK while the process runs, as CoreDNS)."""
    args = expect_args(directive, 0, 1)
    check_properties(directive, ("lameduck",))
    lameduck = 0.0
    for option in directive.block:
        expect_args(option, 1, 1, directive)
        lameduck = arg_duration(option, 0, 0.0, None, "lameduck", directive)
    plugin = HealthPlugin(args[0] if args else DEFAULT_ADDRESS, lameduck)
    listeners = context.shared.get("http", HttpListeners, HttpListeners)
    listeners.route(plugin.address, "/health", lambda: HttpReply(200, b"OK"))
    return plugin
