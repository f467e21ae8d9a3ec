"""Encodings of answers, kept for reuse; the first encoding of a big one made off the event loop.

Encoding 2,000 records for a TCP reply takes about 3 ms of Python, once per answer object,
question layout and size (`dns.message.encode_answer` keeps the bytes after the question in
a `BodyMemo`), and `loadbalance` hands out four orders of a big answer: made on the loop,
the first replies would hold every other query for 3 ms each. Such an encoding is made in a
worker thread instead (`offloop.OffLoop`, shared by the queries that need the same one
meanwhile), into a memo of its own that the loop then merges; each waiting query finishes
from the memo with its own id and letter case.
"""

from collections.abc import Awaitable
from functools import partial

from clusterdns.dns.message import BODIES_KEPT, UDP_MAX_PAYLOAD, BodyMemo, Query, encode_answer
from clusterdns.dns.records import Answer
from clusterdns.offloop import OffLoop

# Records from which an answer too long for UDP is first encoded off the loop (about 0.4 ms
# of encoding at 256 records).
OFF_LOOP_RECORDS = 256

# (answer's id, question labels, size limit, OPT or not): what shapes the bytes after the
# question (the id and the question's letter case are the query's own).
_Shape = tuple[int, tuple[bytes, ...], int, bool]


class Encodings:
    """`encode_answer` with its memo, making the first encoding of a big answer off the loop."""

    def __init__(self) -> None:
        self.bodies: BodyMemo = {}
        self._made: dict[_Shape, Answer] = {}  # encodings in `bodies` (or once were)
        self._making: OffLoop[_Shape, BodyMemo] = OffLoop()

    def encode(self, query: Query, answer: Answer, max_size: int) -> bytes | Awaitable[bytes]:
        """The reply bytes, or an awaitable of them when a big first encoding is under way."""
        if len(answer.answer) < OFF_LOOP_RECORDS or max_size <= UDP_MAX_PAYLOAD:
            return encode_answer(query, answer, max_size, self.bodies)
        shape = (id(answer), query.labels, max_size, query.edns is not None)
        if self._made.get(shape) is answer:
            return encode_answer(query, answer, max_size, self.bodies)
        return self._encode_off_loop(shape, query, answer, max_size)

    async def _encode_off_loop(
        self, shape: _Shape, query: Query, answer: Answer, max_size: int
    ) -> bytes:
        await self._making.make(
            shape,
            partial(_fresh_memo, query, answer, max_size),
            partial(self._learn, shape, answer),
        )
        # Reads what `_learn` merged (encoded again here only if it was evicted meanwhile).
        return encode_answer(query, answer, max_size, self.bodies)

    def _learn(self, shape: _Shape, answer: Answer, memo: BodyMemo) -> None:
        """Merge a worker's memo into ours (on the loop: the memo is never shared with it)."""
        for key, value in memo.items():
            if key not in self.bodies and len(self.bodies) >= BODIES_KEPT:
                self.bodies.pop(next(iter(self.bodies)))
            self.bodies[key] = value
        if shape not in self._made and len(self._made) >= BODIES_KEPT:
            self._made.pop(next(iter(self._made)))
        self._made[shape] = answer


def _fresh_memo(query: Query, answer: Answer, max_size: int) -> BodyMemo:
    """In a worker thread: a memo holding the encoding of `answer` for `query`'s shape."""
    memo: BodyMemo = {}
    encode_answer(query, answer, max_size, memo)
    return memo
