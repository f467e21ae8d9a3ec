"""The general-path workloads: queries the pre-encoded answers do not cover, as ratios in one run.

    python -m bench.general [--seconds S] [--workloads cookie,unique,external,log,big]

Each workload runs against the same generated 1,000-Service zone as `bench.run`, with the
server pinned to one core and dnsperf to the other, and is reported beside the plain mixed
file served by the same server in the same run (or beside Knot on the same query file):

- `cookie`: the mixed file, each query with EDNS and a client COOKIE option (`dig`'s default).
- `unique`: never-repeated names, one per query, also sent to Knot: half random subdomains
  of Services, a fifth Services that do not exist, the rest pod names (`10-x-y-z.ns.pod`,
  answered from the name under `pods insecure`; Knot's zone has no pod names, so it answers
  those with NXDOMAIN).
- `external`: 1,000 names outside the cluster, answered once by a loopback upstream and then
  from `cache`.
- `log`: the mixed file against a server whose Corefile adds `log`.
- `big`: 4 TCP connections pipelining 50 queries each for a 2,000-endpoint headless Service,
  while a UDP probe asks another name every 10 ms: the probe's p99 and losses.
- `flood`: 300,000 never-repeated names, once each, against a fresh server: its RSS growth.
"""

import argparse
import json
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import servers
from bench.generate import (
    ZONE_FILE,
    default_namespaces,
    queries_file,
    service_spec,
    write_queries,
    write_zone,
)
from bench.run import RunReport, run_dnsperf, wait_for_quiet
from bench.servers import (
    REPO,
    BenchError,
    ServerProcess,
    clusterdns_server,
    free_port,
    knot_server,
    knot_version,
    nxdomain_upstream,
    proc_sample,
    running,
)

_NEVER = re.compile(r"(?!)")  # matches no line: waiting on it reads a server's output to the end
WORKLOADS = ("cookie", "unique", "external", "log", "big", "flood")
COOKIE_OPTION = "10:0102030405060708"  # dnsperf -E code:hex (RFC 7873 client cookie)
BIG_ENDPOINTS = 2000
PROBE_SECONDS = 3.0  # the UDP probe runs at least this long (300 probes)


@dataclass
class Row:
    """One measured workload: its dnsperf (or probe) figures and its ratio to the reference."""

    workload: str
    reference: str
    qps: float
    reference_qps: float
    cpu_us: float
    note: str = ""

    @property
    def ratio(self) -> float:
        """QPS of the workload over QPS of its reference, measured in the same run."""
        return self.qps / self.reference_qps if self.reference_qps else 0.0


