"""What /ready answers: the plugins that report readiness, and whether shutdown has begun."""

from clusterdns.plugin import ReadyDescriber, ReadyReporter
from clusterdns.server.http import HttpReply


class Readiness:
    """Every plugin that reports readiness, and whether shutdown has begun (one per process).

    The app fills `reporters` in from the running servers and sets `stopping` on SIGTERM; the
    `ready` plugin routes /ready to `reply`.
    """

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


def _detail(reporter: ReadyReporter, default: str) -> str:
    if isinstance(reporter, ReadyDescriber):
        return " ".join(reporter.describe_ready().split()) or default
    return default


def _body(lines: list[str]) -> bytes:
    return ("\n".join(dict.fromkeys(lines)) + "\n").encode()
