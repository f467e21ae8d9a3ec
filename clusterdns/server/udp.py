"""The UDP listener: a reader callback that drains the socket and answers hits inline.

It owns its pre-encoded answers: a miss goes to the dispatcher, which says whether the reply
may be kept; the store keeps it under the key its own lookup already computed.
"""

import asyncio
import logging
import socket
from functools import partial

from clusterdns.clock import Clock
from clusterdns.server.dispatch import Dispatcher, Served
from clusterdns.server.hotpath import AnswerCache

logger = logging.getLogger(__name__)

_DRAIN_BUDGET = 512  # datagrams per wake-up, so TCP and HTTP get their turn under a flood
_MAX_DATAGRAM = 65535
_MAX_PENDING = 2000  # queries being answered off the hot path at once


class UdpServer:
    """Serves one bound UDP socket: answers at once, tasks only for queries that wait."""

    def __init__(
        self,
        sock: socket.socket,
        dispatcher: Dispatcher,
        answers: AnswerCache,
        clock: Clock | None = None,
    ) -> None:
        sock.setblocking(False)
        self.clock = clock or dispatcher.clock
        self.sock = sock
        self.dispatcher = dispatcher
        # One cache per socket, so its hit counters know the address family they count.
        self.answers = answers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Served]] = set()

    def start(self) -> None:
        """Start reading on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.sock.fileno(), self._drain)

    def close(self) -> None:
        """Stop reading, cancel queries in flight, close the socket."""
        if self._loop is not None:
            self._loop.remove_reader(self.sock.fileno())
        for task in self._tasks:
            task.cancel()
        self.sock.close()

    def _drain(self) -> None:
        recvfrom = self.sock.recvfrom
        sendto = self.sock.sendto
        answers = self.answers
        cached = answers.reply
        monotonic = self.clock.monotonic
        now = monotonic()  # one reading per wake-up: expiry needs no finer grain
        for _ in range(_DRAIN_BUDGET):
            try:
                data, addr = recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                logger.debug("udp receive failed: %s", exc)
                return
            if answers.observed:
                now = monotonic()  # `log` times each hit from here, as it times a miss
            reply = cached(data, now, addr)
            if reply is None:
                reply = self._miss(data, addr)
                if reply is None:
                    continue
            try:
                sendto(reply, addr)
            except OSError as exc:
                # A full send buffer or an unreachable client loses this reply, as it would
                # be lost on the way: the client retries (RFC 1035 4.2.1).
                logger.debug("udp send to %s failed: %s", addr, exc)

    def _miss(self, data: bytes, addr: tuple[str, int]) -> bytes | None:
        """Answer a miss at once when no plugin waits; else finish it in a task."""
        generation = self.answers.generation  # a reply made before a change is never kept
        outcome = self.dispatcher.serve_udp(data, addr)
        if not isinstance(outcome, asyncio.Task):
            reply, kept = outcome
            if kept is not None:
                self.answers.keep(kept, generation)
            return reply
        if len(self._tasks) >= _MAX_PENDING:
            # A flood of slow queries (e.g. to a silent upstream) must not grow memory and
            # file descriptors without bound: past this many waiting, drop, as a full socket
            # buffer would. Answers that need no wait are still given.
            outcome.cancel()
            logger.debug("udp: %d queries wait already, dropping one from %s", _MAX_PENDING, addr)
            return None
        self._tasks.add(outcome)
        outcome.add_done_callback(partial(self._answered, addr, generation))
        return None

    def _answered(
        self, addr: tuple[str, int], generation: int, task: "asyncio.Task[Served]"
    ) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is not None:
            return  # the dispatcher never raises; a cancelled query stays silent
        reply, kept = task.result()
        if kept is not None:
            self.answers.keep(kept, generation)
        if reply is None:
            return
        try:
            self.sock.sendto(reply, addr)
        except OSError as exc:
            logger.debug("udp send to %s failed: %s", addr, exc)