def answering_upstream() -> int:
    """A thread on 127.0.0.1 answering every A question with 192.0.2.1, TTL 300."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def answer() -> None:
        while True:
            data, client = sock.recvfrom(4096)
            if len(data) < 17:
                continue
            end = 12
            while data[end]:
                end += data[end] + 1
            question = data[12 : end + 5]
            header = data[:2] + bytes((0x80 | (data[2] & 0x79), 0x80)) + b"\0\1\0\1\0\0\0\0"
            record = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + bytes((192, 0, 2, 1))
            sock.sendto(header + question + record, client)

    threading.Thread(target=answer, daemon=True).start()
    port: int = sock.getsockname()[1]
    return port


def write_lines(path: Path, lines: list[str]) -> Path:
    """Write a dnsperf query file."""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def unique_lines(count: int, namespaces: int) -> list[str]:
    """`count` never-repeated names: random subdomains, new Service names and pod names."""
    lines = []
    for i in range(count):
        spec = service_spec(i % 1000, namespaces)
        kind = i % 10
        if kind < 5:  # a random subdomain of a Service (NXDOMAIN)
            lines.append(f"r{i:07d}.{spec.name}.{spec.namespace}.svc.cluster.local A")
        elif kind < 7:  # a Service that does not exist (NXDOMAIN)
            lines.append(f"new{i:07d}.{spec.namespace}.svc.cluster.local A")
        else:  # a pod name: its address, from the name itself
            address = f"10-{i >> 16 & 255}-{i >> 8 & 255}-{i & 255}"
            lines.append(f"{address}.{spec.namespace}.pod.cluster.local A")
    return lines


def dnsperf(
    server: ServerProcess,
    name: str,
    queries: Path,
    args: argparse.Namespace,
    extra: tuple[str, ...] = (),
    seconds: int | None = None,
) -> RunReport:
    """One max-throughput dnsperf run (`bench.run`'s settings) over `queries`."""
    limit = seconds or args.seconds
    options = ["-d", str(queries), "-t", "2", "-l", str(limit), "-T", "1", "-c", "1"]
    options += ["-q", "100", *extra]
    if args.quiet_wait > 0:
        wait_for_quiet(args.quiet_wait)
    return run_dnsperf(server, name, options, args.client_core, limit)


def log_server(zone: Path, out: Path, core: int, timeout: float) -> ServerProcess:
    """clusterdns with the `serve` Corefile plus `log`, its query log sent to a file."""
    port, upstream = free_port(), nxdomain_upstream()
    flags = ["--manifests", str(zone), "--dns-addr", "127.0.0.1", "--dns-port", str(port)]
    flags += ["--upstream", f"127.0.0.1:{upstream}"]
    printed = subprocess.run(
        [sys.executable, "-m", "clusterdns", "serve", *flags, "--print-corefile"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    corefile = out / "log.Corefile"
    corefile.write_text(printed.replace("    errors\n", "    errors\n    log\n", 1))
    command = ["taskset", "-c", str(core), sys.executable, "-m", "clusterdns", "-conf"]
    command += [str(corefile), "-dns.port", str(port)]
    server = clusterdns_server(zone, core, timeout)
    return ServerProcess("clusterdns+log", command, port, server.ready, timeout)


def big_zone(path: Path) -> Path:
    """A zone with one headless Service of BIG_ENDPOINTS endpoints, and one small Service."""
    endpoints = [
        {
            "addresses": [f"10.{200 + i // 65536}.{i // 256 % 256}.{i % 256}"],
            "conditions": {"ready": True},
        }
        for i in range(BIG_ENDPOINTS)
    ]
    items = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "big"}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "many", "namespace": "big"},
            "spec": {"clusterIP": "None", "ports": [{"name": "http", "port": 80}]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "many-1",
                "namespace": "big",
                "labels": {"kubernetes.io/service-name": "many"},
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": [{"name": "http", "port": 80}],
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "one", "namespace": "big"},
            "spec": {"clusterIP": "10.96.5.5", "ports": [{"name": "http", "port": 80}]},
        },
    ]
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return path


def query(name: str, qtype: int, ident: int) -> bytes:
    """A plain query with RD set."""
    labels = b"".join(bytes((len(p),)) + p.encode() for p in name.rstrip(".").split("."))
    return (
        struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)
        + labels
        + b"\0"
        + struct.pack("!HH", qtype, 1)
    )


