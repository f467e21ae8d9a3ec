"""End to end: `clusterdns serve` as a process, asked with the real `dig`, as the README shows."""

import os
import select
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.ports import free_port
from tests.fakes.upstream import FakeUpstream

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("dig") is None, reason="dig (bind9-dnsutils) missing")


def start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "clusterdns", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float = 15) -> str:
    """Read stdout until a line contains `needle`; fail if the process exits first."""
    assert process.stdout is not None
    seen: list[str] = []
    while True:
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        if not ready:
            pytest.fail(f"no {needle!r} within {timeout}s; output: {seen}")
        line = process.stdout.readline()
        if not line:
            pytest.fail(f"server exited: {seen} {process.stderr.read() if process.stderr else ''}")
        seen.append(line)
        if needle in line:
            return line


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int, FakeUpstream]]:
    upstream = FakeUpstream()
    port = free_port()
    process = start(
        "serve",
        "--manifests",
        "examples",
        "--dns-addr",
        "127.0.0.1",
        "--dns-port",
        str(port),
        "--upstream",
        upstream.address,
    )
    try:
        wait_for_line(process, "serving on")
        yield "127.0.0.1", port, upstream
    finally:
        process.terminate()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()
        upstream.close()


def dig(host: str, port: int, *args: str) -> str:
    result = subprocess.run(
        ["dig", f"@{host}", "-p", str(port), "+tries=1", "+time=3", *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    return result.stdout


def short(host: str, port: int, *args: str) -> list[str]:
    return dig(host, port, "+short", *args).split()


def test_readme_a_query(server: tuple[str, int, FakeUpstream]) -> None:
    host, port, _ = server
    out = dig(host, port, "web.demo.svc.cluster.local")
    assert "status: NOERROR" in out and "flags: qr aa rd;" in out
    assert "web.demo.svc.cluster.local. 30\tIN\tA\t10.96.0.20" in out


def test_readme_srv_over_tcp(server: tuple[str, int, FakeUpstream]) -> None:
    host, port, _ = server
    assert short(host, port, "+tcp", "_http._tcp.web.demo.svc.cluster.local", "SRV") == [
        "0",
        "100",
        "80",
        "web.demo.svc.cluster.local.",
    ]


def test_readme_reverse_lookup(server: tuple[str, int, FakeUpstream]) -> None:
    host, port, _ = server
    assert short(host, port, "-x", "10.96.0.20") == ["web.demo.svc.cluster.local."]


def test_headless_and_nxdomain(server: tuple[str, int, FakeUpstream]) -> None:
    host, port, _ = server
    assert short(host, port, "db.demo.svc.cluster.local") == [
        "10.244.2.10",
        "10.244.2.11",
        "10.244.2.12",
    ]
    out = dig(host, port, "nope.demo.svc.cluster.local")
    assert (
        "status: NXDOMAIN" in out and "SOA\tns.dns.cluster.local. hostmaster.cluster.local." in out
    )


def test_forwarded_name(server: tuple[str, int, FakeUpstream]) -> None:
    host, port, upstream = server
    upstream.script("outside.example.", "answer", ("192.0.2.7",))
    assert short(host, port, "outside.example") == ["192.0.2.7"]


def test_ipv6_listener() -> None:
    upstream = FakeUpstream()
    port = free_port(socket.AF_INET6, "::1")
    process = start(
        "serve",
        "--manifests",
        "examples",
        "--dns-addr",
        "::1",
        "--dns-port",
        str(port),
        "--upstream",
        upstream.address,
    )
    try:
        wait_for_line(process, "serving on")
        assert short("::1", port, "dual.demo.svc.cluster.local", "AAAA") == ["fd00:10:96::50"]
    finally:
        process.terminate()
        process.communicate(timeout=10)
        upstream.close()


def test_bad_manifest_exits_1_naming_file_document_and_field(tmp_path: Path) -> None:
    (tmp_path / "svc.yaml").write_text(
        "kind: Namespace\nmetadata: {name: demo}\n---\n"
        "kind: Service\nmetadata: {name: web, namespace: demo}\nspec: {clusterIP: 10.0.0.999}\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "clusterdns",
            "serve",
            "--manifests",
            str(tmp_path),
            "--dns-addr",
            "127.0.0.1",
            "--dns-port",
            "0",
            "--upstream",
            "127.0.0.1:9",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert result.returncode == 1
    # The field as the file has it (the API server would fill in spec.clusterIPs).
    assert f"{tmp_path / 'svc.yaml'}: document 2: spec.clusterIP:" in result.stderr
    assert "malformed IP address '10.0.0.999'" in result.stderr


def test_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "clusterdns", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert result.returncode == 0 and result.stdout.startswith("clusterdns ")
