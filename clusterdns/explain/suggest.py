"""Nearest names for typo suggestions: a small edit distance over a few candidates."""

from collections.abc import Iterable

MAX_SUGGESTIONS = 3


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance where swapping two neighbours costs 1 (optimal string alignment)."""
    if a == b:
        return 0
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


def nearest(word: str, candidates: Iterable[str], limit: int = MAX_SUGGESTIONS) -> list[str]:
    """Up to `limit` candidates close to `word`, closest first (ties by name).

    Close means at most 2 edits, and fewer than half the word's length, so that short names
    do not match everything.
    """
    allowed = min(2, max(1, len(word) // 2))
    scored = sorted(
        (distance, name)
        for name in set(candidates)
        if name != word and (distance := edit_distance(word, name)) <= allowed
    )
    return [name for _, name in scored[:limit]]
