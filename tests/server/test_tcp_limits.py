"""TCP under abuse: clients that never read, that hold connections open, that connect in bursts."""

import asyncio
import contextlib
import select
import socket
import struct
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import dns.message
import dns.rcode
import pytest

from clusterdns.app import App
from clusterdns.serve_flags import ServeOptions, serve_app
from tests.conftest import EXAMPLES, Client, listener
from tests.fakes.upstream import FakeUpstream

NAME = "web.demo.svc.cluster.local."


@contextlib.asynccontextmanager
async def serving(upstream: FakeUpstream, **tcp: float) -> AsyncIterator[App]:
    """The examples served on 127.0.0.1 with the given `tcp_*` serve options."""
    options = ServeOptions(
        manifests=(str(EXAMPLES),),
        dns_addrs=("127.0.0.1",),
        dns_port=0,
        upstreams=(upstream.address,),
        **{f"tcp_{key}": value for key, value in tcp.items()},  # type: ignore[arg-type]
    )
    app = serve_app(options)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


def frame(name: str = NAME, qtype: str = "A") -> bytes:
    """One length-prefixed query."""
    wire = dns.message.make_query(name, qtype).to_wire()
    return struct.pack("!H", len(wire)) + wire


async def connect(port: int, rcvbuf: int | None = None) -> socket.socket:
    """A connected non-blocking TCP socket to 127.0.0.1:`port`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # and no autotuning
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return sock


def _wait_hangup(sock: socket.socket, timeout: float) -> int:
    # EPOLLRDHUP reports the server's FIN, EPOLLHUP/EPOLLERR its RST; unlike readability,
    # neither fires for replies the client left unread.
    poller = select.epoll()
    try:
        poller.register(sock.fileno(), select.EPOLLRDHUP)
        events = poller.poll(timeout)
    finally:
        poller.close()
    return events[0][1] if events else 0


async def hung_up(sock: socket.socket, within: float) -> bool:
    """True once the server closes or resets `sock` within `within` s, without reading it."""
    return bool(await asyncio.to_thread(_wait_hangup, sock, within))


async def ask_tcp(port: int, name: str = NAME) -> dns.message.Message:
    """One TCP query from a fresh connection, as a new client would."""
    return await Client(port).tcp(dns.message.make_query(name, "A"), wait=1.0)


async def exchange(sock: socket.socket, name: str = NAME) -> dns.message.Message:
    """Send one query on `sock` and read its reply."""
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(sock, frame(name))
    data = b""
    while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
        chunk = await loop.sock_recv(sock, 65536)
        if not chunk:
            raise ConnectionError("closed before the reply")
        data += chunk
    return dns.message.from_wire(data[2:])


@contextlib.contextmanager
def closing_all(socks: list[socket.socket]) -> Iterator[list[socket.socket]]:
    """Close every socket in `socks` at the end."""
    try:
        yield socks
    finally:
        for sock in socks:
            sock.close()


async def test_client_that_pipelines_and_never_reads_is_disconnected(
    upstream: FakeUpstream,
) -> None:
    async with serving(upstream, write_timeout=0.5) as app:
        port = app.addresses[0][1]
        sock = await connect(port, rcvbuf=4096)
        with closing_all([sock]):
            loop = asyncio.get_running_loop()
            # The send itself stalls once the server stops reading a client it cannot write to.
            with contextlib.suppress(ConnectionError):
                await asyncio.wait_for(loop.sock_sendall(sock, frame() * 20_000), 20)
            assert await hung_up(sock, within=20)
        assert listener(app).tcp[0].stats.write_timeouts == 1
        assert len(listener(app).tcp[0].table) == 0
        assert (await ask_tcp(port)).rcode() == dns.rcode.NOERROR  # others still served


@dataclass(frozen=True)
class Crowd:
    """Idle connections held open before one more client connects."""

    held: int
    max_connections: int
    max_per_client: int
    survivors: int  # connections open after the newcomer got its answer
    evicted: int


CROWDS = [
    pytest.param(Crowd(3, 1000, 3, 3, 1), id="per-client-cap-closes-oldest-idle"),
    pytest.param(Crowd(3, 3, 100, 3, 1), id="total-cap-closes-oldest-idle"),
    pytest.param(Crowd(2, 3, 3, 3, 0), id="under-both-caps-nothing-closed"),
    pytest.param(Crowd(5_000, 1000, 100, 100, 4_901), id="5000-idle-default-caps"),
    pytest.param(Crowd(5_000, 1000, 10_000, 1000, 4_001), id="5000-idle-total-cap"),
]


@pytest.mark.parametrize("crowd", CROWDS)
async def test_idle_connections_make_room_for_a_new_client(
    upstream: FakeUpstream, crowd: Crowd
) -> None:
    async with serving(
        upstream, max_connections=crowd.max_connections, max_per_client=crowd.max_per_client
    ) as app:
        port = app.addresses[0][1]
        held: list[socket.socket] = []
        with closing_all(held):
            for _ in range(crowd.held):
                held.append(await connect(port))
            # Each connect returns once the kernel queued it; one query round-trip on the
            # last one proves the server accepted (or closed) every earlier one.
            loop = asyncio.get_running_loop()
            started = loop.time()
            newcomer = await connect(port)
            held.append(newcomer)
            reply = await asyncio.wait_for(exchange(newcomer), 1.0)
            assert reply.rcode() == dns.rcode.NOERROR
            assert loop.time() - started < 1.0
            assert len(listener(app).tcp[0].table) == crowd.survivors
            assert listener(app).tcp[0].stats.evicted == crowd.evicted
            if crowd.evicted:
                assert await hung_up(held[0], within=5)  # the oldest went first


async def test_new_connection_is_refused_when_every_connection_is_busy(
    upstream: FakeUpstream,
) -> None:
    upstream.script("slow.example.", "silent")  # answers never come: queries stay in flight
    async with serving(upstream, max_connections=2) as app:
        port = app.addresses[0][1]
        loop = asyncio.get_running_loop()
        busy = [await connect(port), await connect(port)]
        with closing_all(busy):
            for sock in busy:
                await loop.sock_sendall(sock, frame("slow.example."))
            await asyncio.to_thread(upstream.wait_for, 2)
            newcomer = await connect(port)
            with closing_all([newcomer]):
                assert await hung_up(newcomer, within=5)
            assert listener(app).tcp[0].stats.refused == 1
            assert len(listener(app).tcp[0].table) == 2


async def test_listen_backlog_holds_an_unpaced_burst(upstream: FakeUpstream) -> None:
    async with serving(upstream, max_per_client=2_000) as app:
        port = app.addresses[0][1]
        burst: list[socket.socket] = []
        with closing_all(burst):
            # Connect without yielding to the loop, so the server accepts none meanwhile: the
            # kernel completes as many handshakes as the listen backlog holds (asyncio's
            # default of 100 would leave the rest waiting for a SYN retransmit).
            for _ in range(1_000):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setblocking(False)
                burst.append(sock)
                assert sock.connect_ex(("127.0.0.1", port)) in (0, 115)  # 115: EINPROGRESS
            _, writable, _ = select.select([], burst, [], 0)
            assert len(writable) == 1_000
            assert (await ask_tcp(port)).rcode() == dns.rcode.NOERROR


async def test_half_closed_client_gets_every_answer_then_eof(upstream: FakeUpstream) -> None:
    async with serving(upstream) as app:
        sock = await connect(app.addresses[0][1])
        with closing_all([sock]):
            loop = asyncio.get_running_loop()
            await loop.sock_sendall(sock, frame() * 100)
            sock.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := await asyncio.wait_for(loop.sock_recv(sock, 65536), 5):
                data += chunk
        replies = []
        while data:
            (length,) = struct.unpack("!H", data[:2])
            replies.append(dns.message.from_wire(data[2 : 2 + length]))
            data = data[2 + length :]
        assert len(replies) == 100
        assert all(r.rcode() == dns.rcode.NOERROR for r in replies)


def padded_query(padding: int) -> bytes:
    """A query for NAME with an OPT record carrying `padding` bytes of an unknown option."""
    wire = dns.message.make_query(NAME, "A").to_wire()
    option = struct.pack("!HH", 65001, padding) + bytes(padding)
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, len(option)) + option
    return wire[:10] + struct.pack("!H", 1) + wire[12:] + opt


@pytest.mark.parametrize("padding", [0, 5_000, 65_000], ids=["small", "5k-frame", "65k-frame"])
async def test_frames_of_any_size_are_read_whole(upstream: FakeUpstream, padding: int) -> None:
    # Reads take a few KiB beyond the frame in progress; a long frame is still read whole.
    wire = padded_query(padding)
    async with serving(upstream) as app:
        sock = await connect(app.addresses[0][1])
        with closing_all([sock]):
            loop = asyncio.get_running_loop()
            await loop.sock_sendall(sock, struct.pack("!H", len(wire)) + wire)
            data = b""
            while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
                data += await asyncio.wait_for(loop.sock_recv(sock, 65536), 3)
    reply = dns.message.from_wire(data[2:])
    assert reply.rcode() == dns.rcode.NOERROR
    assert [rr.to_text() for rr in reply.answer] == [f"{NAME} 30 IN A 10.96.0.20"]
