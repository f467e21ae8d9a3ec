"""`Clock` and its real implementation: how code that expires, retries or stamps reads time.

Everything that decides by time takes a `Clock`, so tests advance a fake one. The dispatcher
times each query for the request duration histogram through its `Clock` too (`monotonic`):
this module is the only reader of the system clock.
"""

import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds for timers, wall seconds for serials."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    def wall(self) -> float:
        """Seconds since the Unix epoch."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """Seconds from `time.monotonic`."""
        return time.monotonic()

    def wall(self) -> float:
        """Seconds from `time.time`."""
        return time.time()
