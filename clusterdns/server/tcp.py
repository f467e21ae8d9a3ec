"""The TCP listener: 2-byte framed queries, several per connection, closed when idle."""

import asyncio
import contextlib
import logging
import socket
import struct

from clusterdns.server.dispatch import Dispatcher

logger = logging.getLogger(__name__)

_MAX_IN_FLIGHT = 32  # pipelined queries answered at once per connection


class TcpServer:
    """Serves one bound, listening TCP socket."""

    def __init__(self, sock: socket.socket, dispatcher: Dispatcher, idle_timeout: float) -> None:
        self.sock = sock
        self.dispatcher = dispatcher
        self.idle_timeout = idle_timeout
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.StreamWriter, asyncio.Task[None] | None] = {}

    async def start(self) -> None:
        """Start accepting on the running loop."""
        self._server = await asyncio.start_server(self._serve_connection, sock=self.sock)

    async def close(self) -> None:
        """Stop accepting and drop open connections."""
        if self._server is not None:
            self._server.close()
        # Closing the transports ends each connection's read loop normally; cancelling the
        # stream tasks instead makes asyncio log their CancelledError.
        tasks = [task for task in self._connections.values() if task is not None]
        for writer in list(self._connections):
            writer.transport.abort()
        if tasks:
            await asyncio.wait(tasks, timeout=self.idle_timeout)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._connections[writer] = asyncio.current_task()
        peer = writer.get_extra_info("peername") or ("", 0)
        pending: set[asyncio.Task[None]] = set()
        try:
            while True:
                body = await self._read_frame(reader)
                if body is None:
                    break
                if len(pending) >= _MAX_IN_FLIGHT:
                    _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                pending.add(asyncio.create_task(self._answer(body, writer, peer)))
            if pending:
                # The client may half-close after its last query; it still gets every answer.
                await asyncio.wait(pending, timeout=self.idle_timeout)
        finally:
            for task in pending:
                task.cancel()
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()
            self._connections.pop(writer, None)

    async def _read_frame(self, reader: asyncio.StreamReader) -> bytes | None:
        """One message, or None at EOF, idle timeout or a broken frame."""
        try:
            async with asyncio.timeout(self.idle_timeout):
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                # The 2-byte prefix caps any read at 64 KiB, whatever the client claims.
                return await reader.readexactly(length) if length else None
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return None

    async def _answer(
        self, body: bytes, writer: asyncio.StreamWriter, peer: tuple[str, int]
    ) -> None:
        reply = await self.dispatcher.handle(body, "tcp", peer)
        if reply is None or writer.is_closing():
            return
        writer.write(struct.pack("!H", len(reply)) + reply)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
