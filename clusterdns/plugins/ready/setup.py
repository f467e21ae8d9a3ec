"""`ready [ADDRESS]`: registers /ready, answering from the process's Readiness."""

from dataclasses import dataclass

from clusterdns.corefile.directive import expect_args, expect_no_block
from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.server.http import HttpListeners
from clusterdns.server.readiness import Readiness

DEFAULT_ADDRESS = ":8181"


@dataclass(frozen=True, slots=True)
class ReadyPlugin:
    """Where /ready is served."""

    address: str = DEFAULT_ADDRESS
    name: str = "ready"


def setup(directive: Directive, context: SetupContext) -> ReadyPlugin:
    """Parse the stanza and route /ready to the process's Readiness."""
    args = expect_args(directive, 0, 1)
    expect_no_block(directive)
    plugin = ReadyPlugin(args[0] if args else DEFAULT_ADDRESS)
    readiness = context.shared.get("ready", Readiness, Readiness)
    listeners = context.shared.get("http", HttpListeners, HttpListeners)
    listeners.route(plugin.address, "/ready", readiness.reply)
    return plugin
