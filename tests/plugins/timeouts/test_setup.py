"""The `timeouts` stanza: Corefile snippets to TCP limits, or to an error naming file and line."""

import asyncio
import socket
import struct

import dns.message
import pytest

from clusterdns.app import App
from clusterdns.corefile.lexer import CorefileError
from clusterdns.plugins.timeouts.setup import Timeouts, setup
from clusterdns.server.connections import TcpLimits
from tests.conftest import listener
from tests.fakes.plugins import FakeClock, context, stanza


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("timeouts {\n read 10s\n}", Timeouts(read=10.0), id="read"),
        pytest.param(
            "timeouts {\n write 20s\n idle 1m\n}", Timeouts(write=20.0, idle=60.0), id="write-idle"
        ),
        pytest.param("timeouts {\n maxtcpqueries 128\n}", Timeouts(max_queries=128), id="max"),
        pytest.param("timeouts {\n maxtcpqueries -1\n}", Timeouts(max_queries=-1), id="unlimited"),
        pytest.param("timeouts {\n idle 24h\n}", Timeouts(idle=86400.0), id="longest"),
    ],
)
def test_stanza(text: str, expected: Timeouts) -> None:
    assert setup(stanza(text), context(FakeClock())) == expected


ERRORS = [
    pytest.param("timeouts", "2: timeouts: timeouts block with no timeouts", id="bare"),
    pytest.param("timeouts 5s {\n read 1s\n}", "2: timeouts: expected no", id="arg"),
    pytest.param(
        "timeouts {\n read 500ms\n}", "3: timeouts: read: read must be 1s..24h", id="short"
    ),
    pytest.param("timeouts {\n write 25h\n}", "3: timeouts: write: write must be", id="long"),
    pytest.param("timeouts {\n idle soon\n}", "3: timeouts: idle: idle must be a dur", id="junk"),
    pytest.param("timeouts {\n maxtcpqueries 0\n}", "3: .*maxtcpqueries: must be -1", id="zero"),
    pytest.param("timeouts {\n maxtcpqueries -2\n}", "3: .*must be -1..", id="negative"),
    pytest.param("timeouts {\n read\n}", "3: timeouts: read: expected 1 arg", id="no-value"),
    pytest.param("timeouts {\n dial 1s\n}", "3: timeouts: unknown property 'dial'", id="unknown"),
]


@pytest.mark.parametrize(("text", "error"), ERRORS)
def test_stanza_errors(text: str, error: str) -> None:
    with pytest.raises(CorefileError, match="^Corefile:" + error):
        setup(stanza(text), context(FakeClock()))


def test_apply_keeps_what_the_stanza_leaves() -> None:
    limits = Timeouts(write=20.0, max_queries=3).tune_tcp(TcpLimits(max_per_client=7))
    assert limits == TcpLimits(write_timeout=20.0, max_queries=3, max_per_client=7)


async def test_maxtcpqueries_closes_after_that_many_answers() -> None:
    corefile = ".:0 {\n  bind 127.0.0.1\n  timeouts {\n    maxtcpqueries 2\n  }\n}\n"
    app = App(corefile)
    await app.start()
    try:
        assert listener(app).tcp[0].limits.max_queries == 2
        wire = dns.message.make_query("example.org.", "A").to_wire()
        loop = asyncio.get_running_loop()
        with socket.create_connection(app.addresses[0]) as sock:
            sock.setblocking(False)
            await loop.sock_sendall(sock, (struct.pack("!H", len(wire)) + wire) * 3)
            data = b""
            while chunk := await asyncio.wait_for(loop.sock_recv(sock, 65536), 5):
                data += chunk
        replies = 0
        while data:
            (length,) = struct.unpack("!H", data[:2])
            data = data[2 + length :]
            replies += 1
        assert replies == 2  # then EOF: the third query is not read
    finally:
        await app.stop()


async def test_read_timeout_closes_a_connection_that_never_asks() -> None:
    corefile = ".:0 {\n  bind 127.0.0.1\n  timeouts {\n    read 1s\n  }\n}\n"
    app = App(corefile)  # idle stays 10s: only the read timeout can close it this soon
    await app.start()
    try:
        loop = asyncio.get_running_loop()
        with socket.create_connection(app.addresses[0]) as sock:
            sock.setblocking(False)
            started = loop.time()
            assert await asyncio.wait_for(loop.sock_recv(sock, 1), 5) == b""
            assert 0.9 < loop.time() - started < 5
        assert listener(app).tcp[0].stats.idle_closed == 1
    finally:
        await app.stop()


async def test_reload_applies_new_timeouts_to_the_kept_listener() -> None:
    app = App(".:0 {\n  bind 127.0.0.1\n}\n")
    await app.start()
    try:
        assert listener(app).tcp[0].limits.max_queries == -1
        kept = listener(app).tcp[0]
        reloaded = ".:0 {\n  bind 127.0.0.1\n  timeouts {\n    maxtcpqueries 2\n  }\n}\n"
        assert await app.reload(reloaded)
        assert listener(app).tcp[0] is kept
        assert listener(app).tcp[0].limits.max_queries == 2
        assert listener(app).tcp[0].table.limits.max_queries == 2
    finally:
        await app.stop()
