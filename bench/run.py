"""Run clusterdns under dnsperf on pinned cores and report QPS, latency, CPU per query and RSS.

    python -m bench.run [--services N] [--seconds S] [--profile mixed|searchpath] [--json]

The server runs on one core (`taskset -c 0`), dnsperf on the other (`taskset -c 1`), both on
127.0.0.1 only. Runs, each bounded by `--seconds`: a cold first pass through the query file
(answers not yet pre-encoded), a maximum-throughput run, and a run limited to `--rate` queries
per second whose per-query latencies (`dnsperf -v`) give the percentiles.
"""

import argparse
import json
import os
import platform
import re
import resource
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.generate import (
    PROFILES,
    ZONE_FILE,
    default_namespaces,
    parse_count,
    queries_file,
    write_queries,
    write_zone,
)
from bench.servers import (
    REPO,
    BenchError,
    ServerProcess,
    clusterdns_server,
    floor_server,
    knot_server,
    knot_version,
    machine_busy_seconds,
    proc_sample,
    running,
)

_RESULT_LINE = re.compile(r"^> (\S+) (\S+) (\S+) ([0-9.]+)$")
ANCHORS = ("knot", "floor")


@dataclass(slots=True)
class DnsperfResult:
    """What one dnsperf run reported, plus per-query latencies when run verbose."""

    sent: int = 0
    completed: int = 0
    lost: int = 0
    qps: float = 0.0
    run_seconds: float = 0.0
    avg_latency_s: float = 0.0
    min_latency_s: float = 0.0
    max_latency_s: float = 0.0
    stddev_latency_s: float = 0.0
    rcodes: dict[str, int] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunReport:
    """One dnsperf run against one server, with the CPU each side used meanwhile."""

    server: str
    name: str
    command: str
    qps: float
    sent: int
    completed: int
    lost: int
    avg_latency_ms: float
    p50_latency_ms: float | None
    p99_latency_ms: float | None
    p999_latency_ms: float | None
    max_latency_ms: float
    rcodes: dict[str, int]
    server_cpu_us_per_query: float
    server_user_us_per_query: float
    server_system_us_per_query: float
    server_core_busy: float
    dnsperf_core_busy: float
    others_cores_busy: float


@dataclass(frozen=True, slots=True)
class Report:
    """The whole benchmark: setup, clusterdns start-up and memory, every run, the ratios."""

    profile: str
    services: int
    namespaces: int
    endpointslices: int
    query_lines: int
    server_command: str
    startup_seconds: float
    rss_after_load_mib: float
    rss_after_runs_mib: float
    peak_rss_mib: float
    runs: list[RunReport]
    ratios: dict[str, float]
    machine: dict[str, str]


