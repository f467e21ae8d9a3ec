"""Consolidation windows of the `errors` plugin: counting matching errors, given the time."""

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Consolidate:
    """One `consolidate DURATION REGEXP [LEVEL] [show_first]` line."""

    window: float  # seconds
    regexp: re.Pattern[str]
    level: int  # a `logging` level
    show_first: bool = False


@dataclass(frozen=True, slots=True)
class Summary:
    """The line that closes a window, and the level to log it at."""

    level: int
    text: str


@dataclass(slots=True)
class _Window:
    count: int = 0
    opened: float = 0.0


_Due = Callable[[_Window, Consolidate], bool]


class Consolidator:
    """Counts errors per pattern from the first one until the window ends; time is `now`.

    As CoreDNS: a window opens with the first matching error and closes `window` seconds later
    with one line for everything it counted; an error matching several patterns counts for
    the first.
    """

    def __init__(self, patterns: tuple[Consolidate, ...]) -> None:
        self.patterns = patterns
        self._windows = [_Window() for _ in patterns]

    def match(self, message: str) -> int | None:
        """The index of the first pattern `message` matches (anywhere, as Go's MatchString)."""
        for index, pattern in enumerate(self.patterns):
            if pattern.regexp.search(message):
                return index
        return None

    def add(self, index: int, now: float) -> int:
        """Count one error for pattern `index`; the count in its window, this one included."""
        window = self._windows[index]
        if window.count == 0:
            window.opened = now
        window.count += 1
        return window.count

    def next_deadline(self) -> float | None:
        """When the earliest open window closes, or None when none is open."""
        ends = [
            w.opened + p.window
            for w, p in zip(self._windows, self.patterns, strict=True)
            if w.count
        ]
        return min(ends, default=None)

    def close_due(self, now: float) -> list[Summary]:
        """Close the windows that have ended by `now`; the lines they leave."""
        return self._close(lambda window, pattern: window.opened + pattern.window <= now)

    def close_all(self) -> list[Summary]:
        """Close every open window (at shutdown, as CoreDNS does)."""
        return self._close(lambda window, pattern: True)

    def _close(self, due: _Due) -> list[Summary]:
        summaries = []
        for window, pattern in zip(self._windows, self.patterns, strict=True):
            if not window.count or not due(window, pattern):
                continue
            count, window.count = window.count, 0
            # With show_first the one error was logged in full already.
            if not (pattern.show_first and count == 1):
                text = (
                    f"{count} errors like '{pattern.regexp.pattern}' occurred in last "
                    f"{go_duration(pattern.window)}"
                )
                summaries.append(Summary(pattern.level, text))
        return summaries


def go_duration(seconds: float) -> str:
    """`seconds` as Go's time.Duration prints it: `30s`, `5m0s`, `1h0m0s`, `1.5s`, `250ms`."""
    total = round(seconds * 1_000_000_000)
    if total == 0:
        return "0s"
    sign, total = ("-", -total) if total < 0 else ("", total)
    if total < 1_000:
        return f"{sign}{total}ns"
    if total < 1_000_000:
        return f"{sign}{_decimal(total, 1_000)}\u00b5s"
    if total < 1_000_000_000:
        return f"{sign}{_decimal(total, 1_000_000)}ms"
    hours, rest = divmod(total, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = f"{hours}h{minutes}m" if hours else (f"{minutes}m" if minutes else "")
    return f"{sign}{text}{_decimal(rest, 1_000_000_000)}s"


def _decimal(value: int, unit: int) -> str:
    whole, fraction = divmod(value, unit)
    digits = str(fraction).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)
