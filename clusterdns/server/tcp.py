"""The TCP listener: 2-byte framed queries, several per connection, closed when idle or stalled."""

import asyncio
import logging
import socket
import struct
from dataclasses import dataclass
from typing import cast

from clusterdns.server.connections import ConnectionTable, TcpLimits
from clusterdns.server.dispatch import Dispatcher

logger = logging.getLogger(__name__)

_MAX_IN_FLIGHT = 32  # pipelined queries answered at once per connection
# Replies queued in user space beyond this pause reading the connection's queries and start
# its write deadline; below the low mark both are lifted.
_WRITE_HIGH = 64 * 1024
_WRITE_LOW = 16 * 1024
_READ_CHUNK = 64 * 1024 + 2  # one whole maximum-size frame fits
# Read at most this much beyond the frame in progress: a connection whose queries wait for
# answers holds a few KiB of them, not 64 KiB (x 1,000 connections).
_READ_AHEAD = 4096
# A fixed kernel send buffer (Linux doubles it) instead of autotuning up to tcp_wmem's 4 MiB:
# room for the largest DNS message, while a client that never reads stalls us, and meets the
# write deadline, after ~128 KiB rather than megabytes of unread replies per connection.
_SEND_BUFFER = 64 * 1024


@dataclass(slots=True)
class TcpStats:
    """Why connections ended; plain counters, read by tests, benchmarks and logs."""

    accepted: int = 0
    refused: int = 0  # limits reached and nothing idle to close
    evicted: int = 0  # idle, closed to make room (RFC 7766 §6.2.2)
    idle_closed: int = 0
    write_timeouts: int = 0


class TcpServer:
    """Serves one bound TCP socket under `limits` (timeouts, connection caps, backlog)."""

    def __init__(
        self, sock: socket.socket, dispatcher: Dispatcher, limits: TcpLimits | None = None
    ) -> None:
        self.sock = sock
        self.dispatcher = dispatcher
        self.limits = limits or TcpLimits()
        self.stats = TcpStats()
        self.table: ConnectionTable[_Connection] = ConnectionTable(self.limits)
        self.tasks: set[asyncio.Task[None]] = set()
        # Every connection reads into this one buffer and keeps only an unfinished frame, so
        # an idle connection holds no buffer at all.
        self.scratch = memoryview(bytearray(_READ_CHUNK))
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Start accepting on the running loop, with our backlog (not asyncio's 100)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), sock=self.sock, backlog=self.limits.backlog
        )

    async def close(self) -> None:
        """Stop accepting, drop open connections, and let their answers finish briefly."""
        if self._server is not None:
            self._server.close()
        for conn in self.table:
            conn.abort()
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=self.limits.write_timeout)
        if self._server is not None:
            await self._server.wait_closed()

    def set_limits(self, limits: TcpLimits) -> None:
        """Hold connections to `limits` from now on (a reload; the backlog stays as bound)."""
        self.limits = limits
        self.table.limits = limits

    async def answer(self, body: bytes, peer: tuple[str, int]) -> bytes | None:
        """The reply to one framed query (the one place TCP calls the dispatcher)."""
        return await self.dispatcher.handle(body, "tcp", peer)


