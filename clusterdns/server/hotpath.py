"""Pre-encoded UDP replies keyed by the query's own bytes, served without decoding (DESIGN §3)."""

from clusterdns.dns.message import Query

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


class AnswerCache:
    """Reply tails per hot key; cleared on every zone snapshot swap and when full.

    Two levels: replies by the exact bytes after the id (a repeated query costs one slice and
    one dict lookup), then by the case-folded hot key (the same question in another case).
    """

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._entries: dict[bytes, tuple[bytes, bytes]] = {}
        self._exact: dict[bytes, bytes] = {}
        self.hits = 0
        # Bumped by clear(): a reply computed under an older snapshot is never stored.
        self.generation = 0

    def reply(self, data: bytes) -> bytes | None:
        """The reply to `data` if it is a stored question, with the client's id and case."""
        tail = self._exact.get(data[2:])
        if tail is not None:
            self.hits += 1
            return data[:2] + tail
        found = hot_key(data)
        if found is None:
            return None
        entry = self._entries.get(found[0])
        if entry is None:
            return None
        self.hits += 1
        reply = data[:2] + entry[0] + data[12 : found[1]] + entry[1]
        self._remember(data, reply)
        return reply

    def store(self, query: Query, reply: bytes, generation: int) -> None:
        """Remember `reply` (spliced for `query`, computed in `generation`) for its key."""
        found = hot_key(query.wire)
        if found is None or generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[found[0]] = (reply[2:12], reply[found[1] :])
        self._remember(query.wire, reply)

    def _remember(self, data: bytes, reply: bytes) -> None:
        if len(self._exact) >= self.max_entries:
            self._exact.clear()
        self._exact[data[2:]] = reply[2:]

    def clear(self) -> None:
        """Forget every stored reply (the zone changed)."""
        self.generation += 1
        self._entries.clear()
        self._exact.clear()

    def __len__(self) -> int:
        return len(self._entries)
