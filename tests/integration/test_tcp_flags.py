"""`clusterdns serve`'s TCP flags, end to end: a process, raw sockets and the real `dig`."""

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.fakes.ports import free_port
from tests.fakes.upstream import FakeUpstream
from tests.integration.test_dig import ROOT, dig, start, wait_for_line


@pytest.fixture
def capped() -> Iterator[int]:
    """`serve` allowing two TCP connections per client address; yields its port."""
    upstream = FakeUpstream()
    port = free_port()
    process = start(
        "serve",
        *("--manifests", "examples", "--dns-addr", "127.0.0.1", "--dns-port", str(port)),
        *("--upstream", upstream.address, "--tcp-max-per-client", "2"),
    )
    try:
        wait_for_line(process, "serving on")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()
        upstream.close()


def test_per_client_cap_closes_the_oldest_idle_connection(capped: int) -> None:
    held = [socket.create_connection(("127.0.0.1", capped), timeout=5) for _ in range(2)]
    try:
        output = dig("127.0.0.1", capped, "+tcp", "web.demo.svc.cluster.local")
        assert "status: NOERROR" in output and "10.96.0.20" in output
        # Closed to make room for dig's connection, well before the 3 s read timeout.
        held[0].settimeout(1.0)
        assert held[0].recv(1) == b""
        held[1].setblocking(False)
        with pytest.raises(BlockingIOError):
            held[1].recv(1)  # still open
    finally:
        for sock in held:
            sock.close()


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        pytest.param("--tcp-max-connections", "0", "--tcp-max-connections: must be", id="total"),
        pytest.param("--tcp-max-per-client", "-1", "--tcp-max-per-client: must be", id="client"),
        pytest.param("--tcp-write-timeout", "0", "--tcp-write-timeout: must be", id="write"),
    ],
)
def test_bad_limit_exits_1_with_one_line(flag: str, value: str, message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "clusterdns", "serve", "--manifests", "examples", flag, value],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"clusterdns: {message}")
    assert len(result.stderr.splitlines()) == 1
