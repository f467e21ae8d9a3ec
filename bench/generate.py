"""Synthetic cluster zones (a streamed JSON `List`) and deterministic dnsperf query files.

Every Service is a pure function of its index, so zones of any size are written one object at
a time (constant memory) and query files can name Services without holding the zone.

    python -m bench.generate OUT [--services N] [--profile mixed|searchpath] [--queries Q]
    python -m bench.generate OUT --scale 100k     # zone only, for memory and sync budgets
"""

import argparse
import ipaddress
import json
import random
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

ZONE = "cluster.local"
CLUSTER_IP = "ClusterIP"
HEADLESS = "Headless"
EXTERNAL_NAME = "ExternalName"
PROFILES = ("mixed", "searchpath")
ZONE_FILE = "zone.json"

_WORDS = ("web", "api", "auth", "cart", "db", "cache", "queue", "search", "billing", "users")
_SERVICE_NET = int(ipaddress.IPv4Address("10.96.0.0"))  # a /12, as kubeadm's default
_SERVICE_NET_SIZE = 1 << 20
_POD_NET = int(ipaddress.IPv4Address("10.128.0.0"))  # a /9: 4 addresses per Service index
_HEADLESS_SLOTS = (3, 9, 15)  # of every 20 Services: 15% headless
_EXTERNAL_SLOT = 19  # of every 20 Services: 5% ExternalName; the other 80% ClusterIP


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One synthetic Service and the endpoints of its single EndpointSlice."""

    index: int
    namespace: str
    name: str
    kind: str
    cluster_ip: str
    ports: tuple[tuple[str, int], ...]
    endpoints: tuple[tuple[str, str], ...]  # (address, hostname or "")

    @property
    def fqdn(self) -> str:
        """The Service's name in the cluster zone (no trailing dot, as dnsperf reads names)."""
        return f"{self.name}.{self.namespace}.svc.{ZONE}"


@dataclass(frozen=True, slots=True)
class ZoneSummary:
    """What `write_zone` wrote."""

    path: Path
    namespaces: int
    services: int
    slices: int
    endpoints: int
    size_bytes: int


def namespace_name(number: int) -> str:
    """The name of synthetic namespace `number`."""
    return f"team-{number:03d}"


def default_namespaces(services: int) -> int:
    """A few namespaces for small zones, one per 200 Services for large ones."""
    return max(5, services // 200)


def service_spec(index: int, namespaces: int) -> ServiceSpec:
    """Service number `index`: kind, name, addresses and ports all derive from it."""
    if not 0 <= index < _SERVICE_NET_SIZE - 2:
        raise ValueError(f"service index must be 0..{_SERVICE_NET_SIZE - 3}, got {index}")
    slot = index % 20
    kind = (
        EXTERNAL_NAME
        if slot == _EXTERNAL_SLOT
        else HEADLESS
        if slot in _HEADLESS_SLOTS
        else CLUSTER_IP
    )
    name = f"{_WORDS[index % len(_WORDS)]}-{index:06d}"
    namespace = namespace_name(index % namespaces)
    pod_ip = _POD_NET + 4 * index
    if kind == CLUSTER_IP:
        ports: tuple[tuple[str, int], ...] = (("http", 80), ("grpc", 9090))[: 1 + index % 2]
        endpoints = tuple((_ip(pod_ip + k), "") for k in (1, 2))
        cluster_ip = _ip(_SERVICE_NET + 1 + index)
    elif kind == HEADLESS:
        ports = (("http", 8080),)
        endpoints = tuple((_ip(pod_ip + k + 1), f"{name}-{k}") for k in range(3))
        cluster_ip = "None"
    else:
        ports, endpoints, cluster_ip = (), (), ""
    return ServiceSpec(index, namespace, name, kind, cluster_ip, ports, endpoints)


def _ip(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


def service_manifest(spec: ServiceSpec) -> dict[str, Any]:
    """The v1 Service object for `spec`, as the API serves it."""
    metadata = {"name": spec.name, "namespace": spec.namespace}
    if spec.kind == EXTERNAL_NAME:
        external = {"type": EXTERNAL_NAME, "externalName": f"{spec.name}.example.com"}
        return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": external}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {
            "type": CLUSTER_IP,
            "clusterIP": spec.cluster_ip,
            "clusterIPs": [spec.cluster_ip],
            "ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in spec.ports],
        },
    }


def slice_manifest(spec: ServiceSpec) -> dict[str, Any] | None:
    """The discovery.k8s.io/v1 EndpointSlice of `spec`, or None for an ExternalName."""
    if not spec.endpoints:
        return None
    endpoints = []
    for k, (address, hostname) in enumerate(spec.endpoints):
        pod = hostname or f"{spec.name}-{spec.index:x}-{k}"
        endpoint: dict[str, Any] = {
            "addresses": [address],
            "conditions": {"ready": True},
            "targetRef": {"kind": "Pod", "name": pod, "namespace": spec.namespace},
        }
        if hostname:
            endpoint["hostname"] = hostname
        endpoints.append(endpoint)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{spec.name}-{spec.index % 46656:03x}",
            "namespace": spec.namespace,
            "labels": {"kubernetes.io/service-name": spec.name},
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in spec.ports],
    }


def write_zone(path: Path, services: int, namespaces: int) -> ZoneSummary:
    """Stream Namespaces, Services and EndpointSlices into one JSON `List` at `path`."""
    slices = endpoints = 0
    with path.open("w", encoding="utf-8") as out:
        out.write('{"apiVersion":"v1","kind":"List","items":[\n')
        for number in range(namespaces):
            metadata = {"name": namespace_name(number)}
            item = {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}
            _write_item(out, item, first=number == 0)
        for index in range(services):
            spec = service_spec(index, namespaces)
            _write_item(out, service_manifest(spec), first=False)
            piece = slice_manifest(spec)
            if piece is not None:
                _write_item(out, piece, first=False)
                slices += 1
                endpoints += len(spec.endpoints)
        out.write("\n]}\n")
    size = path.stat().st_size
    return ZoneSummary(path, namespaces, services, slices, endpoints, size)


