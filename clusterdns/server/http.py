"""A small HTTP/1.1 listener for /health, /ready and /metrics: GET, one request a connection."""

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

from clusterdns.errors import ConfigError

logger = logging.getLogger(__name__)

_MAX_REQUEST_HEAD = 8192
_READ_TIMEOUT = 5.0
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


@dataclass(frozen=True, slots=True)
class HttpReply:
    """Status, content type and body of one reply."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


Route = Callable[[], HttpReply]


class HttpServer:
    """Serves fixed paths; each route is called on the event loop and must not block."""

    def __init__(self, sock: socket.socket, routes: dict[str, Route]) -> None:
        self.sock = sock
        self.routes = routes
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Start accepting on the running loop."""
        self.sock.setblocking(False)
        self._server = await asyncio.start_server(
            self._serve, sock=self.sock, limit=_MAX_REQUEST_HEAD
        )

    async def close(self) -> None:
        """Stop accepting."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_READ_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            reply = self._route(head)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            reply = None
        except ConnectionError:
            reply = None
        if reply is not None:
            status = f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, '')}\r\n"
            headers = (
                f"Content-Type: {reply.content_type}\r\n"
                f"Content-Length: {len(reply.body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(status.encode() + headers.encode() + reply.body)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    def _route(self, head: bytes) -> HttpReply:
        parts = head.split(b"\r\n", 1)[0].split()
        if len(parts) != 3:
            return HttpReply(405, b"bad request line\n")
        method, target = parts[0], parts[1].decode("latin-1").split("?", 1)[0]
        if method not in (b"GET", b"HEAD"):
            return HttpReply(405, b"only GET\n")
        route = self.routes.get(target)
        if route is None:
            return HttpReply(404, b"not found\n")
        try:
            return route()
        except Exception:
            logger.exception("http %s failed", target)
            return HttpReply(503, b"internal error\n")


class HttpListeners:
    """The HTTP listeners of one process, by address: `health`, `ready` and `prometheus` routes.

    CoreDNS lets several plugins (or server blocks) name one address; they share its listener.
    """

    def __init__(self) -> None:
        self._routes: dict[str, dict[str, Route]] = {}
        self._servers: dict[str, HttpServer] = {}
        self.bound: dict[str, tuple[str, int]] = {}

    def route(self, address: str, path: str, handler: Route) -> None:
        """Serve `path` on `address` (`HOST:PORT` or `:PORT`)."""
        self._routes.setdefault(address, {})[path] = handler

    async def start(self) -> None:
        """Bind every address not bound yet; ConfigError if one cannot be."""
        for address, routes in self._routes.items():
            if address in self._servers:
                continue
            sock = _listen(address)
            self.bound[address] = sock.getsockname()[:2]
            server = HttpServer(sock, routes)
            await server.start()
            self._servers[address] = server

    async def stop(self) -> None:
        """Close every listener."""
        for server in self._servers.values():
            await server.close()
        self._servers.clear()


def _listen(address: str) -> socket.socket:
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    if host == "localhost":
        host = "127.0.0.1"
    if not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"HTTP address {address!r}: want HOST:PORT or :PORT")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port)))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {address}: {exc}") from None
    return sock
