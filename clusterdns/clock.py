"""The only reader of the system clock: `Clock` and its real implementation."""

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