def _write_item(out: TextIO, item: dict[str, Any], first: bool) -> None:
    if not first:
        out.write(",\n")
    out.write(json.dumps(item, separators=(",", ":")))


def _pick(rng: random.Random, services: int, namespaces: int, *kinds: str) -> ServiceSpec:
    """A random Service of one of `kinds` (all kinds when none are named)."""
    while True:
        spec = service_spec(rng.randrange(services), namespaces)
        if not kinds or spec.kind in kinds:
            return spec


def mixed_queries(services: int, namespaces: int, count: int, seed: int) -> Iterator[str]:
    """The mixed cluster names: 50% A, 20% SRV, 15% NXDOMAIN, 15% NODATA (AAAA of IPv4)."""
    rng = random.Random(seed)
    missing = max(100, services // 10)  # clients repeat their misses, as real ones do
    for _ in range(count):
        roll = rng.random()
        if roll < 0.50:
            yield f"{_pick(rng, services, namespaces).fqdn} A"
        elif roll < 0.70:
            yield f"_http._tcp.{_pick(rng, services, namespaces, CLUSTER_IP, HEADLESS).fqdn} SRV"
        elif roll < 0.85:
            namespace = namespace_name(rng.randrange(namespaces))
            yield f"missing-{rng.randrange(missing)}.{namespace}.svc.{ZONE} A"
        else:
            yield f"{_pick(rng, services, namespaces, CLUSTER_IP, HEADLESS).fqdn} AAAA"


def searchpath_queries(services: int, namespaces: int, count: int, seed: int) -> Iterator[str]:
    """A pod resolver's ndots:5 walk of its search list, A and AAAA per try: mostly NXDOMAIN.

    Lookups: 40% `svc.ns.svc.cluster.local` (3 misses, then found), 30% `svc.ns` (1 miss),
    10% `svc` from its own namespace (found at once), 20% an external name (3 misses; the
    final forwarded query is left out, so the upstream is never asked).
    """
    rng = random.Random(seed)
    written = 0
    while written < count:
        client = namespace_name(rng.randrange(namespaces))
        search = (f"{client}.svc.{ZONE}", f"svc.{ZONE}", ZONE)
        roll = rng.random()
        spec = _pick(rng, services, namespaces)
        if roll < 0.40:
            names = [f"{spec.fqdn}.{suffix}" for suffix in search] + [spec.fqdn]
        elif roll < 0.70:
            short = f"{spec.name}.{spec.namespace}"
            names = [f"{short}.{suffix}" for suffix in search if suffix != ZONE]
        elif roll < 0.80:
            names = [f"{spec.name}.{spec.namespace}.svc.{ZONE}"]
        else:
            host = f"{_WORDS[rng.randrange(len(_WORDS))]}-{rng.randrange(500)}.example.com"
            names = [f"{host}.{suffix}" for suffix in search]
        for name in names:
            for qtype in ("A", "AAAA"):
                if written < count:
                    yield f"{name} {qtype}"
                    written += 1


def write_queries(
    path: Path, profile: str, services: int, namespaces: int, count: int, seed: int
) -> int:
    """Write `count` dnsperf query lines of `profile` to `path`; returns the line count."""
    make = mixed_queries if profile == "mixed" else searchpath_queries
    lines = 0
    with path.open("w", encoding="utf-8") as out:
        for line in make(services, namespaces, count, seed):
            out.write(line + "\n")
            lines += 1
    return lines


def queries_file(out_dir: Path, profile: str) -> Path:
    """Where the query file of `profile` lives in `out_dir`."""
    return out_dir / f"queries-{profile}.txt"


def parse_count(text: str) -> int:
    """A count such as `1000`, `10k` or `1m`."""
    units = {"k": 1_000, "m": 1_000_000}
    suffix = text[-1:].lower()
    try:
        if suffix in units:
            return int(text[:-1]) * units[suffix]
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"want a count like 1000, 10k or 1m, got {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="output folder (created if missing)")
    parser.add_argument("--services", type=parse_count, default=1000, help="default 1000")
    parser.add_argument("--namespaces", type=int, help="default max(5, services/200)")
    parser.add_argument("--profile", choices=PROFILES, default="mixed")
    parser.add_argument("--queries", type=parse_count, default=20_000, help="query lines")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--scale",
        type=parse_count,
        metavar="N",
        help="zone only, N Services + slices (e.g. 10k, 100k): for memory and sync budgets",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Generate the zone (and the query file unless --scale); print what was written."""
    args = build_parser().parse_args(argv)
    services = args.scale if args.scale is not None else args.services
    namespaces = args.namespaces or default_namespaces(services)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    zone = write_zone(args.out / ZONE_FILE, services, namespaces)
    print(
        f"{zone.path}: {zone.namespaces} namespaces, {zone.services} services, "
        f"{zone.slices} endpointslices, {zone.endpoints} endpoints, "
        f"{zone.size_bytes / 2**20:.1f} MiB in {time.perf_counter() - started:.1f} s"
    )
    if args.scale is None:
        path = queries_file(args.out, args.profile)
        lines = write_queries(path, args.profile, services, namespaces, args.queries, args.seed)
        print(f"{path}: {lines} {args.profile} queries")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"generator peak RSS {peak:.0f} MiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