class _Connection(asyncio.BufferedProtocol):
    """One client connection: frames in, replies out, with idle and write deadlines."""

    __slots__ = (
        "server",
        "transport",
        "peer",
        "partial",
        "pos",
        "in_flight",
        "writing_paused",
        "last_active",
        "timer",
        "closed",
        "eof",
        "queries",
    )

    def __init__(self, server: TcpServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        self.partial = b""  # bytes received and not yet taken as frames, from `pos` on
        self.pos = 0
        self.in_flight = 0
        self.writing_paused = False
        self.last_active = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False
        self.eof = False
        self.queries = 0

    @property
    def busy(self) -> bool:
        """Answering, or unable to write: not a candidate for closing as idle."""
        return self.in_flight > 0 or self.writing_paused

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # create_server hands stream protocols an asyncio.Transport.
        self.transport = transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = (str(peer[0]), int(peer[1])) if peer else ("", 0)
        server = self.server
        victims = server.table.admit(self, self.peer[0])
        if victims is None:
            server.stats.refused += 1
            self.closed = True
            transport.abort()
            return
        server.stats.accepted += 1
        for victim in victims:
            server.stats.evicted += 1
            victim.abort()
        transport.set_write_buffer_limits(high=_WRITE_HIGH, low=_WRITE_LOW)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER)
        loop = asyncio.get_running_loop()
        self.last_active = loop.time()
        self.timer = loop.call_at(self.last_active + self._idle_limit(), self._idle_check)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.partial, self.pos = b"", 0
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.server.table.remove(self)

    def abort(self) -> None:
        """Drop the connection at once, unsent replies included."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def get_buffer(self, sizehint: int) -> memoryview:
        data, pos = self.partial, self.pos
        want = _READ_AHEAD
        if len(data) - pos >= 2:  # room for the rest of the frame in progress, however long
            want = max(want, 2 + ((data[pos] << 8) | data[pos + 1]) - (len(data) - pos))
        return self.server.scratch[:want]

    def buffer_updated(self, nbytes: int) -> None:
        chunk = bytes(self.server.scratch[:nbytes])
        self.partial = self.partial[self.pos :] + chunk if self.partial else chunk
        self.pos = 0
        self.last_active = asyncio.get_running_loop().time()
        self.server.table.touch(self)
        self._take_frames()

    def eof_received(self) -> bool:
        # The client may half-close after its last queries; it still gets every answer, and
        # we close once they are written (True keeps our side open until then).
        self.eof = True
        self._take_frames()
        return not self.closed

    def pause_writing(self) -> None:
        self.writing_paused = True
        if not self.eof:
            self._pause_reading()
        if self.timer is not None:
            self.timer.cancel()
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.server.limits.write_timeout, self._write_timed_out)

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.timer is not None:
            self.timer.cancel()
        loop = asyncio.get_running_loop()
        self.last_active = loop.time()
        self.timer = loop.call_at(self.last_active + self._idle_limit(), self._idle_check)
        self._take_frames()

    def _take_frames(self) -> None:
        """Start answering every complete frame, up to the in-flight cap."""
        data = self.partial
        offset = self.pos
        end = len(data)
        while not self.closed and self.in_flight < _MAX_IN_FLIGHT and not self.writing_paused:
            if end - offset < 2:
                break
            length = (data[offset] << 8) | data[offset + 1]
            if length == 0:  # nothing to answer; the client is confused: hang up
                self._close()
                return
            if end - offset - 2 < length:
                break
            body = data[offset + 2 : offset + 2 + length]
            offset += 2 + length
            self._start(body)
            self.queries += 1
            if self.queries == self.server.limits.max_queries:
                # CoreDNS's maxtcpqueries: answer this one, then close, so that clients
                # reconnect and a connection balancer can spread them.
                self.eof = True
                self._pause_reading()
                offset = end
        if offset == end:
            self.partial, self.pos = b"", 0
        else:
            self.pos = offset  # no copy: a pipelined chunk is taken a few frames at a time
        if self.closed:
            return
        if self.eof:
            # Nothing more will arrive: hang up once every complete frame is answered.
            if self.in_flight == 0 and not self._complete_frame():
                self._close()
        elif self.in_flight >= _MAX_IN_FLIGHT or self.writing_paused:
            # Read more only when there is room to answer it.
            self._pause_reading()
        else:
            assert self.transport is not None
            if not self.transport.is_reading():
                self.transport.resume_reading()

    def _complete_frame(self) -> bool:
        data, pos = self.partial, self.pos
        return len(data) - pos >= 2 and len(data) - pos - 2 >= ((data[pos] << 8) | data[pos + 1])

    def _start(self, body: bytes) -> None:
        self.in_flight += 1
        task = asyncio.ensure_future(self._answer(body))
        self.server.tasks.add(task)
        task.add_done_callback(self.server.tasks.discard)

    async def _answer(self, body: bytes) -> None:
        try:
            reply = await self.server.answer(body, self.peer)
        finally:
            self.in_flight -= 1
        if self.closed or self.transport is None or self.transport.is_closing():
            return
        if reply is not None:
            self.transport.write(struct.pack("!H", len(reply)) + reply)
        self._take_frames()

    def _pause_reading(self) -> None:
        assert self.transport is not None
        if self.transport.is_reading():
            self.transport.pause_reading()

    def _idle_limit(self) -> float:
        """How long the connection may wait for its next query."""
        limits = self.server.limits
        # miekg/dns (CoreDNS's server): the read timeout for the first query, the idle timeout
        # for the next ones. A shorter idle timeout bounds the first wait too.
        return (
            limits.idle_timeout if self.queries else min(limits.read_timeout, limits.idle_timeout)
        )

    def _idle_check(self) -> None:
        """Close after `idle_timeout` without a query, unless answers are still owed."""
        loop = asyncio.get_running_loop()
        limit = self._idle_limit()
        due = self.last_active + limit
        if self.in_flight or loop.time() < due:
            self.timer = loop.call_at(max(due, loop.time() + limit / 4), self._idle_check)
            return
        self.timer = None
        self.server.stats.idle_closed += 1
        self._close()

    def _write_timed_out(self) -> None:
        # RFC 7766 §6.2.2: a client that does not read its replies must not hold resources
        # forever; CoreDNS's TCP write deadline is 5 s.
        self.timer = None
        self.server.stats.write_timeouts += 1
        logger.debug("tcp: %s:%d did not read its replies; closing", *self.peer)
        self.abort()

    def _close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
