"""Memory cost of the Pod watch (`pods verified`, which autopath needs) at 10k and 100k pods.

Loads N Services + N EndpointSlices (as bench/sync.py does) and P Pods over 100 namespaces
into the test suite's FakeKubeAPI, starts `clusterdns -conf` with `pods verified` and
`autopath @kubernetes`, pinned to one core, and reports RSS when the zone is ready, for each P.
The difference from P = 0 is what the pods cost; divided by P, the cost of one pod.
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.servers import REPO, ServerProcess, free_port, proc_sample, running
from bench.sync import NAMESPACES, _ip, load
from tests.fakes.kube_api import FakeKubeAPI, pod

COREFILE = """\
.:{port} {{
    bind 127.0.0.1
    autopath @kubernetes
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        pods verified
    }}
    forward . 127.0.0.1:9
}}
"""


def measure(services: int, pods: int, timeout: float) -> tuple[float, float, str]:
    """(seconds to ready, RSS MiB at ready, answer for the last pod's name) for one run."""
    api = FakeKubeAPI()
    try:
        load(api, services)
        for i in range(pods):
            ns = f"ns{i % NAMESPACES}"
            api.add("pods", pod(f"pod-{i}", _ip(10 << 24 | 200 << 16, i), ns), deliver=False)
        with tempfile.TemporaryDirectory() as tmp:
            kubeconfig = api.write_kubeconfig(Path(tmp) / "kubeconfig")
            port = free_port()
            corefile = Path(tmp) / "Corefile"
            corefile.write_text(COREFILE.format(port=port, kubeconfig=kubeconfig))
            command = ["taskset", "-c", "0", sys.executable, "-m", "clusterdns"]
            command += ["-conf", str(corefile)]
            ready = (re.compile(r"zone ready: (\d+) services in (\d+) namespaces"),)
            server = ServerProcess("clusterdns", command, port, ready, timeout)
            with running(server):
                sample = proc_sample(server.pid)
                last = pods - 1
                name = f"{_ip(10 << 24 | 200 << 16, last).replace('.', '-')}.ns{last % NAMESPACES}"
                answer = subprocess.run(
                    ["dig", "@127.0.0.1", "-p", str(port), "+short", f"{name}.pod.cluster.local"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                    check=False,
                ).stdout.strip()
        return server.startup_seconds, sample.rss_kib / 1024, answer if pods else "-"
    finally:
        api.close()


def main(argv: list[str] | None = None) -> int:
    """Run once per pod count and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--pods", type=int, nargs="+", default=[0, 10_000, 100_000])
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    print(
        f"clusterdns with `pods verified`, {args.services:,} Services + EndpointSlices, "
        f"pods over {NAMESPACES} namespaces\n"
    )
    print(
        "| pods | start → ready s | RSS at ready MiB | over 0 pods MiB | bytes per pod | last pod |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | --- |")
    base: float | None = None
    for count in args.pods:
        seconds, rss, answer = measure(args.services, count, args.timeout)
        base = rss if base is None else base
        extra = rss - base
        per_pod = f"{extra * 1024 * 1024 / count:,.0f}" if count else "-"
        print(f"| {count:,} | {seconds:.1f} | {rss:.1f} | {extra:+.1f} | {per_pod} | {answer} |")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
