"""The process kubeadm runs: `python -m clusterdns -conf FILE`, as a real process on 127.0.0.1.

It checks what the kind/kubeadm Deployment relies on (docs/architecture.md, "What it
promises"): the kubeadm Corefile from a read-only ConfigMap-like directory, /ready after the
first sync, memory under the 70Mi request, no writes anywhere (read-only root filesystem),
`[LEVEL]` log lines on stdout, the SIGTERM lameduck window, exit 1 with FILE:LINE for a bad
Corefile, and a named resource and verb when RBAC forbids a list. Nothing sleeps: every wait
is for a log line, a fake API request or an HTTP answer, with a deadline.

Tests run as root here, and root ignores the 0o555/0o444 modes: the no-writes check compares
the directories before and after (and, when strace is there, every open the process makes).
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

from tests.fakes.kube_api import FakeKubeAPI, endpoint_slice, namespace, service
from tests.fakes.ports import free_port
from tests.fakes.upstream import FakeUpstream

ROOT = Path(__file__).resolve().parents[2]
KUBEADM = ROOT / "tests" / "data" / "corefiles" / "kubeadm.Corefile"
START_TIMEOUT = 20.0
LOG_LINE = re.compile(r"^\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] \S")
MiB = 1024 * 1024


@dataclass
class Ports:
    dns: int = field(default_factory=free_port)
    health: int = field(default_factory=free_port)
    ready: int = field(default_factory=free_port)
    metrics: int = field(default_factory=free_port)


def kubeadm_corefile(ports: Ports, upstream: str) -> str:
    """kubeadm's Corefile with its ports on free loopback ports and a fake upstream."""
    text = KUBEADM.read_text()
    replacements = [
        (".:53 {", f".:{ports.dns} {{\n    bind 127.0.0.1"),
        ("health {", f"health 127.0.0.1:{ports.health} {{"),
        ("lameduck 5s", "lameduck 1s"),
        ("    ready\n", f"    ready 127.0.0.1:{ports.ready}\n"),
        ("prometheus :9153", f"prometheus 127.0.0.1:{ports.metrics}"),
        ("forward . /etc/resolv.conf", f"forward . {upstream}"),
    ]
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return text


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Check `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        tick.wait(0.02)


class Server:
    """`python -m clusterdns ARGS` with stdout and stderr read by threads, line by line."""

    def __init__(
        self, argv: list[str], env: dict[str, str], cwd: Path, wrapped: bool = False
    ) -> None:
        self.wrapped = wrapped
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: object, lines: list[str]) -> None:
        assert stream is not None
        for line in stream:  # type: ignore[attr-defined]
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_line(self, *parts: str, timeout: float = START_TIMEOUT) -> str:
        """The first stdout line holding every one of `parts` (waits for it)."""

        def find() -> str | None:
            return next((line for line in self.out if all(p in line for p in parts)), None)

        with self._changed:
            found = self._changed.wait_for(
                lambda: find() is not None or self.proc.poll() is not None, timeout
            )
            line = find()
        if line is None:
            state = "exited" if found else "timed out"
            raise AssertionError(f"{state} before a line with {parts}:\n{self.output()}")
        return line

    @property
    def pid(self) -> int:
        """The server's pid: the process itself, or a wrapper's (strace's) one child."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        if self.wrapped:
            pids = children.read_text().split()
            assert len(pids) == 1, pids
            return int(pids[0])
        return self.proc.pid

    def terminate(self) -> None:
        """SIGTERM to the server, as the kubelet sends it."""
        os.kill(self.pid, signal.SIGTERM)

    def output(self) -> str:
        with self._changed:
            return "\n".join(["stdout:", *self.out, "stderr:", *self.err])

    def finish(self, timeout: float = 15.0) -> int:
        """Wait for the exit status, and for both streams to be read to the end."""
        status = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return status

    def stop(self) -> None:
        if self.proc.poll() is None:
            if self.wrapped:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except (OSError, AssertionError):
                    pass  # gone already
            self.proc.kill()
        self.finish()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def http_get(port: int, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def ask(port: int, name: str, qtype: str = "A", tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, qtype)
    if tcp:
        return dns.query.tcp(query, "127.0.0.1", port=port, timeout=3)
    return dns.query.udp(query, "127.0.0.1", port=port, timeout=3)


def addresses(reply: dns.message.Message) -> set[str]:
    return {rr.address for rrset in reply.answer for rr in rrset if hasattr(rr, "address")}


def tree(path: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under `path` (and `path` itself): mode, size, mtime."""
    entries: dict[str, tuple[int, int, int]] = {}
    for item in [path, *path.rglob("*")]:
        info = item.lstat()
        entries[str(item.relative_to(path))] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return entries


class Env:
    """A fake cluster and upstream, and the directories the process must leave untouched."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.api = FakeKubeAPI()
        self.api.add("namespaces", namespace("default"))
        self.api.add("namespaces", namespace("kube-system"))
        self.api.add("services", service("kubernetes", cluster_ip="10.96.0.1", port=443))
        self.api.add("services", service("kube-dns", "kube-system", "10.96.0.10", port=53))
        for i in range(20):  # a small cluster: 20 apps with 3 endpoints each
            name = f"app{i}"
            self.api.add("services", service(name, cluster_ip=f"10.96.1.{i + 1}"))
            ips = [f"10.244.{i}.{j}" for j in (1, 2, 3)]
            self.api.add("endpointslices", endpoint_slice(f"{name}-x", name, ips))
        self.upstream = FakeUpstream()
        kube = tmp_path / "kube"
        kube.mkdir()
        self.kubeconfig = self.api.write_kubeconfig(kube / "config")
        self.ports = Ports()
        self.conf_dir = tmp_path / "etc-coredns"  # as kubelet mounts the ConfigMap
        self.conf_dir.mkdir()
        self.corefile = self.conf_dir / "Corefile"
        self.corefile.write_text(kubeadm_corefile(self.ports, self.upstream.address))
        self.corefile.chmod(0o444)
        self.conf_dir.chmod(0o555)
        self.cwd, self.home, self.tmp = (tmp_path / n for n in ("cwd", "home", "tmp"))
        for directory in (self.cwd, self.home, self.tmp):
            directory.mkdir()
        self.watched = (self.conf_dir, self.cwd, self.home, self.tmp)
        self.before = self.trees()
        self.servers: list[Server] = []

    def trees(self) -> list[dict[str, tuple[int, int, int]]]:
        return [tree(directory) for directory in self.watched]

    def environ(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "KUBECONFIG": self.kubeconfig,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": str(ROOT),
        }

    def start(self, *wrapper: str, conf: Path | None = None) -> Server:
        """kubeadm's args: `-conf FILE` and nothing else."""
        argv = [*wrapper, sys.executable, "-m", "clusterdns", "-conf", str(conf or self.corefile)]
        server = Server(argv, self.environ(), self.cwd, wrapped=bool(wrapper))
        self.servers.append(server)
        return server

    def close(self) -> None:
        for server in self.servers:
            server.stop()
        self.api.close()
        self.upstream.close()
        self.conf_dir.chmod(0o755)  # so pytest can clean up as any user


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    fake = Env(tmp_path)
    yield fake
    fake.close()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            value, unit = line.split()[1:3]
            assert unit == "kB"
            return int(value) * 1024
    raise AssertionError("no VmRSS")


def test_kubeadm_args_start_sync_answer_and_stay_small(env: Env) -> None:
    # Namespaces fail to list at first: the process must serve, but not be ready.
    env.api.fail_next(500, count=None, resource="namespaces")
    server = env.start()
    server.wait_line("[INFO] clusterdns serving on", f"127.0.0.1:{env.ports.dns} (udp, tcp)")
    server.wait_line("namespaces", "500")
    status, _ = http_get(env.ports.ready, "/ready")
    assert status == 503
    assert http_get(env.ports.health, "/health") == (200, "OK")
    # Before the first sync, cluster names are SERVFAIL, never a wrong NXDOMAIN.
    assert ask(env.ports.dns, "kubernetes.default.svc.cluster.local").rcode() == dns.rcode.SERVFAIL

    env.api.clear_faults()
    server.wait_line("[INFO] zone ready: 22 services in 2 namespaces")
    assert http_get(env.ports.ready, "/ready")[0] == 200

    for tcp in (False, True):
        reply = ask(env.ports.dns, "kubernetes.default.svc.cluster.local", tcp=tcp)
        assert reply.rcode() == dns.rcode.NOERROR
        assert addresses(reply) == {"10.96.0.1"}
    assert addresses(ask(env.ports.dns, "app7.default.svc.cluster.local")) == {"10.96.1.8"}
    assert addresses(ask(env.ports.dns, "example.org")) == {"192.0.2.1"}  # forwarded
    metrics = http_get(env.ports.metrics, "/metrics")
    assert metrics[0] == 200
    assert "coredns_dns_requests_total" in metrics[1]

    rss = rss_bytes(server.pid)
    assert rss < 70 * MiB, f"RSS {rss / MiB:.1f} MiB is over kubeadm's 70Mi request"


def test_sigterm_turns_ready_503_answers_through_lameduck_then_exits_0(env: Env) -> None:
    server = env.start()
    server.wait_line("[INFO] zone ready")
    assert http_get(env.ports.ready, "/ready")[0] == 200

    server.terminate()
    signalled = time.monotonic()
    server.wait_line("lameduck: answering for 1.0s more")
    # Not ready from the moment the signal is handled, while DNS (UDP and TCP) still answers.
    assert http_get(env.ports.ready, "/ready")[0] == 503
    for tcp in (False, True):
        reply = ask(env.ports.dns, "kubernetes.default.svc.cluster.local", tcp=tcp)
        assert addresses(reply) == {"10.96.0.1"}
    assert server.proc.poll() is None

    assert server.finish() == 0, server.output()
    assert time.monotonic() - signalled >= 0.9  # the lameduck window was kept
    with pytest.raises(OSError):
        http_get(env.ports.ready, "/ready")


def test_logs_are_level_prefixed_lines_on_stdout_and_nothing_is_written(env: Env) -> None:
    server = env.start()
    server.wait_line("[INFO] zone ready")
    ask(env.ports.dns, "web.default.svc.cluster.local")
    ask(env.ports.dns, "example.org")
    server.terminate()
    assert server.finish() == 0, server.output()

    assert server.err == []
    lines = [line for line in server.out if line]
    assert lines
    bad = [line for line in lines if not LOG_LINE.match(line)]
    assert bad == []
    # Not a byte written to the Corefile directory, the working directory, HOME or TMPDIR.
    assert env.trees() == env.before
    assert not list(ROOT.joinpath("clusterdns").rglob("*.pyc.*"))  # no bytecode temp files


def written_paths(trace: str) -> list[str]:
    """Paths that open/openat/creat calls in an strace log opened for writing or creating."""
    found = []
    for line in trace.splitlines():
        match = re.search(r"\b(?:open|openat|creat)\((?:[^,]+, )?\"([^\"]*)\", ([^,)]+)", line)
        if not match:
            continue
        if match.group(0).startswith("creat") or re.search(
            r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND", match.group(2)
        ):
            found.append(match.group(1))
    return found


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_strace_shows_no_file_opened_for_writing(env: Env, tmp_path: Path) -> None:
    log = tmp_path / "strace.log"  # written by strace, not by the traced process
    server = env.start(
        "strace", "-f", "-qq", "-o", str(log), "-e", "trace=open,openat,creat,mkdir,rename"
    )
    server.wait_line("[INFO] zone ready", timeout=60)
    ask(env.ports.dns, "kubernetes.default.svc.cluster.local")
    server.terminate()
    assert server.finish(timeout=30) == 0, server.output()
    trace = log.read_text()
    assert "openat(" in trace  # strace saw the process at all
    allowed = {"/dev/null", "/dev/tty"}
    assert [p for p in written_paths(trace) if p not in allowed] == []
    assert not re.search(r"\b(mkdir|rename)\(", trace)
    assert env.trees() == env.before


def test_a_corefile_that_does_not_parse_exits_1_naming_file_and_line(env: Env) -> None:
    bad = env.tmp_path / "bad" / "Corefile"
    bad.parent.mkdir()
    text = kubeadm_corefile(env.ports, env.upstream.address).replace("ttl 30", "tll 30")
    bad.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "tll 30" in row)
    server = env.start(conf=bad)
    assert server.finish() == 1
    assert any(f"clusterdns: {bad}:{line}:" in row for row in server.err), server.output()


def test_unterminated_block_exits_1_naming_file_and_line(env: Env) -> None:
    bad = env.tmp_path / "Corefile.cut"
    bad.write_text(".:53 {\n    errors\n    health {\n")
    server = env.start(conf=bad)
    assert server.finish() == 1
    # The line of the '{' left open (health's, line 3), not the end of the file.
    expected = f"clusterdns: {bad}:3: unterminated block: this '{{' is never closed"
    assert any(row.startswith(expected) for row in server.err), server.output()


def test_missing_rbac_names_resource_and_verb_and_ready_stays_503(env: Env) -> None:
    env.api.fail_next(403, count=None, resource="endpointslices")
    server = env.start()
    line = server.wait_line("[ERROR]", "endpointslices", "403 Forbidden")
    assert "list" in line
    assert "forbidden" in line.lower()
    # It keeps retrying; through a second forbidden list, it never becomes ready.
    wait_until(
        lambda: len(env.api.requests_for("list", "endpointslices")) >= 2,
        timeout=10,
        what="a second endpointslices list",
    )
    assert http_get(env.ports.ready, "/ready")[0] == 503
    assert not [row for row in server.out if "zone ready" in row]
    # One line per outage, not one per retry. (Match the status text: a port number in any
    # other line may contain "403".)
    assert len([row for row in server.out if "403 Forbidden" in row]) == 1
    assert server.proc.poll() is None
