"""Pre-encoded UDP replies by the query's bytes, or shared by sibling names; no decoding."""

import math
from collections.abc import Callable, Hashable, Iterable, Sized
from typing import Protocol

from clusterdns.dns.encode import name_parts
from clusterdns.dns.message import Query
from clusterdns.dns.wire import HEADER, MAX_LABEL
from clusterdns.plugin import EVERYTHING as PLUGIN_EVERYTHING
from clusterdns.plugin import Family, Response
from clusterdns.server.metrics import HitCell

_ONE_QUESTION = b"\x00\x01\x00\x00\x00\x00\x00\x00"
_ONE_QUESTION_OPT = b"\x00\x01\x00\x00\x00\x00\x00\x01"


def hot_key(data: bytes) -> tuple[bytes, int] | None:
    """(key, question end) for a plain query whose reply depends only on the key, else None.

    The key is the lowercased question name, the type and class bytes, the RD and CD bits and,
    with EDNS, the payload size, the DO bit and the query's length. EDNS options are checked
    for shape but not keyed (the reply never echoes them; their length is). Anything unusual
    (other EDNS versions, malformed options, more records, compression) returns None and takes
    the decoding path.

    This is a specialised scanner, not `dns.wire`'s reader, on purpose: it runs on every UDP
    query before anything else, accepts only the plain shape above (so it needs no pointer or
    loop handling), and builds the key in the same pass; anything it declines is decoded by
    `dns.message.decode_query`, which uses the shared reader. It shares that reader's header
    and label constants.
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
    i = HEADER.size
    while True:
        length = data[i]
        if length == 0:
            break
        if length > MAX_LABEL:
            return None
        i += length + 1
        if i >= n:
            return None
    name_end = i + 1
    question_end = name_end + 4
    bits = bytes(((data[2] & 0x01) | (data[3] & 0x10),))
    key = data[HEADER.size : name_end].lower() + data[name_end:question_end] + bits
    if not has_opt:
        return (key, question_end) if question_end == n else None
    # An OPT at the root, version 0, whose options fill its RDATA exactly (RFC 6891 6.1.2).
    # The options themselves do not change the reply: like CoreDNS, the reply carries a fresh
    # OPT with no options (COOKIE, padding, client-subnet... are not echoed; RFC 7873 5.2),
    # so every client's cookie of the same length shares one entry.
    opt = question_end + 11
    if opt > n or data[question_end : question_end + 3] != b"\x00\x00\x29":
        return None
    if data[question_end + 6] != 0 or n - opt != (data[opt - 2] << 8 | data[opt - 1]):
        return None
    i = opt
    while i < n:
        if i + 4 > n:
            return None
        i += 4 + (data[i + 2] << 8 | data[i + 3])
    if i != n:
        return None
    edns = data[question_end + 3 : question_end + 5] + bytes((data[question_end + 7] & 0x80,))
    # The query's length too: the request-size metrics a hit counts are the stored query's
    # (server.metrics.HitCell), and only options make two keyed-alike queries differ in it.
    return key + edns + n.to_bytes(2, "big"), question_end


def _wire_name(name: str) -> bytes:
    """Absolute `name` in wire form, uncompressed (b"" when it cannot be one)."""
    try:
        return b"".join(label for _, label in name_parts(name)) + b"\0"
    except ValueError:
        return b""


def _covers(family: Family, key: bytes, question_end: int) -> bool:
    """True when `family` claims the siblings of hot key `key`'s question (else, its own).

    The claim must be about the name the hot path strips a label from, and the first label
    must be one a sibling may have (letters, digits, hyphens).
    """
    length = key[0]
    if length == 0 or key[1 : length + 1].translate(None, _LDH):
        return False
    return key[length + 1 : question_end - 4 - HEADER.size] == _wire_name(family.parent)


def _data_offset(family: Family, key: bytes, tail: bytes) -> int:
    """Where the stored question's `family.data` sits in `tail`: -1 for no data, -2 unknown.

    Found by its bytes, and only when they occur once: then they can only be the RDATA.
    """
    if family.data is None:
        return -1
    own = family.data(key[1 : key[0] + 1].decode("ascii", "replace"))
    if not own:
        return -1
    at = tail.find(own)
    if at < 0 or tail.find(own, at + 1) >= 0:
        return -2
    return at


# Pre-encoded replies kept per UDP socket while the hot path is on. At the store's 32 MiB byte
# cap this is ~670 bytes a reply; it holds every name of a 10k-Service cluster in a few types,
# so repeated cluster questions never take the decoding path.
ANSWER_STORE_ENTRIES = 50_000

Scope = Hashable  # what an answer depends on, as the handler that made it says
EVERYTHING: Scope = PLUGIN_EVERYTHING  # dependencies unknown: dropped on every change


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
# Told of every hit of an answer: (query bytes, reply bytes, client, when the query was read).
Observer = Callable[[bytes, bytes, tuple[str, int], float], None]
_NO_CLIENT = ("", 0)
# A family's answers are filed under b"\xff" + the first label's length + the family key (the
# hot key without its first label): no hot key starts with 0xff, a label length is at most 63.
_FAMILY_MARK = b"\xff"
# The first labels a family answers: letters, digits, hyphens (what a random subdomain, a
# Service or an endpoint name is made of); anything else takes the decoding path.
_LDH = b"abcdefghijklmnopqrstuvwxyz0123456789-"

# What one stored answer costs beyond its bytes, measured with tracemalloc (see
# tests/server/test_hotpath.py): the entry object, its exact-bytes alias, the dict slots of
# both tables and of its scope, and the bytes objects' own headers.
ENTRY_OVERHEAD = 560
EXACT_OVERHEAD = 200  # each further letter-case variant remembered by its exact bytes
_EXACT_PER_ENTRY = 8  # exact-bytes variants (case, cookies) remembered per question
# Questions seen once, waiting for a second sighting, are remembered by their hash only (a
# collision just stores one early). As many as the store holds answers: a working set
# larger than this set would never see its second sighting counted.
_SEEN_MIN = 8192


class Keepable(Protocol):
    """A reply the dispatcher says may be kept (dispatch.KeptReply), as the store reads it."""

    query: Query
    wire: bytes
    response: Response
    family: Family | None

    @property
    def expires(self) -> float:
        """Monotonic seconds after which the reply's bytes stop being true."""
        ...

    def cell(self) -> HitCell:
        """The metrics cell its hits count in."""
        ...

    def rotations(self) -> tuple[bytes, ...]:
        """The reply in its other orders."""
        ...


