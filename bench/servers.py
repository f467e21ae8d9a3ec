"""The servers under test as pinned child processes: clusterdns, Knot (the anchor), the floor.

Each is started with `taskset -c CORE`, its output is drained by a thread for as long as it
runs, and it counts as started when every one of its readiness lines has been printed.
"""

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from bench.generate import CLUSTER_IP, HEADLESS, ZONE, service_spec

REPO = Path(__file__).resolve().parent.parent
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """The benchmark could not run (a server did not start, dnsperf failed, ...)."""


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """CPU seconds (user, system) and memory of one process at one moment."""

    user_seconds: float
    system_seconds: float
    rss_kib: int
    hwm_kib: int

    @property
    def cpu_seconds(self) -> float:
        """User plus system CPU seconds."""
        return self.user_seconds + self.system_seconds


def proc_sample(pid: int) -> ProcessSample:
    """utime and stime (from /proc/PID/stat) and VmRSS/VmHWM (from /proc/PID/status)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # fields 3.. of proc(5); the name may hold " "
    memory = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            memory[key] = int(value.split()[0])
    return ProcessSample(
        int(fields[11]) / _CLOCK_TICKS,  # field 14, utime
        int(fields[12]) / _CLOCK_TICKS,  # field 15, stime
        memory.get("VmRSS", 0),
        memory.get("VmHWM", 0),
    )


def machine_busy_seconds() -> float:
    """CPU seconds every core has spent busy since boot (/proc/stat, less idle and iowait)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(f) for f in fields[:8]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4] - ticks[7]) / _CLOCK_TICKS


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now (nothing listens on it after)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise BenchError("no free port on 127.0.0.1")


