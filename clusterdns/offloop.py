"""Work too slow for the event loop, made once per key in a worker thread and shared meanwhile.

A 2,000-endpoint headless answer takes 10-20 ms of Python to build; done on the event loop, it
would hold every other query (UDP and TCP) for that long. Made in the loop's default executor
instead, the query that needs it waits in a task while the loop keeps serving: the worker
holds the GIL for at most `sys.getswitchinterval()` (5 ms) at a time before the loop gets it
back. Everyone asking for the same key before the work is done awaits the same run, and runs
of one `OffLoop` go one at a time, so the loop competes for the GIL with one worker at most
per owner.
"""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class OffLoop(Generic[K, V]):
    """Runs of `work()` in a worker thread: one at a time, at most one per key."""

    __slots__ = ("_jobs", "_queue", "_busy")

    def __init__(self) -> None:
        self._jobs: dict[K, asyncio.Future[V]] = {}  # queued or running, by key
        self._queue: deque[tuple[asyncio.Future[V], Callable[[], V]]] = deque()
        self._busy = False

    def __len__(self) -> int:
        return len(self._jobs)

    def make(
        self, key: K, work: Callable[[], V], done: Callable[[V], None] | None = None
    ) -> Awaitable[V]:
        """`work()`'s result, made in a worker thread; a run for `key` under way is shared.

        `done` is called on the loop with the result before any waiter resumes (where the
        caller keeps it). Needs a running loop. A waiter cancelled (a client gone, a full
        queue) stops waiting without stopping the run the others await; if `work` raises,
        every waiter gets the exception, and the next call for `key` starts a new run.
        """
        future = self._jobs.get(key)
        if future is None:
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            self._jobs[key] = future
            # Added before any waiter's callback, so it runs first.
            future.add_done_callback(partial(self._finished, key, done))
            self._queue.append((future, work))
            if not self._busy:
                self._next(loop)
        return asyncio.shield(future)

    def forget(self) -> None:
        """Start new runs for later calls; runs already asked for still finish for their waiters."""
        self._jobs = {}

    def _next(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the oldest queued run, if any.

        One at a time: each running worker competes with the loop for the GIL, and with one
        the loop waits for it at most a switch interval.
        """
        while self._queue:
            future, work = self._queue.popleft()
            try:
                running = loop.run_in_executor(None, work)
            except RuntimeError as exc:  # the loop is shutting its executor down
                future.set_exception(exc)
                continue
            self._busy = True
            running.add_done_callback(partial(self._ran, loop, future))
            return
        self._busy = False

    def _ran(
        self,
        loop: asyncio.AbstractEventLoop,
        future: "asyncio.Future[V]",
        running: "asyncio.Future[V]",
    ) -> None:
        if running.cancelled():
            future.cancel()
        elif (exc := running.exception()) is not None:
            future.set_exception(exc)
        else:
            future.set_result(running.result())
        self._next(loop)

    def _finished(
        self, key: K, done: Callable[[V], None] | None, future: "asyncio.Future[V]"
    ) -> None:
        if self._jobs.get(key) is future:
            del self._jobs[key]
        if future.cancelled() or future.exception() is not None:
            return  # the waiters get the exception (the dispatcher answers SERVFAIL)
        if done is not None:
            done(future.result())
