"""Work too slow for the event loop, made once per key in a worker thread and shared meanwhile.

A 2,000-endpoint headless answer takes 10-20 ms of Python to build; done on the event loop, it
would hold every other query (UDP and TCP) for that long. Made in the loop's default executor
instead, the query that needs it waits in a task while the loop keeps serving: the worker
holds the GIL for at most `sys.getswitchinterval()` (5 ms) at a time before the loop gets it
back. Everyone asking for the same key before the work is done awaits the same run, and runs
of one `OffLoop` go one at a time, so the loop competes for the GIL with one worker at most
per owner. A key has at most one run waiting to start: when the zone changes faster than
answers are built, each build is of the newest zone, and the backlog never grows.
"""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Job(Generic[V]):
    """One run: its future, and the work and keeper it uses (replaceable until it starts)."""

    __slots__ = ("future", "work", "done")

    def __init__(
        self, future: "asyncio.Future[V]", work: Callable[[], V], done: Callable[[V], None] | None
    ) -> None:
        self.future = future
        self.work = work
        self.done = done


class OffLoop(Generic[K, V]):
    """Runs of `work()` in a worker thread: one at a time, at most one per key."""

    __slots__ = ("_jobs", "_waiting", "_queue", "_busy")

    def __init__(self) -> None:
        self._jobs: dict[K, _Job[V]] = {}  # the run a call for the key shares (queued or running)
        self._waiting: dict[K, _Job[V]] = {}  # runs not started yet, forgotten ones included
        self._queue: deque[K] = deque()  # keys of `_waiting`, oldest first
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
        job = self._jobs.get(key)
        if job is None:
            job = self._waiting.get(key)
            if job is not None:
                # Forgotten but not started: it runs this fresher work instead, for its
                # earlier waiters too, so a key never has more than one run waiting.
                job.work, job.done = work, done
            else:
                loop = asyncio.get_running_loop()
                job = _Job(loop.create_future(), work, done)
                # Added before any waiter's callback, so it runs first.
                job.future.add_done_callback(partial(self._finished, key, job))
                self._waiting[key] = job
                self._queue.append(key)
                if not self._busy:
                    self._next(loop)
            self._jobs[key] = job
        return asyncio.shield(job.future)

    def forget(self) -> None:
        """Later calls get a run of their own work; runs asked for still answer their waiters."""
        self._jobs = {}

    def _next(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the oldest waiting run, if any.

        One at a time: each running worker competes with the loop for the GIL, and with one
        the loop waits for it at most a switch interval.
        """
        while self._queue:
            job = self._waiting.pop(self._queue.popleft())
            try:
                running = loop.run_in_executor(None, job.work)
            except RuntimeError as exc:  # the loop is shutting its executor down
                job.future.set_exception(exc)
                continue
            self._busy = True
            running.add_done_callback(partial(self._ran, loop, job))
            return
        self._busy = False

    def _ran(
        self, loop: asyncio.AbstractEventLoop, job: _Job[V], running: "asyncio.Future[V]"
    ) -> None:
        if running.cancelled():
            job.future.cancel()
        elif (exc := running.exception()) is not None:
            job.future.set_exception(exc)
        else:
            job.future.set_result(running.result())
        self._next(loop)

    def _finished(self, key: K, job: _Job[V], future: "asyncio.Future[V]") -> None:
        if self._jobs.get(key) is job:
            del self._jobs[key]
        if future.cancelled() or future.exception() is not None:
            return  # the waiters get the exception (the dispatcher answers SERVFAIL)
        if job.done is not None:
            job.done(future.result())