class ServerProcess:
    """One DNS server as a child process pinned to a core; stopped however the run ends."""

    def __init__(
        self,
        name: str,
        command: list[str],
        port: int,
        ready: tuple[re.Pattern[str], ...],
        timeout: float,
    ) -> None:
        self.name = name
        self.command = command
        self.port = port
        self.ready = ready
        self.timeout = timeout
        self.output: list[str] = []
        self.matches: list[re.Match[str]] = []
        self.startup_seconds = 0.0
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int:
        """The server's process id (taskset execs the server, so it is the server's own)."""
        if self._process is None:
            raise BenchError(f"{self.name} not started")
        return self._process.pid

    def start(self) -> None:
        """Start the server and wait for its readiness lines (no fixed sleep)."""
        started = time.perf_counter()
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        self._process = subprocess.Popen(
            self.command,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        waiting = list(self.ready)
        deadline = started + self.timeout
        while waiting:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.perf_counter()))
            except queue.Empty:
                raise BenchError(f"{self.name} not ready after {self.timeout:.0f} s") from None
            if line is None:
                raise BenchError(f"{self.name} exited before it was ready:\n{self.tail()}")
            for pattern in list(waiting):
                found = pattern.search(line)
                if found:
                    self.matches.append(found)
                    waiting.remove(pattern)
        self.startup_seconds = time.perf_counter() - started

    def _read(self) -> None:
        """Drain the server's output for as long as it runs, so its pipe never fills."""
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self.output.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def wait_line(self, pattern: re.Pattern[str], timeout: float) -> str | None:
        """The next printed line matching `pattern`, or None after `timeout` seconds."""
        deadline = time.perf_counter() + timeout
        while (left := deadline - time.perf_counter()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                return None
            if pattern.search(line):
                return line
        return None

    def tail(self, lines: int = 20) -> str:
        """The last lines the server printed."""
        return "".join(self.output[-lines:])

    def check_alive(self) -> None:
        """BenchError when the server has died."""
        if self._process is not None and self._process.poll() is not None:
            code = self._process.returncode
            raise BenchError(f"{self.name} exited with {code}:\n{self.tail()}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 5 s."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running(server: ServerProcess) -> Iterator[ServerProcess]:
    """Start `server`; stop it on exit, on error and on SIGTERM to the benchmark."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)


def nxdomain_upstream() -> int:
    """A thread on 127.0.0.1 answering NXDOMAIN to everything: the upstream for outside names.

    ExternalName targets are looked up through `forward`, as CoreDNS does; a closed upstream
    would make each of them wait out the forward deadline.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def answer() -> None:
        while True:
            data, client = sock.recvfrom(4096)
            if len(data) >= 12:
                reply = bytearray(data)
                reply[2] = 0x80 | (data[2] & 0x79)  # QR, opcode and RD kept
                reply[3] = 0x83  # RA, NXDOMAIN
                sock.sendto(bytes(reply), client)

    threading.Thread(target=answer, daemon=True).start()
    port: int = sock.getsockname()[1]
    return port


def clusterdns_server(zone: Path, core: int, timeout: float) -> ServerProcess:
    """`clusterdns serve` on the manifests at `zone`, upstream an NXDOMAIN responder."""
    port, upstream = free_port(), nxdomain_upstream()
    command = ["taskset", "-c", str(core), sys.executable, "-m", "clusterdns", "serve"]
    command += ["--manifests", str(zone), "--dns-addr", "127.0.0.1", "--dns-port", str(port)]
    command += ["--upstream", f"127.0.0.1:{upstream}"]
    # "[INFO] clusterdns serving N services ..." and, since the live-cluster work,
    # "[INFO] clusterdns 0.1.0 serving on ADDR:PORT (udp, tcp) from ...": accept both.
    ready = (re.compile(r"\bclusterdns\b.*\bserving\b"),)
    return ServerProcess("clusterdns", command, port, ready, timeout)


def floor_server(core: int, timeout: float) -> ServerProcess:
    """The Python floor responder (bench/floor.py)."""
    port = free_port()
    command = ["taskset", "-c", str(core), sys.executable, "-m", "bench.floor"]
    command += ["--port", str(port)]
    ready = (re.compile(r"floor listening"),)
    return ServerProcess("python floor", command, port, ready, timeout)


def knot_version() -> str | None:
    """The installed knotd version, or None when Knot is not installed."""
    knotd = shutil.which("knotd") or ("/usr/sbin/knotd" if Path("/usr/sbin/knotd").exists() else "")
    if not knotd:
        return None
    done = subprocess.run([knotd, "--version"], capture_output=True, text=True, check=False)
    found = re.search(r"version (\S+)", done.stdout + done.stderr)
    return found.group(1) if found else "?"


def knot_server(
    work: Path, services: int, namespaces: int, core: int, timeout: float
) -> ServerProcess:
    """knotd with one UDP worker serving the same zone as an authoritative zone file."""
    work.mkdir(parents=True, exist_ok=True)
    write_knot_zone(work / "cluster.local.zone", services, namespaces)
    port = free_port()
    conf = work / "knot.conf"
    conf.write_text(
        "server:\n"
        f"    rundir: {work}\n"
        f"    listen: 127.0.0.1@{port}\n"
        "    udp-workers: 1\n"
        "    tcp-workers: 1\n"
        "    background-workers: 1\n"
        "log:\n"
        "  - target: stderr\n"
        "    any: info\n"
        "database:\n"
        f"    storage: {work}\n"
        "template:\n"
        "  - id: default\n"
        f"    storage: {work}\n"
        "zone:\n"
        f"  - domain: {ZONE}\n"
        f"    file: {ZONE}.zone\n",
        encoding="utf-8",
    )
    knotd = shutil.which("knotd") or "/usr/sbin/knotd"
    command = ["taskset", "-c", str(core), knotd, "-c", str(conf)]
    ready = (re.compile(r"server started"), re.compile(r"\[cluster\.local\.\] loaded"))
    return ServerProcess(f"knot {knot_version()}", command, port, ready, timeout)


def write_knot_zone(path: Path, services: int, namespaces: int) -> None:
    """The synthetic cluster as an RFC 1035 zone file with the records clusterdns answers."""
    with path.open("w", encoding="utf-8") as out:
        out.write(f"$ORIGIN {ZONE}.\n$TTL 30\n")
        out.write(f"@ SOA ns.dns.{ZONE}. hostmaster.{ZONE}. 1 7200 1800 86400 30\n")
        out.write(f"@ NS ns.dns.{ZONE}.\nns.dns A 127.0.0.1\n")
        for index in range(services):
            spec = service_spec(index, namespaces)
            owner = f"{spec.name}.{spec.namespace}.svc"
            if spec.kind == CLUSTER_IP:
                out.write(f"{owner} A {spec.cluster_ip}\n")
                for name, port in spec.ports:
                    out.write(f"_{name}._tcp.{owner} SRV 0 100 {port} {owner}.{ZONE}.\n")
            elif spec.kind == HEADLESS:
                weight = 100 // len(spec.endpoints)
                for address, host in spec.endpoints:
                    out.write(f"{owner} A {address}\n{host}.{owner} A {address}\n")
                    for name, port in spec.ports:
                        target = f"{host}.{owner}.{ZONE}."
                        out.write(f"_{name}._tcp.{owner} SRV 0 {weight} {port} {target}\n")
            else:
                out.write(f"{owner} CNAME {spec.name}.example.com.\n")
