"""Initial sync and churn at scale: clusterdns watching a loopback fake API with N Services.

Loads N Services, N EndpointSlices and their Namespaces into the test suite's FakeKubeAPI
(a real HTTP server speaking list/watch), starts `clusterdns serve --kubeconfig` pinned to one
core, and reports the time from process start to the first ready zone and the RSS then. It
then changes slices at a steady rate and reports the change-to-answer delay from
`coredns_kubernetes_dns_programming_duration_seconds`. Budgets: docs/architecture.md.
"""

import argparse
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.servers import REPO, ProcessSample, ServerProcess, free_port, proc_sample, running
from tests.fakes.kube_api import FakeKubeAPI, endpoint_slice, namespace, service

NAMESPACES = 100
_BUCKET = re.compile(
    r'^coredns_kubernetes_dns_programming_duration_seconds_bucket\{le="([^"]+)",'
    r'service_kind="cluster_ip"\} (\S+)$',
    re.M,
)


def _ip(base: int, index: int) -> str:
    value = base + index
    return f"{value >> 24 & 255}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"


def load(api: FakeKubeAPI, services: int) -> None:
    """N Services with one ready endpoint each, in their own slice, over NAMESPACES namespaces."""
    for n in range(NAMESPACES):
        api.add("namespaces", namespace(f"ns{n}"), deliver=False)
    for i in range(services):
        ns = f"ns{i % NAMESPACES}"
        api.add("services", service(f"svc-{i}", ns, _ip(10 << 24 | 96 << 16, i)), deliver=False)
        body = endpoint_slice(f"svc-{i}-x7k2p", f"svc-{i}", [_ip(10 << 24 | 128 << 16, i)], ns)
        api.add("endpointslices", body, deliver=False)


_SUM = re.compile(
    r'^coredns_kubernetes_dns_programming_duration_seconds_sum\{service_kind="cluster_ip"\} (\S+)$',
    re.M,
)


def histogram_quantiles(metrics: str, quantiles: tuple[float, ...]) -> tuple[int, list[str]]:
    """Observation count, then the mean and, per quantile, the bucket bound it falls under."""
    buckets = [(float(le), float(count)) for le, count in _BUCKET.findall(metrics)]
    total = buckets[-1][1] if buckets else 0.0
    sums = _SUM.findall(metrics)
    mean = float(sums[0]) / total if sums and total else float("nan")
    found = [f"{mean * 1000:.0f} ms"]
    for q in quantiles:
        bound = next((le for le, count in buckets if total and count >= q * total), float("nan"))
        found.append(f"≤ {bound * 1000:g} ms")
    return int(total), found


def churn(api: FakeKubeAPI, services: int, rate: float, seconds: float) -> int:
    """Modify one slice every 1/rate seconds for `seconds`; returns how many were changed."""
    changes = int(rate * seconds)
    start = time.perf_counter()
    for k in range(changes):
        i = (k * 7919) % services
        ns = f"ns{i % NAMESPACES}"
        addresses = [_ip(10 << 24 | 128 << 16, i), _ip(10 << 24 | 160 << 16, k)]
        api.modify("endpointslices", endpoint_slice(f"svc-{i}-x7k2p", f"svc-{i}", addresses, ns))
        pause = start + (k + 1) / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)  # pacing the load generator, not waiting for a result
    return changes


def flood(server: ServerProcess, services: int, count: int, folder: Path) -> ProcessSample:
    """Send `count` never-repeated names below the Services once (dnsperf, pinned to core 1)."""
    queries = folder / "flood.txt"
    with queries.open("w", encoding="utf-8") as out:
        for i in range(count):
            s = i % services
            out.write(f"r{i:07d}.svc-{s}.ns{s % NAMESPACES}.svc.cluster.local A\n")
    command = ["taskset", "-c", "1", "dnsperf", "-s", "127.0.0.1", "-p", str(server.port)]
    command += ["-d", str(queries), "-n", "1", "-q", "200", "-t", "2"]
    subprocess.run(command, capture_output=True, timeout=600, check=True)
    return proc_sample(server.pid)


