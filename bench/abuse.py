"""Abuse figures for the README: idle connection floods, connect bursts, slow readers, log floods.

    python -m bench.abuse              # every scenario
    python -m bench.abuse idle burst   # some of them

Each scenario starts its own `clusterdns serve` (the repository's examples, pinned to one
core, upstream an NXDOMAIN responder on 127.0.0.1 or a closed port) and reads its RSS from
/proc before, during and after the abuse. All traffic stays on 127.0.0.1.
"""

import argparse
import re
import select
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dns.message
import dns.query
import dns.rcode

from bench.servers import REPO, ServerProcess, free_port, nxdomain_upstream, proc_sample, running

NAME = "web.demo.svc.cluster.local."
Scenario = Callable[[int], list[str]]


def _server(core: int, *flags: str, upstream: str | None = None) -> ServerProcess:
    port = free_port()
    command = ["taskset", "-c", str(core), sys.executable, "-m", "clusterdns", "serve"]
    command += ["--manifests", str(REPO / "examples"), "--dns-addr", "127.0.0.1"]
    command += ["--dns-port", str(port)]
    command += ["--upstream", upstream or f"127.0.0.1:{nxdomain_upstream()}", *flags]
    return ServerProcess("clusterdns", command, port, (re.compile(r"serving on"),), 30)


def _mib(server: ServerProcess) -> float:
    return proc_sample(server.pid).rss_kib / 1024


def _query_seconds(port: int) -> float:
    """How long a fresh client's TCP query takes to be answered (NOERROR required)."""
    started = time.perf_counter()
    reply = dns.query.tcp(dns.message.make_query(NAME, "A"), "127.0.0.1", port=port, timeout=5)
    if reply.rcode() != dns.rcode.NOERROR:
        raise RuntimeError(f"{NAME}: {dns.rcode.to_text(reply.rcode())}")
    return time.perf_counter() - started


@contextmanager
def _held(port: int, count: int) -> Iterator[list[socket.socket]]:
    """`count` idle connections, each connected before the next; all closed at the end."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        yield socks
    finally:
        for sock in socks:
            sock.close()


def idle(core: int) -> list[str]:
    """5,000 idle connections held open: a new client's latency, RSS during and after."""
    rows = [
        "| limits | RSS before | with 5,000 held | new client's TCP query | RSS after close |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    variants = [
        ("defaults (1,000 total, 100 per client)", ()),
        ("per-client cap lifted: 1,000 total", ("--tcp-max-per-client", "100000")),
        ("no effective cap (100,000)", ("--tcp-max-connections", "100000",
                                        "--tcp-max-per-client", "100000")),
    ]  # fmt: skip
    for label, flags in variants:
        with running(_server(core, *flags)) as server:
            _query_seconds(server.port)  # warm: the first answer builds the reply caches
            before = _mib(server)
            with _held(server.port, 5_000):
                latency = _query_seconds(server.port)
                during = _mib(server)
            _query_seconds(server.port)  # the server has seen every close by now
            after = _mib(server)
        rows.append(
            f"| {label} | {before:.1f} MiB | {during:.1f} MiB (+{during - before:.1f}) "
            f"| {latency * 1000:.1f} ms | {after:.1f} MiB |"
        )
    return rows


def burst(core: int) -> list[str]:
    """5,000 connects at once, unpaced: how many handshakes complete within a second."""
    with running(_server(core, "--tcp-max-per-client", "100000")) as server:
        socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(5_000)]
        try:
            started = time.perf_counter()
            for sock in socks:
                sock.setblocking(False)
                sock.connect_ex(("127.0.0.1", server.port))
            poller = select.poll()
            by_fd = {sock.fileno(): sock for sock in socks}
            for fd in by_fd:
                poller.register(fd, select.POLLOUT)
            done: set[int] = set()
            while len(done) < len(socks) and (left := 1.0 - (time.perf_counter() - started)) > 0:
                for fd, _ in poller.poll(left * 1000):
                    poller.unregister(fd)
                    if not by_fd[fd].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        done.add(fd)
            seconds = time.perf_counter() - started
        finally:
            for sock in socks:
                sock.close()
    return [f"- burst: {len(done):,} of 5,000 unpaced connects completed in {seconds:.2f} s"]


def _hangup(sock: socket.socket, timeout: float) -> bool:
    poller = select.epoll()
    try:
        poller.register(sock.fileno(), select.EPOLLRDHUP)
        return bool(poller.poll(timeout))
    finally:
        poller.close()


def slow_reader(core: int) -> list[str]:
    """A client pipelines 20,000 queries and never reads: how soon it is disconnected."""
    wire = dns.message.make_query(NAME, "A").to_wire()
    frames = (struct.pack("!H", len(wire)) + wire) * 20_000
    with running(_server(core)) as server:
        before = _mib(server)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        started = time.perf_counter()
        sock.settimeout(30)
        try:
            sock.sendall(frames)
        except (ConnectionError, TimeoutError):
            pass  # reset while still sending: disconnected, as wanted
        closed = _hangup(sock, 60)
        seconds = time.perf_counter() - started
        peak = proc_sample(server.pid).hwm_kib / 1024
        sock.close()
        after = _mib(server)
    verdict = f"disconnected after {seconds:.1f} s" if closed else "NOT disconnected in 60 s"
    return [
        f"- slow reader (20,000 pipelined queries, never reads): {verdict}; "
        f"RSS {before:.1f} → peak {peak:.1f} → {after:.1f} MiB"
    ]


def forward_flood(core: int) -> list[str]:
    """20,000 queries an upstream refuses: how many log lines they make."""
    closed = free_port()
    with running(_server(core, upstream=f"127.0.0.1:{closed}")) as server:
        printed = len(server.output)
        started = time.perf_counter()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("127.0.0.1", server.port))
            sock.settimeout(5)
            for index in range(20_000):
                sock.send(dns.message.make_query(f"n{index}.example.com.", "A").to_wire())
                if index % 100 == 99:  # paced: each batch answered (SERVFAIL) before the next
                    for _ in range(100):
                        try:
                            sock.recv(4096)
                        except TimeoutError:
                            break
        flooded = time.perf_counter() - started
        # Every 10 s window ends with its count; the last one within 10 s of the flood's end.
        summaries = 0
        while server.wait_line(re.compile(r"more like that"), 12):
            summaries += 1
        lines = [line.rstrip() for line in server.output[printed:] if "forward:" in line]
    return [
        f"- forward flood (20,000 queries in {flooded:.0f} s, upstream refuses): "
        f"{len(lines)} log lines, {summaries} of them counts",
        *(f"  - `{line}`" for line in lines[:4]),
    ]


SCENARIOS: dict[str, Scenario] = {
    "idle": idle,
    "burst": burst,
    "slow-reader": slow_reader,
    "forward-flood": forward_flood,
}


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios; print Markdown."""
    parser = argparse.ArgumentParser(prog="python -m bench.abuse", description=__doc__)
    parser.add_argument("scenarios", nargs="*", help=f"any of {', '.join(SCENARIOS)} (all)")
    parser.add_argument("--core", type=int, default=0, help="core the server is pinned to")
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}; choose from {', '.join(SCENARIOS)}")
    for name in args.scenarios or list(SCENARIOS):
        print(f"### {name}\n", flush=True)
        print("\n".join(SCENARIOS[name](args.core)) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
