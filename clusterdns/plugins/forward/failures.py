"""Forward failures folded into log lines: the first of a kind at once, then a count per period."""

from dataclasses import dataclass

PERIOD = 10.0  # seconds a kind of failure is counted before one line reports the count
_MAX_KINDS = 64  # distinct kinds tracked at once; beyond, failures count under "other"


@dataclass(slots=True)
class _Tally:
    opened: float
    more: int = 0  # failures after the first, not reported yet


@dataclass(frozen=True, slots=True)
class Summary:
    """The line that closes a period: how many more failures of `kind` it counted."""

    kind: str
    more: int
    period: float

    def __str__(self) -> str:
        return f"{self.more} more like that in the last {self.period:g}s: {self.kind}"


class FailureLog:
    """Decides which failure lines to print, given the time; the caller prints and schedules.

    A flood of queries failing the same way (an upstream refusing, or silent) would otherwise
    print one line per query: thousands a second. As CoreDNS's `errors` consolidation does,
    each kind gets one line when it first happens and one count when its period ends.
    """

    def __init__(self, period: float = PERIOD) -> None:
        self.period = period
        self._open: dict[str, _Tally] = {}

    def add(self, kind: str, now: float) -> bool:
        """Count one failure of `kind`; True when it opens a period (print it in full now)."""
        tally = self._open.get(kind)
        if tally is None and len(self._open) >= _MAX_KINDS:
            kind = "other failures"
            tally = self._open.get(kind)
        if tally is None:
            self._open[kind] = _Tally(now)
            return True
        tally.more += 1
        return False

    def next_deadline(self) -> float | None:
        """When the earliest open period ends, or None when none is open."""
        return min((t.opened + self.period for t in self._open.values()), default=None)

    def close_due(self, now: float) -> list[Summary]:
        """End the periods that are over by `now`; a line for each that counted more."""
        due = [k for k, t in self._open.items() if t.opened + self.period <= now]
        return self._close(due)

    def close_all(self) -> list[Summary]:
        """End every open period (at shutdown)."""
        return self._close(list(self._open))

    def _close(self, kinds: list[str]) -> list[Summary]:
        summaries = []
        for kind in kinds:
            tally = self._open.pop(kind)
            if tally.more:
                summaries.append(Summary(kind, tally.more, self.period))
        return summaries
