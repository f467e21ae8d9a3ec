"""The fuzz run at scale: a million abusive packets at `clusterdns serve`, memory watched.

    python -m bench.fuzz                       # 1,000,000 UDP packets + 100,000 TCP frames
    python -m bench.fuzz --udp 50000 --tcp 5000

The packets and the rules every reply must keep are those of the CI fuzz tests
(tests/fuzz/fuzzer.py). The server runs as a child process pinned to one core, fed the
repository's examples, with an NXDOMAIN responder on 127.0.0.1 as its upstream. RSS is read
from /proc before, after every chunk, and at the end; the run fails when a rule is broken,
when the server dies, or when it no longer answers a plain query at the end.
"""

import argparse
import json
import random
import re
import socket
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import dns.message
import dns.query
import dns.rcode

from bench.servers import (
    REPO,
    BenchError,
    ServerProcess,
    free_port,
    nxdomain_upstream,
    proc_sample,
    running,
)
from tests.fuzz.fuzzer import FuzzResult, packets, run_tcp, run_udp


@dataclass
class Report:
    """One fuzz run: sizes, rates, replies, broken rules and memory."""

    transport: str
    packets: int
    seconds: float = 0.0
    replies: int = 0
    rcodes: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    violation_count: int = 0
    rss_kib: list[int] = field(default_factory=list)  # before, after each chunk
    hwm_kib: int = 0


def serve_examples(core: int) -> ServerProcess:
    """`clusterdns serve` on the examples, upstream an NXDOMAIN responder, pinned to `core`."""
    port, upstream = free_port(), nxdomain_upstream()
    command = ["taskset", "-c", str(core), sys.executable, "-m", "clusterdns", "serve"]
    command += ["--manifests", str(REPO / "examples"), "--dns-addr", "127.0.0.1"]
    command += ["--dns-port", str(port), "--upstream", f"127.0.0.1:{upstream}"]
    return ServerProcess("clusterdns", command, port, (re.compile(r"serving on"),), 30)


def fuzz(server: ServerProcess, transport: str, total: int, chunk: int, seed: int) -> Report:
    """Send `total` packets over `transport` in chunks, sampling the server's RSS after each."""
    report = Report(transport, total)
    report.rss_kib.append(proc_sample(server.pid).rss_kib)
    stream = packets(random.Random(seed), total)
    runner = run_udp if transport == "udp" else run_tcp
    rcodes: Counter[str] = Counter()
    left = total
    while left > 0:
        size = min(chunk, left)
        result: FuzzResult = runner(server.port, (next(stream) for _ in range(size)))
        left -= size
        server.check_alive()
        report.seconds += result.seconds
        report.replies += sum(result.replies.values())
        rcodes.update(result.rcodes)
        report.violations += result.violations[: 20 - len(report.violations)]
        report.violation_count += result.violation_count
        report.rss_kib.append(proc_sample(server.pid).rss_kib)
        print(
            f"{transport}: {total - left:>9,} sent, {report.replies:>9,} replies, "
            f"{report.violation_count} broken rules, RSS {report.rss_kib[-1] / 1024:.1f} MiB",
            file=sys.stderr,
        )
    report.rcodes = dict(rcodes.most_common())
    report.hwm_kib = proc_sample(server.pid).hwm_kib
    return report


def still_answers(port: int) -> bool:
    """True when a plain cluster query gets its NOERROR answer over UDP and TCP."""
    query = dns.message.make_query("web.demo.svc.cluster.local.", "A")
    udp = dns.query.udp(query, "127.0.0.1", port=port, timeout=2)
    tcp = dns.query.tcp(query, "127.0.0.1", port=port, timeout=2)
    return all(r.rcode() == dns.rcode.NOERROR and r.answer for r in (udp, tcp))


def markdown(reports: list[Report], answered: bool) -> str:
    """The reports as a Markdown table."""
    lines = [
        "| transport | packets | seconds | packets/s | replies | broken rules "
        "| RSS before → after (MiB) | peak (MiB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in reports:
        lines.append(
            f"| {r.transport} | {r.packets:,} | {r.seconds:.1f} | {r.packets / r.seconds:,.0f} "
            f"| {r.replies:,} | {r.violation_count} "
            f"| {r.rss_kib[0] / 1024:.1f} → {r.rss_kib[-1] / 1024:.1f} | {r.hwm_kib / 1024:.1f} |"
        )
    lines.append(f"\nStill answering afterwards (UDP and TCP): {'yes' if answered else 'NO'}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line of `python -m bench.fuzz`."""
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__)
    parser.add_argument("--udp", type=int, default=1_000_000, help="UDP packets (1,000,000)")
    parser.add_argument("--tcp", type=int, default=100_000, help="TCP frames (100,000)")
    parser.add_argument("--chunk", type=int, default=100_000, help="packets between RSS samples")
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    parser.add_argument("--core", type=int, default=0, help="core the server is pinned to")
    parser.add_argument("--json", action="store_true", help="print JSON, not Markdown")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the fuzz campaign; exit 1 on a broken rule, a dead server or no answer."""
    args = build_parser().parse_args(argv)
    socket.setdefaulttimeout(10)
    try:
        with running(serve_examples(args.core)) as server:
            started = time.perf_counter()
            reports = [fuzz(server, "udp", args.udp, args.chunk, args.seed)]
            if args.tcp:
                reports.append(fuzz(server, "tcp", args.tcp, args.chunk, args.seed + 1))
            answered = still_answers(server.port)
            print(f"total {time.perf_counter() - started:.0f} s", file=sys.stderr)
    except BenchError as exc:
        print(f"bench.fuzz: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"answered": answered, "runs": [asdict(r) for r in reports]}, indent=2))
    else:
        print(markdown(reports, answered))
        for report in reports:
            for violation in report.violations:
                print(f"- {report.transport}: {violation}")
    broken = any(r.violation_count for r in reports)
    return 0 if answered and not broken else 1


if __name__ == "__main__":
    sys.exit(main())
