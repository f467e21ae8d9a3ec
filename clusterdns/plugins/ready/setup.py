"""`ready [ADDRESS]`: registers /ready, answering from the process's Readiness."""

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

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
        """200 when every reporter is ready and the process is not stopping, else 503.

        Status codes are CoreDNS's. The body says more than CoreDNS's list of names: while
        not ready, one line per plugin with what it waits for; when ready, `OK` then one
        summary line per plugin that has one.
        """
        if self.stopping:
            return HttpReply(503, b"shutting down\n")
        waiting = [(n, r) for n, r in self.reporters if not r.ready()]
        if waiting:
            lines = [f"{name}: {_detail(reporter, 'not ready')}" for name, reporter in waiting]
            return HttpReply(503, _body(lines))
        summaries = [
            f"{name}: {_detail(reporter, '')}"
            for name, reporter in self.reporters
            if isinstance(reporter, ReadyDescriber)
        ]
        return HttpReply(200, _body(["OK", *summaries]))


@runtime_checkable
class ReadyDescriber(Protocol):
    """A ready reporter that can say what it waits for, or sum up what it serves."""

    def describe_ready(self) -> str:
        """One line: the wait while not ready, a short summary once ready."""
        ...


def _detail(reporter: ReadyReporter, default: str) -> str:
    if isinstance(reporter, ReadyDescriber):
        return " ".join(reporter.describe_ready().split()) or default
    return default


def _body(lines: list[str]) -> bytes:
    return ("\n".join(dict.fromkeys(lines)) + "\n").encode()


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
