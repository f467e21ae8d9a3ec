"""`ready [ADDRESS]`: registers /ready, answering from the process's Readiness."""

from dataclasses import dataclass

from clusterdns.corefile.directive import expect_args, expect_no_block
from clusterdns.corefile.parser import Directive
from clusterdns.plugin import ReadyReporter, SetupContext
from clusterdns.server.http import HttpListeners, HttpReply

DEFAULT_ADDRESS = ":8181"


class Readiness:
    """Every plugin that reports readiness, and whether shutdown has begun (one per process)."""

    def __init__(self) -> None:
        self.reporters: list[tuple[str, ReadyReporter]] = []
        self.stopping = False

    def not_ready(self) -> list[str]:
        """Names of the plugins not ready yet (CoreDNS lists them in the 503 body)."""
        return [name for name, reporter in self.reporters if not reporter.ready()]

    def reply(self) -> HttpReply:
        """200 OK when every reporter is ready and the process is not stopping, else 503."""
        if self.stopping:
            return HttpReply(503, b"shutting down")
        waiting = self.not_ready()
        if waiting:
            return HttpReply(503, ", ".join(sorted(set(waiting))).encode())
        return HttpReply(200, b"OK")


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