class _Entry:
    """One stored answer: header flags and counts, tail, scope, hit cell, expiry, aliases."""

    __slots__ = (
        "key",
        "head",
        "tail",
        "scope",
        "cell",
        "expires",
        "exacts",
        "size",
        "on_hit",
        "observe",
        "family",
    )

    def __init__(
        self, key: bytes, head: bytes, tail: Tail, scope: Scope, cell: HitCell, expires: float
    ) -> None:
        self.key = key
        self.head = head
        self.tail = tail
        self.scope = scope
        self.cell = cell
        self.expires = expires  # monotonic seconds; inf for answers only zone changes end
        self.exacts: list[bytes] = []
        self.size = 0
        self.on_hit: Callable[[], None] | None = None
        self.observe: Observer | None = None
        self.family: bytes | None = None  # the family key, for an answer shared by siblings


class _Family:
    """The stored answers one plugin.Family claim covers: one per first-label length.

    Sibling names of the same length get the same bytes after the question (name compression
    points into the question at offsets that only the length moves), so a length's answer,
    once made by the decoding path, serves every sibling of that length.
    """

    __slots__ = ("taken", "data", "kind", "by_length")

    def __init__(self, claim: Family) -> None:
        self.taken = claim.taken
        self.data = claim.data
        self.kind = claim.kind
        # Per length: the answer, and where the label's `data` sits in its tail (-1: nowhere).
        self.by_length: dict[int, tuple[_Entry, int]] = {}