def parse_dnsperf(text: str) -> DnsperfResult:
    """The statistics block of dnsperf 2.10 and, with -v, every `> RCODE name type secs` line."""
    result = DnsperfResult()

    def number(pattern: str) -> float:
        found = re.search(pattern, text, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    result.sent = int(number(r"Queries sent:\s+(\d+)"))
    result.completed = int(number(r"Queries completed:\s+(\d+)"))
    result.lost = int(number(r"Queries lost:\s+(\d+)"))
    result.qps = number(r"Queries per second:\s+([0-9.]+)")
    result.run_seconds = number(r"Run time \(s\):\s+([0-9.]+)")
    result.avg_latency_s = number(r"Average Latency \(s\):\s+([0-9.]+)")
    result.min_latency_s = number(r"Average Latency .*\(min ([0-9.]+)")
    result.max_latency_s = number(r"Average Latency .*max ([0-9.]+)\)")
    result.stddev_latency_s = number(r"Latency StdDev \(s\):\s+([0-9.]+)")
    codes = re.search(r"Response codes:\s+(.*)$", text, re.MULTILINE)
    if codes:
        for code, count in re.findall(r"([A-Z]+) (\d+) \(", codes.group(1)):
            result.rcodes[code] = int(count)
    for line in text.splitlines():
        found = _RESULT_LINE.match(line)
        if found:
            result.latencies_s.append(float(found.group(4)))
    return result


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted `values`."""
    rank = max(0, min(len(values) - 1, int(fraction * len(values) + 0.999999) - 1))
    return values[rank]


def run_dnsperf(
    server: ServerProcess, name: str, options: list[str], core: int, seconds: int
) -> RunReport:
    """Run dnsperf on `core` against `server`, measuring both sides' CPU meanwhile."""
    command = ["taskset", "-c", str(core), "dnsperf", "-s", "127.0.0.1", "-p", str(server.port)]
    command += options
    limit = seconds + 15  # -l stops sending; -t 2 bounds the wait for stragglers
    before = proc_sample(server.pid)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = machine_busy_seconds()
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{name}: dnsperf ran past {limit} s") from None
    wall = time.perf_counter() - started
    busy = machine_busy_seconds() - busy
    after = proc_sample(server.pid)
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    server.check_alive()
    if done.returncode != 0:
        raise BenchError(f"{name}: dnsperf exited {done.returncode}: {done.stderr.strip()}")
    result = parse_dnsperf(done.stdout)
    if result.completed == 0:
        raise BenchError(f"{name}: no query completed:\n{done.stdout[-2000:]}")
    client_cpu = used.ru_utime + used.ru_stime - children.ru_utime - children.ru_stime
    server_cpu = after.cpu_seconds - before.cpu_seconds
    per_query = 1e6 / result.completed
    latencies = sorted(result.latencies_s)

    def ms(fraction: float) -> float | None:
        return percentile(latencies, fraction) * 1000 if latencies else None

    return RunReport(
        server=server.name,
        name=name,
        command=shlex.join(command),
        qps=result.qps,
        sent=result.sent,
        completed=result.completed,
        lost=result.lost,
        avg_latency_ms=result.avg_latency_s * 1000,
        p50_latency_ms=ms(0.50),
        p99_latency_ms=ms(0.99),
        p999_latency_ms=ms(0.999),
        max_latency_ms=result.max_latency_s * 1000,
        rcodes=result.rcodes,
        server_cpu_us_per_query=server_cpu * per_query,
        server_user_us_per_query=(after.user_seconds - before.user_seconds) * per_query,
        server_system_us_per_query=(after.system_seconds - before.system_seconds) * per_query,
        server_core_busy=server_cpu / wall,
        dnsperf_core_busy=client_cpu / wall,
        others_cores_busy=max(0.0, busy - server_cpu - client_cpu) / wall,
    )


def machine() -> dict[str, str]:
    """CPU model, core count, kernel, Python, dnsperf and Knot versions."""
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.partition(":")[2].strip()
            break
    version = subprocess.run(["dnsperf", "-h"], capture_output=True, text=True, check=False)
    found = re.search(r"Version (\S+)", version.stdout + version.stderr)
    return {
        "cpu": model,
        "cores": str(len(os.sched_getaffinity(0))),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "dnsperf": found.group(1) if found else "?",
        "knot": knot_version() or "not installed",
        "clusterdns": revision(),
    }


def revision() -> str:
    """The commit clusterdns was measured at, `+dirty` when clusterdns/ has local changes."""

    def git(*words: str) -> str:
        done = subprocess.run(["git", "-C", str(REPO), *words], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--", "clusterdns") else "")


@dataclass(frozen=True, slots=True)
class Workload:
    """dnsperf options of the three kinds of run, and the cores and length they use."""

    cold: list[str]
    flat_out: list[str]
    paced: list[str]
    rate: int
    core: int
    seconds: int
    quiet_wait: float
    repeat: int


def workload(args: argparse.Namespace, queries: Path) -> Workload:
    """dnsperf options from the command line: -l bounds every run, -t 2 the stragglers."""
    base = ["-d", str(queries), "-t", "2", "-l", str(args.seconds), "-T", "1"]
    return Workload(
        cold=base + ["-n", "1", "-c", "1", "-q", "100"],
        flat_out=base + ["-c", str(args.clients), "-q", str(args.outstanding)],
        paced=base + ["-c", "1", "-q", "100", "-Q", str(args.rate), "-v"],
        rate=args.rate,
        core=args.client_core,
        seconds=args.seconds,
        quiet_wait=args.quiet_wait,
        repeat=args.repeat,
    )


def wait_for_quiet(max_wait: float, threshold: float = 0.10, window: float = 1.0) -> float:
    """Wait (up to `max_wait` s) for a `window` in which the machine is below `threshold` busy.

    Other people's builds and tests on a 2-core machine halve any result; this only delays a
    run, it never skips one. Returns the busy share (cores) of the last window.
    """
    deadline = time.monotonic() + max_wait
    while True:
        before = machine_busy_seconds()
        time.sleep(window)
        busy = (machine_busy_seconds() - before) / window
        if busy < threshold or time.monotonic() >= deadline:
            return busy


def measure(server: ServerProcess, work: Workload, cold: bool) -> list[RunReport]:
    """The cold pass (optional), the maximum-throughput run and the paced run."""
    plan = [("max throughput", work.flat_out)] * work.repeat
    plan.append((f"paced {work.rate:,} QPS", work.paced))
    if cold:
        plan.insert(0, ("cold first pass", work.cold))
    runs = []
    for name, options in plan:
        if work.quiet_wait > 0:
            wait_for_quiet(work.quiet_wait)
        runs.append(run_dnsperf(server, name, options, work.core, work.seconds))
    return runs


def benchmark(args: argparse.Namespace) -> Report:
    """Generate the zone and queries, measure clusterdns and the anchors, collect the report."""
    out: Path = args.out or REPO / "bench" / "out" / f"{args.profile}-{args.services}"
    out.mkdir(parents=True, exist_ok=True)
    namespaces = default_namespaces(args.services)
    zone = write_zone(out / ZONE_FILE, args.services, namespaces)
    queries = queries_file(out, args.profile)
    lines = write_queries(queries, args.profile, args.services, namespaces, args.queries, 1)
    work = workload(args, queries)
    server = clusterdns_server(zone.path, args.server_core, args.startup_timeout)
    with running(server):
        loaded = proc_sample(server.pid)
        runs = measure(server, work, cold=not args.no_warmup)
        final = proc_sample(server.pid)
    anchors: list[ServerProcess] = []
    if "knot" in args.anchor and knot_version() is not None:
        anchors.append(
            knot_server(
                out / "knot", args.services, namespaces, args.server_core, args.startup_timeout
            )
        )
    if "floor" in args.anchor:
        anchors.append(floor_server(args.server_core, args.startup_timeout))
    for anchor in anchors:
        with running(anchor):
            runs.extend(measure(anchor, work, cold=False))
    return Report(
        profile=args.profile,
        services=zone.services,
        namespaces=zone.namespaces,
        endpointslices=zone.slices,
        query_lines=lines,
        server_command=shlex.join(server.command),
        startup_seconds=server.startup_seconds,
        rss_after_load_mib=loaded.rss_kib / 1024,
        rss_after_runs_mib=final.rss_kib / 1024,
        peak_rss_mib=final.hwm_kib / 1024,
        runs=runs,
        ratios=ratios(runs),
        machine=machine(),
    )


def ratios(runs: list[RunReport]) -> dict[str, float]:
    """clusterdns against each anchor: best max-throughput QPS, and best core capacity."""
    best_qps: dict[str, float] = {}
    best_capacity: dict[str, float] = {}
    for run in runs:
        if run.name == "max throughput":
            best_qps[run.server] = max(best_qps.get(run.server, 0.0), run.qps)
            best_capacity[run.server] = max(best_capacity.get(run.server, 0.0), capacity(run))
    found = {}
    for name in best_qps:
        if name != "clusterdns":
            qps = best_qps["clusterdns"] / best_qps[name]
            core = best_capacity["clusterdns"] / max(best_capacity[name], 1.0)
            found[f"clusterdns / {name}, best max-throughput QPS"] = qps
            found[f"clusterdns / {name}, best core capacity (1 / CPU per query)"] = core
    return found


def capacity(run: RunReport) -> float:
    """Queries per second one fully busy server core would answer at this CPU per query."""
    return 1e6 / run.server_cpu_us_per_query if run.server_cpu_us_per_query > 0 else 0.0


def markdown(report: Report) -> str:
    """The report as small Markdown tables."""

    def opt(value: float | None) -> str:
        return "–" if value is None else f"{value:.3f}"

    m = report.machine
    rows = [
        f"clusterdns {m['clusterdns']}, {report.services} Services "
        f"({report.endpointslices} EndpointSlices, {report.namespaces} namespaces), "
        f"profile `{report.profile}`, "
        f"{report.query_lines} query lines; {m['cpu']}, {m['cores']} cores, "
        f"kernel {m['kernel']}, Python {m['python']}, dnsperf {m['dnsperf']}",
        "",
        "| server | run | QPS | avg ms | p50 ms | p99 ms | max ms | lost "
        "| server CPU µs/q (user+sys) | core capacity QPS | server core | dnsperf core "
        "| others |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: |",
    ]
    for run in report.runs:
        cap = f"{capacity(run):,.0f}" if run.name == "max throughput" else "–"
        rows.append(
            f"| {run.server} | {run.name} | {run.qps:,.0f} | {run.avg_latency_ms:.3f} "
            f"| {opt(run.p50_latency_ms)} | {opt(run.p99_latency_ms)} "
            f"| {run.max_latency_ms:.3f} | {run.lost} "
            f"| {run.server_cpu_us_per_query:.1f} ({run.server_user_us_per_query:.1f}"
            f"+{run.server_system_us_per_query:.1f}) "
            f"| {cap} | {run.server_core_busy:.0%} "
            f"| {run.dnsperf_core_busy:.0%} | {run.others_cores_busy:.0%} |"
        )
    rows += [
        "",
        "| clusterdns start-up to listening s | RSS after load MiB | RSS after runs MiB "
        "| peak RSS MiB |",
        "| ---: | ---: | ---: | ---: |",
        f"| {report.startup_seconds:.2f} | {report.rss_after_load_mib:.1f} "
        f"| {report.rss_after_runs_mib:.1f} | {report.peak_rss_mib:.1f} |",
        "",
    ]
    rows += [f"- {name}: {value:.2f}" for name, value in report.ratios.items()]
    flat_out = next(r for r in report.runs if r.name == "max throughput")
    codes = ", ".join(f"{k} {v:,}" for k, v in flat_out.rcodes.items())
    rows.append(f"- clusterdns response codes (max throughput): {codes}")
    return "\n".join(rows)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--services", type=parse_count, default=1000, help="default 1000")
    parser.add_argument("--seconds", type=int, default=10, help="length of each dnsperf run")
    parser.add_argument("--profile", choices=PROFILES, default="mixed")
    parser.add_argument("--queries", type=parse_count, default=20_000, help="query file lines")
    parser.add_argument("--rate", type=int, default=5000, help="QPS of the paced latency run")
    parser.add_argument("--clients", type=int, default=1, help="dnsperf -c of the max run")
    parser.add_argument("--outstanding", type=int, default=100, help="dnsperf -q of the max run")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument("--startup-timeout", type=float, default=120.0, metavar="SECONDS")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="before each run, wait up to this long for other load to drop below 10%% (0: off)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="max-throughput runs per server")
    parser.add_argument("--no-warmup", action="store_true", help="skip the cold first pass")
    parser.add_argument(
        "--anchor",
        action="append",
        choices=ANCHORS,
        help="also measure Knot (if installed) and/or the Python floor (default: both)",
    )
    parser.add_argument("--no-anchors", action="store_true", help="measure clusterdns only")
    parser.add_argument("--out", type=Path, help="work folder (default bench/out/PROFILE-N)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the report."""
    args = build_parser().parse_args(argv)
    args.anchor = () if args.no_anchors else tuple(args.anchor or ANCHORS)
    try:
        report = benchmark(args)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(report), indent=2) if args.json else markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