def big_run(server: ServerProcess, connections: int = 4, each: int = 50) -> dict[str, float]:
    """Pipeline `each` big queries on `connections` TCP streams; probe UDP every 10 ms."""
    big = query("many.big.svc.cluster.local.", 1, 1)
    framed = struct.pack("!H", len(big)) + big
    done = threading.Event()
    probe_ms: list[float] = []
    probe_start: list[float] = []
    began = time.perf_counter()
    lost = 0

    def probe() -> None:
        nonlocal lost
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(1.0)
        ident = 0
        while not done.is_set():
            ident = (ident + 1) & 0xFFFF
            started = time.perf_counter()
            probe_start.append(started - began)
            sock.sendto(query("one.big.svc.cluster.local.", 1, ident), ("127.0.0.1", server.port))
            try:
                while True:
                    data = sock.recv(4096)
                    if data[:2] == struct.pack("!H", ident):
                        break
                probe_ms.append((time.perf_counter() - started) * 1000)
            except TimeoutError:
                lost += 1
            done.wait(0.010)
        sock.close()

    def pipeline(results: list[float]) -> None:
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as conn:
            started = time.perf_counter()
            conn.sendall(framed * each)
            buffer = b""
            replies = 0
            while replies < each:
                chunk = conn.recv(1 << 20)
                if not chunk:
                    break
                buffer += chunk
                while len(buffer) >= 2 and len(buffer) >= 2 + int.from_bytes(buffer[:2], "big"):
                    buffer = buffer[2 + int.from_bytes(buffer[:2], "big") :]
                    replies += 1
            results.append(time.perf_counter() - started)

    prober = threading.Thread(target=probe)
    prober.start()
    results: list[float] = []
    threads = [threading.Thread(target=pipeline, args=(results,)) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    done.wait(max(0.0, PROBE_SECONDS - elapsed))  # enough probes for a p99, whatever the speed
    done.set()
    prober.join()
    ordered = sorted(probe_ms) or [0.0]
    return {
        "tcp_seconds": elapsed,
        "answers": float(connections * each),
        "ms_per_answer": elapsed * 1000 / (connections * each),
        "probe_p50_ms": ordered[len(ordered) // 2],
        "probe_p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "probe_max_ms": ordered[-1],
        "probes": float(len(probe_ms)),
        "probes_during_pipelines": float(sum(1 for t in probe_start if t <= elapsed)),
        "probe_lost": float(lost),
    }


def benchmark(args: argparse.Namespace) -> tuple[list[Row], dict[str, float]]:
    """Run the chosen workloads; return their rows and the `big` figures."""
    out = REPO / "bench" / "out" / ("general-" + servers.REPO.name)
    out.mkdir(parents=True, exist_ok=True)
    namespaces = default_namespaces(1000)
    zone = write_zone(out / ZONE_FILE, 1000, namespaces)
    mixed = queries_file(out, "mixed")
    write_queries(mixed, "mixed", 1000, namespaces, 20_000, 1)
    unique = write_lines(out / "queries-unique.txt", unique_lines(600_000, namespaces))
    external = write_lines(
        out / "queries-external.txt", [f"host-{i:04d}.example.net A" for i in range(1000)]
    )
    rows: list[Row] = []
    wanted = set(args.workloads.split(","))
    server = clusterdns_server(zone.path, args.server_core, 60)
    upstream = answering_upstream()
    server.command[server.command.index("--upstream") + 1] = f"127.0.0.1:{upstream}"
    with running(server):
        dnsperf(server, "warm-up", mixed, args, ("-n", "2"))
        plain = dnsperf(server, "plain", mixed, args)
        if "cookie" in wanted:
            # Cookie queries carry EDNS, so their keys differ from the plain ones: they get
            # the same two warm-up passes the plain run had (answers are stored on a
            # question's second sighting).
            dnsperf(server, "cookie warm-up", mixed, args, ("-n", "2", "-e", "-E", COOKIE_OPTION))
            cookie = dnsperf(server, "cookie", mixed, args, ("-e", "-E", COOKIE_OPTION))
            rows.append(
                Row(
                    "cookie",
                    "plain (same server)",
                    cookie.qps,
                    plain.qps,
                    cookie.server_cpu_us_per_query,
                )
            )
        if "external" in wanted:
            dnsperf(server, "external warm-up", external, args, ("-n", "1"))
            ext = dnsperf(server, "external", external, args)
            rows.append(
                Row(
                    "external",
                    "plain (same server)",
                    ext.qps,
                    plain.qps,
                    ext.server_cpu_us_per_query,
                )
            )
        if "unique" in wanted:
            uniq = dnsperf(server, "unique", unique, args)
            rows.append(
                Row(
                    "unique",
                    "Knot, same file",
                    uniq.qps,
                    0.0,
                    uniq.server_cpu_us_per_query,
                    f"plain: {plain.qps:,.0f}",
                )
            )
        rows.insert(0, Row("plain", "itself", plain.qps, plain.qps, plain.server_cpu_us_per_query))
    if "unique" in wanted and knot_version() is not None:
        knot = knot_server(out / "knot", 1000, namespaces, args.server_core, 60)
        with running(knot):
            knot_unique = dnsperf(knot, "knot unique", unique, args)
            knot_plain = dnsperf(knot, "knot plain", mixed, args)
        for row in rows:
            if row.workload == "unique":
                row.reference_qps = knot_unique.qps
        rows.append(
            Row(
                "plain vs Knot",
                "Knot, mixed file",
                plain.qps,
                knot_plain.qps,
                plain.server_cpu_us_per_query,
            )
        )
    if "log" in wanted:
        logged = log_server(zone.path, out, args.server_core, 60)
        with running(logged):
            warm_up = dnsperf(logged, "log warm-up", mixed, args, ("-n", "1"))
            log_run = dnsperf(logged, "log", mixed, args)
        # Every answered query has its line: the server writes what is queued when it stops.
        logged.wait_line(_NEVER, 10)  # returns at the end of the server's output
        lines = sum(1 for line in logged.output if line.startswith("[INFO] ") and '" ' in line)
        answered = warm_up.completed + log_run.completed
        print(f"log: {lines} query log lines for {answered} answers received", file=sys.stderr)
        if lines < answered:
            raise BenchError(f"log: {answered - lines} answered queries have no log line")
        rows.append(
            Row(
                "log",
                "plain (first server)",
                log_run.qps,
                plain.qps,
                log_run.server_cpu_us_per_query,
            )
        )
    figures: dict[str, float] = {}
    if "flood" in wanted:
        flood = write_lines(out / "queries-flood.txt", unique_lines(300_000, namespaces))
        fresh = clusterdns_server(zone.path, args.server_core, 60)
        with running(fresh):
            dnsperf(fresh, "flood warm-up", mixed, args, ("-n", "2"))
            before = proc_sample(fresh.pid).rss_kib / 1024
            dnsperf(fresh, "flood", flood, args, ("-n", "1"), seconds=180)
            after = proc_sample(fresh.pid)
        figures["flood_rss_before_mib"] = before
        figures["flood_rss_after_mib"] = after.rss_kib / 1024
        figures["flood_rss_growth_mib"] = after.rss_kib / 1024 - before
    if "big" in wanted:
        big = clusterdns_server(big_zone(out / "big.json"), args.server_core, 60)
        with running(big):
            figures.update(big_run(big))
    return rows, figures


def markdown(rows: list[Row], figures: dict[str, float]) -> str:
    """The report as Markdown tables."""
    lines = [
        "| workload | QPS | server CPU µs/q | reference | reference QPS | ratio |",
        "| --- | ---: | ---: | --- | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row.workload} | {row.qps:,.0f} | {row.cpu_us:.1f} | {row.reference} "
            f"| {row.reference_qps:,.0f} | {row.ratio:.2f} |"
        )
    if figures:
        lines += [
            "",
            "| big (2,000-endpoint headless, TCP pipeline + UDP probe) | value |",
            "| --- | ---: |",
        ]
        lines += [f"| {key} | {value:,.2f} |" for key, value in figures.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the general-path workloads and print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument("--quiet-wait", type=float, default=20.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--repo", type=Path, help="serve with the clusterdns of this checkout (a before figure)"
    )
    args = parser.parse_args(argv)
    if args.repo is not None:
        servers.REPO = args.repo.resolve()  # the servers' PYTHONPATH and working directory
    rows, figures = benchmark(args)
    if args.json:
        print(
            json.dumps(
                {"rows": [asdict(r) | {"ratio": r.ratio} for r in rows], "big": figures}, indent=2
            )
        )
    else:
        print(markdown(rows, figures))
    return 0


if __name__ == "__main__":
    random.seed(1)
    sys.exit(main())
