"""A thread pool whose work waits for a gate: proves what the event loop does meanwhile."""

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class GatedExecutor(ThreadPoolExecutor):
    """Runs work in real threads, each piece only once `gate` is set.

    Installed with `loop.set_default_executor`, it holds back everything the loop hands to
    a worker thread (`run_in_executor(None, ...)`, `asyncio.to_thread`); `submitted` is set
    as soon as anything is handed over, and `threads` names the threads that ran the work.
    """

    def __init__(self, on_submit: Callable[[], None] = lambda: None) -> None:
        super().__init__(max_workers=2, thread_name_prefix="gated")
        self.on_submit = on_submit  # called in the submitting thread (the loop's)
        self.gate = threading.Event()
        self.submitted = threading.Event()
        self.count = 0
        self.threads: list[int] = []

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> "Future[T]":
        self.count += 1
        self.submitted.set()
        self.on_submit()

        def gated() -> T:
            if not self.gate.wait(timeout=10.0):
                raise TimeoutError("the test never opened the gate")
            self.threads.append(threading.get_ident())
            return fn(*args, **kwargs)

        return super().submit(gated)