def main(argv: list[str] | None = None) -> int:
    """Run the sync benchmark and print a Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=100.0, help="slice changes per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the churn phase")
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument(
        "--flood",
        type=int,
        default=0,
        metavar="N",
        help="after ready, send N never-repeated names (dnsperf) and report RSS and peak",
    )
    parser.add_argument(
        "--auth",
        choices=("kubeconfig", "token"),
        default="kubeconfig",
        help="how the server finds the API: a kubeconfig file (default), or --api-server with a "
        "token file, as a pod on its service account (no kubeconfig loader is imported)",
    )
    args = parser.parse_args(argv)

    api = FakeKubeAPI()
    loaded = time.perf_counter()
    load(api, args.services)
    loaded = time.perf_counter() - loaded
    with tempfile.TemporaryDirectory() as tmp:
        dns_port, http_port = free_port(), free_port()
        command = ["taskset", "-c", "0", sys.executable, "-m", "clusterdns", "serve"]
        if args.auth == "kubeconfig":
            command += ["--kubeconfig", api.write_kubeconfig(Path(tmp) / "kubeconfig")]
        else:
            token = Path(tmp) / "token"
            token.write_text(api.token)
            command += ["--api-server", api.url, "--token-file", str(token)]
        command += ["--dns-addr", "127.0.0.1"]
        command += ["--dns-port", str(dns_port), "--upstream", "127.0.0.1:9"]
        command += ["--http-addr", f"127.0.0.1:{http_port}"]
        ready = (re.compile(r"zone ready: (\d+) services in (\d+) namespaces"),)
        server = ServerProcess("clusterdns", command, dns_port, ready, args.timeout)
        with running(server):
            at_ready = proc_sample(server.pid)
            last = args.services - 1
            last_name = f"svc-{last}.ns{last % NAMESPACES}.svc.cluster.local"
            answer = subprocess.run(
                [
                    "dig",
                    "@127.0.0.1",
                    "-p",
                    str(dns_port),
                    "+short",
                    last_name,
                ],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout.strip()
            flooded = flood(server, args.services, args.flood, Path(tmp)) if args.flood else None
            changed = churn(api, args.services, args.rate, args.seconds)
            url = f"http://127.0.0.1:{http_port}/metrics"
            metrics = urllib.request.urlopen(url, timeout=10).read().decode()
            observed, (mean, p50, p99) = histogram_quantiles(metrics, (0.5, 0.99))
            after = proc_sample(server.pid)
    api.close()
    print(
        f"clusterdns live sync, {args.services:,} Services + {args.services:,} EndpointSlices "
        f"in {NAMESPACES} namespaces, API found by {args.auth} "
        f"(fake API loaded in {loaded:.1f} s)\n"
    )
    print(
        "| start → ready s | server CPU s to ready | RSS at ready MiB | peak RSS MiB "
        "| last Service answers |"
    )
    print("| ---: | ---: | ---: | ---: | --- |")
    print(
        f"| {server.startup_seconds:.1f} | {at_ready.cpu_seconds:.1f} "
        f"| {at_ready.rss_kib / 1024:.1f} | "
        f"{after.hwm_kib / 1024:.1f} | {answer or 'NO ANSWER'} |\n"
    )
    if flooded is not None:
        print(
            f"Flood: {args.flood:,} never-repeated names: RSS {at_ready.rss_kib / 1024:.1f} → "
            f"{flooded.rss_kib / 1024:.1f} MiB, peak {flooded.hwm_kib / 1024:.1f} MiB\n"
        )
    print(
        f"Churn: {changed} slice changes at {args.rate:g}/s; {observed} observations of "
        f"coredns_kubernetes_dns_programming_duration_seconds: mean {mean}, p50 {p50}, "
        f"p99 {p99} "
        f"(bucket bounds); RSS after churn {after.rss_kib / 1024:.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
