"""Metrics of the `local` plugin, under CoreDNS's names (plugin/local/metrics.go)."""

from prometheus_client import CollectorRegistry, Counter


class LocalMetrics:
    """`coredns_local_localhost_requests_total`, made once per process."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.localhost = Counter(
            "coredns_local_localhost_requests",
            "Counter of localhost.<domain> requests.",
            registry=registry,
        )