class AnswerCache:
    """Reply tails per hot key, each filed under the scope of zone data it depends on.

    Three levels: replies by the exact bytes after the id (a repeated query costs one slice
    and one dict lookup), then by the case-folded hot key (the same question in another
    case), then a sibling's reply (plugin.Family: a never-repeated name below a Service, a
    namespace or in a pod zone, served from the reply of a name one label apart). A zone
    change drops only the scopes it touched, so a busy cluster's churn does not send every
    query back through the decoding path. Answers holding upstream records expire on their
    own (`now` is passed in: no timer per answer). A question is stored on its second
    sighting only, so a flood of never-repeated names neither grows memory nor evicts what
    real clients repeat; when the byte budget is full the oldest answers go first.
    """

    def __init__(
        self,
        max_entries: int = ANSWER_STORE_ENTRIES,
        max_bytes: int = 32 << 20,
        admit_after: int = 2,
    ) -> None:
        # Bounded by count and by bytes, counting what an entry really holds in memory.
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.admit_after = admit_after
        self._bytes = 0
        self._entries: dict[bytes, _Entry] = {}
        self._exact: dict[bytes, tuple[Tail, _Entry]] = {}
        self._scopes: dict[Scope, list[_Entry]] = {}
        self._families: dict[bytes, _Family] = {}
        self._seen: set[int] = set()
        # The key `reply` computed for the last query it could not answer, by that query's
        # bytes: `admit` reuses it, so a miss walks the question once, not twice.
        self._missed: tuple[bytes, tuple[bytes, int] | None] = (b"", None)
        self.hits = 0
        # True once an answer with an observer is stored: the listener then reads the clock
        # per query (not per wake-up) so observers see each query's own duration.
        self.observed = False
        # Bumped by every change: a reply computed before a change is never stored after it.
        self.generation = 0

    def reply(self, data: bytes, now: float, client: tuple[str, int] = _NO_CLIENT) -> bytes | None:
        """The reply to `data` if it is a stored question, with the client's id and case.

        An answer stored with an observer (`log`) tells it of the hit, with `client` and
        `now` (when the query was read), after the reply is made.
        """
        exact = self._exact.get(data[2:])
        if exact is not None:
            tail, entry = exact
            if entry.expires <= now:
                self._expire(entry)
                return None
            entry.cell.count += 1
            if entry.on_hit is not None:
                entry.on_hit()
            self.hits += 1
            if isinstance(tail, Rotation):
                reply = data[:2] + tail.next()
            else:
                reply = data[:2] + tail
            if entry.observe is not None:
                entry.observe(data, reply, client, now)
            return reply
        found = hot_key(data)
        if found is None:
            self._missed = (data, None)
            return None
        key, question_end = found
        stored = self._entries.get(key)
        if stored is None:
            if self._families:
                sibling = self._sibling_reply(data, key, question_end, now, client)
                if sibling is not None:
                    return sibling
            self._missed = (data, found)
            return None
        if stored.expires <= now:
            self._expire(stored)
            return None
        entry = stored
        entry.cell.count += 1
        if entry.on_hit is not None:
            entry.on_hit()
        self.hits += 1
        tail = entry.tail
        if isinstance(tail, Rotation):
            reply = data[:2] + entry.head + data[12:question_end] + tail.next()
            if entry.observe is not None:
                entry.observe(data, reply, client, now)
            return reply
        reply = data[:2] + entry.head + data[12:question_end] + tail
        if entry.observe is not None:
            entry.observe(data, reply, client, now)
        if len(entry.exacts) < _EXACT_PER_ENTRY:
            # Remembered by its exact bytes too: a client's cookie stays the same for a
            # server, so its repeats are one lookup. Only a few variants per question (case
            # randomised by resolvers, per-query padding) are kept, so they cannot pile up.
            self._remember(entry, data[2:], reply[2:])
        return reply

    def _sibling_reply(
        self, data: bytes, key: bytes, question_end: int, now: float, client: tuple[str, int]
    ) -> bytes | None:
        """The reply from a family's stored answer, when its claim covers `data`'s question."""
        length = key[0]
        family = self._families.get(key[length + 1 :])
        if family is None or length == 0:
            return None
        label = key[1 : length + 1]
        if label.translate(None, _LDH):
            return None
        text = label.decode()
        if family.taken(text):
            return None
        member = family.by_length.get(length)
        if member is None:
            return None
        entry, at = member
        if entry.expires <= now:
            self._expire(entry)
            return None
        tail = entry.tail
        assert isinstance(tail, bytes)  # a family's answers are never rotated (store)
        if at >= 0 and family.data is not None:
            own = family.data(text)
            tail = tail[:at] + own + tail[at + len(own) :]
        entry.cell.count += 1
        if entry.on_hit is not None:
            entry.on_hit()
        self.hits += 1
        reply = data[:2] + entry.head + data[12:question_end] + tail
        if entry.observe is not None:
            entry.observe(data, reply, client, now)
        exact = data[2:]
        if self._seen_before(hash(exact)):
            # A sibling name asked again (a client's NXDOMAIN it repeats): remembered by its
            # exact bytes, as any repeated question, so its next time is one lookup. One-off
            # names never get this far, so a flood of them adds nothing here.
            self._remember(entry, exact, reply[2:])
        return reply

    def store(
        self,
        query: Query,
        reply: bytes,
        generation: int,
        scope: Scope,
        cell: HitCell,
        rotations: tuple[bytes, ...] = (),
        expires: float = math.inf,
        admitted: tuple[bytes, int] | None = None,
        on_hit: Callable[[], None] | None = None,
        observe: Observer | None = None,
        family: Family | None = None,
    ) -> None:
        """Remember `reply` (spliced for `query`, computed in `generation`) under `scope`.

        With `rotations` (the same reply in other orders), hits cycle through all of them.
        `expires` (monotonic seconds) ends answers that hold upstream records. `admitted` is
        what `admit` returned for this query, with the same `family` (else it is asked here).
        With `family`, the reply answers every sibling name the claim covers, under its scope.
        """
        found = admitted or self.admit(query, generation, family)
        if found is None:
            return
        key, question_end = found
        at = -1
        if family is not None:
            covered = not rotations and _covers(family, key, question_end)
            at = _data_offset(family, key, reply[question_end:]) if covered else -2
            if at == -2:
                family = None  # kept as this question's own answer, as without a claim
        if family is not None:
            key = _FAMILY_MARK + key[:1] + key[key[0] + 1 :]
            scope = family.scope
        old = self._entries.get(key)
        if old is not None:
            self._drop(old)
        replies = (reply, *rotations)
        if rotations:
            tail: Tail = Rotation([r[question_end:] for r in replies])
        else:
            tail = reply[question_end:]
        size = ENTRY_OVERHEAD + len(key) + len(reply) * (1 + len(rotations))
        self._make_room(size, self._entries)
        entry = _Entry(key, reply[2:12], tail, scope, cell, expires)
        entry.size = size
        entry.on_hit = on_hit
        entry.observe = observe
        if observe is not None:
            self.observed = True
        self._entries[key] = entry
        self._scopes.setdefault(scope, []).append(entry)
        self._bytes += size
        if family is not None:
            self._file_sibling(entry, family, at)
            return  # a sibling gets its exact-bytes alias when it is asked again
        exact_tail = Rotation([r[2:] for r in replies]) if rotations else reply[2:]
        self._remember(entry, query.wire[2:], exact_tail)

    def keep(self, kept: Keepable, generation: int) -> None:
        """Keep `kept` (made in `generation`) if this is the sighting that admits it.

        The hit cell and the other orders are made only then: a first sighting costs a lookup.
        """
        admitted = self.admit(kept.query, generation, kept.family)
        if admitted is None:
            return
        response = kept.response
        self.store(
            kept.query,
            kept.wire,
            generation,
            response.scope,
            kept.cell(),
            kept.rotations(),
            kept.expires,  # answers holding upstream records end: checked on each hit
            admitted,
            response.on_hit,
            response.observe,
            kept.family,
        )

    def _file_sibling(self, entry: _Entry, claim: Family, at: int) -> None:
        """File `entry` (stored under a family key) as the reply its siblings of its length get."""
        family_key = entry.key[2:]  # after the mark and the first label's length
        entry.family = family_key
        kin = self._families.get(family_key)
        if kin is not None and kin.kind != claim.kind:
            for stale, _ in list(kin.by_length.values()):
                self._drop(stale)  # the last one also forgets `kin`
            kin = self._families.get(family_key)
        if kin is None:
            kin = self._families[family_key] = _Family(claim)
        # The newest claim (its snapshot is the one queries read); an older one's answers
        # stay right: a change that could alter them drops them through their scope.
        kin.taken, kin.data = claim.taken, claim.data
        kin.by_length[entry.key[1]] = (entry, at)

    def admit(
        self, query: Query, generation: int, family: Family | None = None
    ) -> tuple[bytes, int] | None:
        """(hot key, question end) when the reply to `query` should be stored now, else None.

        None for questions the hot path cannot key, for replies computed before a change, and
        for a question's first sighting; asking counts as a sighting. With `family`, sightings
        of any sibling count, and None also when the claim is not about this question's
        parent or its first label is not one the hot path gives siblings' answers to.
        """
        if generation != self.generation or self.max_entries == 0:
            return None  # max_entries 0: pre-encoding is off (a `log` plugin sees every query)
        missed, found = self._missed
        if missed is not query.wire:
            found = hot_key(query.wire)
        if found is None:
            return None
        key = found[0]
        if family is not None and _covers(family, key, found[1]):
            key = _FAMILY_MARK + key[:1] + key[key[0] + 1 :]  # a sighting of any sibling counts
        if not self._admit(key):
            return None
        return found

    def _admit(self, key: bytes) -> bool:
        """True on a question's `admit_after`-th sighting (a count of one admits at once)."""
        if self.admit_after <= 1 or key in self._entries:
            return True
        return self._seen_before(hash(key))

    def _seen_before(self, seen: int) -> bool:
        """True when hash `seen` was sighted before (and forgets it); else remembers it."""
        if seen in self._seen:
            self._seen.discard(seen)
            return True
        if len(self._seen) >= max(_SEEN_MIN, self.max_entries):
            self._seen.clear()  # a flood of one-off names: start counting again
        self._seen.add(seen)
        return False

    def _remember(self, entry: _Entry, exact: bytes, tail: Tail) -> None:
        size = EXACT_OVERHEAD + len(exact) + (len(tail) if isinstance(tail, bytes) else 0)
        self._make_room(size, self._exact)
        if self._exact.get(exact) is not None or self._entries.get(entry.key) is not entry:
            return  # known already, or `entry` itself was the oldest and made room
        self._exact[exact] = (tail, entry)
        entry.exacts.append(exact)
        entry.size += size
        self._bytes += size

    def _make_room(self, size: int, table: Sized) -> None:
        """Drop the oldest answers until `size` more bytes and one more row of `table` fit."""
        entries = self._entries
        while entries and (len(table) >= self.max_entries or self._bytes + size > self.max_bytes):
            self._drop(entries[next(iter(entries))])

    def _expire(self, entry: _Entry) -> None:
        """Drop an answer past its lifetime; its next sighting stores it again at once."""
        self._drop(entry)
        self._seen.add(hash(entry.key))  # it was asked for: no second first sighting

    def _drop(self, entry: _Entry) -> None:
        key = entry.key
        if self._entries.get(key) is entry:
            del self._entries[key]
        for exact in entry.exacts:
            self._exact.pop(exact, None)
        if entry.family is not None:
            kin = self._families.get(entry.family)
            member = kin.by_length.get(key[1]) if kin is not None else None
            if kin is not None and member is not None and member[0] is entry:
                del kin.by_length[key[1]]
                if not kin.by_length:
                    del self._families[entry.family]
        members = self._scopes.get(entry.scope) if entry.scope is not None else None
        if members is not None:
            # Scopes are a Service's few answers; only EVERYTHING's list can be long.
            members.remove(entry)
            if not members:
                del self._scopes[entry.scope]
        self._bytes -= entry.size

    def invalidate(self, scopes: Iterable[Scope] | None) -> None:
        """Drop the answers filed under `scopes` (and EVERYTHING's); None drops them all."""
        self.generation += 1
        if scopes is None:
            self._forget_all()
            return
        for scope in (*scopes, EVERYTHING):
            for entry in self._scopes.pop(scope, ()):
                entry.scope = None  # already out of its scope's list
                self._drop(entry)

    def clear(self) -> None:
        """Forget every stored reply."""
        self.invalidate(None)

    def _forget_all(self) -> None:
        self._bytes = 0
        self.observed = False
        self._entries.clear()
        self._exact.clear()
        self._scopes.clear()
        self._families.clear()
        self._seen.clear()

    @property
    def counted_bytes(self) -> int:
        """What the stored answers cost in memory, as the budget counts it."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)
