"""The `errors` handler: an exception from later plugins becomes one log line and a SERVFAIL."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from clusterdns.clock import Clock
from clusterdns.dns.message import Query
from clusterdns.dns.mnemonics import type_text
from clusterdns.dns.records import Answer, Rcode
from clusterdns.errors import ClusterDNSError
from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.errors.consolidate import Consolidator
from clusterdns.plugins.errors.options import ErrorsConfig

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class ErrorsHandler:
    """Logs errors of later plugins as CoreDNS does, consolidating those that match a pattern."""

    name = "errors"
    keeps_families = True  # it never looks at the name

    def __init__(self, config: "ErrorsConfig", clock: Clock, sleep: Sleep = asyncio.sleep) -> None:
        self.config = config
        self._clock = clock
        self._sleep = sleep
        self._windows = Consolidator(config.consolidate)
        self._opened = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        positive = [p.window for p in config.consolidate if p.window > 0]
        self._max_nap = min(positive, default=0.0)

    async def serve(self, request: Request, next: Next) -> Response:
        """Ask `next`; an exception it raises is logged and answered with SERVFAIL."""
        try:
            return await next(request)
        except Exception as exc:  # asyncio.CancelledError is a BaseException: it passes
            self._report(request.query, exc)
            return Response(self.name, answer=Answer(Rcode.SERVFAIL))

    def flush(self, now: float | None = None) -> None:
        """Log the summary of every consolidation window that has ended by `now`."""
        now = self._clock.monotonic() if now is None else now
        for summary in self._windows.close_due(now):
            logger.log(summary.level, "plugin/errors: %s", summary.text)

    async def start(self) -> None:
        """Close consolidation windows on time, when there are any."""
        if self.config.consolidate and self._task is None:
            self._task = asyncio.create_task(self._close_windows(), name="errors-consolidate")

    async def stop(self) -> None:
        """Stop the timer, and log what open windows have counted so far (as CoreDNS)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for summary in self._windows.close_all():
            logger.log(summary.level, "plugin/errors: %s", summary.text)

    def _report(self, query: Query, exc: Exception) -> None:
        bug = not isinstance(exc, ClusterDNSError)
        message = describe(exc)
        now = self._clock.monotonic()
        self.flush(now)  # a window that ended before this error must not count it
        index = self._windows.match(message)
        if index is None:
            self._log(logging.ERROR, query, message, exc, bug)
            return
        pattern = self._windows.patterns[index]
        count = self._windows.add(index, now)
        if count == 1:
            self._opened.set()
            if pattern.show_first:
                self._log(pattern.level, query, message, exc, bug)
        self.flush(now)  # a zero DURATION closes at once

    def _log(self, level: int, query: Query, message: str, exc: Exception, bug: bool) -> None:
        # The serving loop never crashes: a bug is logged with its traceback;
        # `stacktrace` adds the traceback to every error.
        trace = exc if bug or self.config.stacktrace else None
        qtype = type_text(query.qtype)
        rcode = int(Rcode.SERVFAIL)
        args = (rcode, query.name, qtype, message)
        logger.log(level, "plugin/errors: %d %s %s: %s", *args, exc_info=trace)

    async def _close_windows(self) -> None:
        while True:
            deadline = self._windows.next_deadline()
            if deadline is None:
                self._opened.clear()
                await self._opened.wait()
                continue
            # A window opened during the nap ends no sooner than the shortest window after
            # it opened, so napping at most that long closes every window on time.
            nap = min(deadline - self._clock.monotonic(), self._max_nap)
            if nap > 0:
                await self._sleep(nap)
            self.flush()


def describe(exc: Exception) -> str:
    """The text of an error: our own errors' message; a bug's type and message."""
    try:
        text = str(exc)
    except Exception:  # a broken __str__ must not turn one error into an escaped one
        text = ""
    if isinstance(exc, ClusterDNSError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
