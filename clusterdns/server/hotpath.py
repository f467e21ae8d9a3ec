"""Pre-encoded UDP replies keyed by the query's own bytes, served without decoding (DESIGN §3)."""

from collections.abc import Hashable, Iterable

from clusterdns.dns.message import Query
from clusterdns.server.metrics import HitCell

_ONE_QUESTION = b"\x00\x01\x00\x00\x00\x00\x00\x00"
_ONE_QUESTION_OPT = b"\x00\x01\x00\x00\x00\x00\x00\x01"


def hot_key(data: bytes) -> tuple[bytes, int] | None:
    """(key, question end) for a plain query whose reply depends only on the key, else None.

    The key is the lowercased question name, the type and class bytes, the RD and CD bits and,
    with EDNS, the payload size and DO bit. Anything unusual (EDNS options, other versions, more
    records, compression) returns None and takes the decoding path.
    """
    n = len(data)
    if n < 17 or data[2] & 0xFA:  # QR, opcode or TC set: not a plain query
        return None
    counts = data[4:12]
    if counts == _ONE_QUESTION:
        has_opt = False
    elif counts == _ONE_QUESTION_OPT:
        has_opt = True
    else:
        return None
    i = 12
    while True:
        length = data[i]
        if length == 0:
            break
        if length > 63:
            return None
        i += length + 1
        if i >= n:
            return None
    name_end = i + 1
    question_end = name_end + 4
    bits = bytes(((data[2] & 0x01) | (data[3] & 0x10),))
    key = data[12:name_end].lower() + data[name_end:question_end] + bits
    if not has_opt:
        return (key, question_end) if question_end == n else None
    # An OPT at the root, version 0, no options: exactly 11 bytes.
    if n != question_end + 11 or data[question_end : question_end + 3] != b"\x00\x00\x29":
        return None
    if data[question_end + 6] != 0 or data[question_end + 9 : question_end + 11] != b"\x00\x00":
        return None
    edns = data[question_end + 3 : question_end + 5] + bytes((data[question_end + 7] & 0x80,))
    return key + edns, question_end


Scope = Hashable  # what an answer depends on, as the handler that made it says
EVERYTHING: Scope = "*"  # answers whose dependencies are unknown: dropped on every change


class Rotation:
    """The pre-encoded tails of one answer in several orders, served in turn (loadbalance)."""

    __slots__ = ("tails", "turn")

    def __init__(self, tails: list[bytes]) -> None:
        self.tails = tails
        self.turn = 1  # the query that stored them was already answered with the first

    def next(self) -> bytes:
        """The next tail in the cycle."""
        tail = self.tails[self.turn % len(self.tails)]
        self.turn += 1
        return tail


Tail = bytes | Rotation


class AnswerCache:
    """Reply tails per hot key, each filed under the scope of zone data it depends on.

    Two levels: replies by the exact bytes after the id (a repeated query costs one slice and
    one dict lookup), then by the case-folded hot key (the same question in another case).
    A zone change drops only the scopes it touched, so a busy cluster's churn does not send
    every query back through the decoding path.
    """

    def __init__(self, max_entries: int = 50_000, max_bytes: int = 32 << 20) -> None:
        # Bounded by count and by bytes: 50k replies of up to 4 KiB would be 400 MiB.
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._bytes = 0
        self._entries: dict[bytes, tuple[bytes, Tail, Scope, HitCell]] = {}
        self._exact: dict[bytes, tuple[Tail, HitCell]] = {}
        self._scopes: dict[Scope, list[tuple[bytes, bytes]]] = {}
        self.hits = 0
        # Bumped by every change: a reply computed before a change is never stored after it.
        self.generation = 0

    def reply(self, data: bytes) -> bytes | None:
        """The reply to `data` if it is a stored question, with the client's id and case."""
        exact = self._exact.get(data[2:])
        if exact is not None:
            exact[1].count += 1
            self.hits += 1
            tail = exact[0]
            if isinstance(tail, Rotation):
                return data[:2] + tail.next()
            return data[:2] + tail
        found = hot_key(data)
        if found is None:
            return None
        entry = self._entries.get(found[0])
        if entry is None:
            return None
        entry[3].count += 1
        self.hits += 1
        tail = entry[1]
        if isinstance(tail, Rotation):
            return data[:2] + entry[0] + data[12 : found[1]] + tail.next()
        reply = data[:2] + entry[0] + data[12 : found[1]] + tail
        self._remember(found[0], data, reply, entry[2], entry[3])
        return reply

    def store(
        self,
        query: Query,
        reply: bytes,
        generation: int,
        scope: Scope,
        cell: HitCell,
        rotations: tuple[bytes, ...] = (),
    ) -> None:
        """Remember `reply` (spliced for `query`, computed in `generation`) under `scope`.

        With `rotations` (the same reply in other orders), hits cycle through all of them.
        """
        found = hot_key(query.wire)
        if found is None or generation != self.generation or self.max_entries == 0:
            return  # max_entries 0: pre-encoding is off (a `log` plugin must see every query)
        key, question_end = found
        if rotations:
            replies = (reply, *rotations)
            tail: Tail = Rotation([r[question_end:] for r in replies])
            exact_tail: Tail = Rotation([r[2:] for r in replies])
        else:
            tail, exact_tail = reply[question_end:], reply[2:]
        size = 2 * len(reply) * (1 + len(rotations))  # the keyed and the exact copies
        self._make_room(size)
        self._entries[key] = (reply[2:12], tail, scope, cell)
        self._exact[query.wire[2:]] = (exact_tail, cell)
        self._scopes.setdefault(scope, []).append((key, query.wire[2:]))
        self._bytes += size

    def _remember(self, key: bytes, data: bytes, reply: bytes, scope: Scope, cell: HitCell) -> None:
        # Every letter-case variant of a question gets its own exact entry (resolvers that
        # randomise case send many), so this checks the bounds too.
        self._make_room(len(reply))
        exact = data[2:]
        self._exact[exact] = (reply[2:], cell)
        self._bytes += len(reply)
        self._scopes.setdefault(scope, []).append((key, exact))

    def _make_room(self, size: int) -> None:
        full = len(self._exact) >= self.max_entries or len(self._entries) >= self.max_entries
        if full or self._bytes + size > self.max_bytes:
            self._forget_all()

    def invalidate(self, scopes: Iterable[Scope] | None) -> None:
        """Drop the answers filed under `scopes` (and EVERYTHING's); None drops them all."""
        self.generation += 1
        if scopes is None:
            self._forget_all()
            return
        for scope in (*scopes, EVERYTHING):
            for key, exact in self._scopes.pop(scope, ()):
                self._entries.pop(key, None)
                self._exact.pop(exact, None)

    def clear(self) -> None:
        """Forget every stored reply."""
        self.invalidate(None)

    def _forget_all(self) -> None:
        self._bytes = 0
        self._entries.clear()
        self._exact.clear()
        self._scopes.clear()

    def __len__(self) -> int:
        return len(self._entries)
