"""Exchanging one query with one upstream over one transport: the forward plugin's only IO."""

import asyncio
import socket
import struct
from typing import Literal, Protocol

from clusterdns.dns.message import TCP_MAX_MESSAGE
from clusterdns.dns.wire import answers, question_end
from clusterdns.errors import UpstreamError, WireError
from clusterdns.plugins.forward.options import Upstream

Transport = Literal["udp", "tcp"]


class Exchanger(Protocol):
    """Sends a query to an upstream and returns its matching reply."""

    async def exchange(
        self, wire: bytes, upstream: Upstream, transport: Transport = "udp"
    ) -> bytes:
        """The reply to `wire`, or UpstreamError; callers bound it with `asyncio.timeout`.

        The reply is checked here, once (`dns.wire.answers`: same id, a response, the same
        question); replies that fail the check are ignored, and the caller trusts the one
        returned.
        """
        ...


def what_happened(exc: BaseException) -> str:
    """A few words for a failed exchange, as an operator reads them in the log."""
    if isinstance(exc, ConnectionRefusedError):
        return "refused"  # ICMP port unreachable over UDP, RST over TCP
    if isinstance(exc, ConnectionResetError):
        return "reset the connection"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "closed the connection mid-reply"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


class _UdpWaiter(asyncio.DatagramProtocol):
    """Keeps the first datagram that matches the query; ignores the rest (RFC 5452 9.1)."""

    def __init__(self, query: bytes, done: "asyncio.Future[bytes]") -> None:
        self.query = query
        self.question_end = question_end(query)
        self.done = done

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if not self.done.done() and answers(self.query, self.question_end, data):
            self.done.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)  # an ICMP error: exchange() says what happened


class NetworkExchanger:
    """The real exchanger: a fresh socket per query (no connection reuse)."""

    async def exchange(
        self, wire: bytes, upstream: Upstream, transport: Transport = "udp"
    ) -> bytes:
        """The matching reply over `transport`; UpstreamError on refusal or a broken stream."""
        try:
            question_end(wire)  # a query we cannot match replies to is not sent
        except WireError as exc:
            raise UpstreamError(f"{upstream} ({transport}): bad query: {exc}") from exc
        try:
            if transport == "tcp":
                return await self._tcp(wire, upstream)
            return await self._udp(wire, upstream)
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise UpstreamError(f"{upstream} ({transport}): {what_happened(exc)}") from exc

    async def _udp(self, wire: bytes, upstream: Upstream) -> bytes:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bytes] = loop.create_future()
        family = socket.AF_INET6 if ":" in upstream.host else socket.AF_INET
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpWaiter(wire, done),
            remote_addr=(upstream.host, upstream.port),
            family=family,
        )
        try:
            transport.sendto(wire)
            return await done
        finally:
            transport.close()

    async def _tcp(self, wire: bytes, upstream: Upstream) -> bytes:
        end = question_end(wire)
        reader, writer = await asyncio.open_connection(upstream.host, upstream.port)
        try:
            writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
            while True:  # skip replies to other queries, as over UDP
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = await reader.readexactly(min(length, TCP_MAX_MESSAGE))
                if answers(wire, end, reply):
                    return reply
        finally:
            writer.close()
