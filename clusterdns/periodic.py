"""A background task that runs one check every interval until stopped (file re-reads)."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class Periodic:
    """Runs `check` every `interval` seconds between `start` and `stop`; 0 means never.

    A failing check is logged and the next one still runs: a bad re-read never stops the
    re-reading. `sleep` is a parameter so tests drive the interval themselves.
    """

    def __init__(
        self,
        interval: float,
        check: Callable[[], Awaitable[object]],
        what: str,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._check = check
        self._what = what
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin checking on the running loop (no-op when the interval is 0 or already running)."""
        if self.interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def running(self) -> bool:
        """True between `start` (with an interval) and `stop`."""
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop checking and wait for the task to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await self._sleep(self.interval)
            try:
                await self._check()
            except Exception:
                logger.exception("%s failed", self._what)
