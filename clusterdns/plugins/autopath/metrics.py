"""Metrics of the `autopath` plugin under CoreDNS's name."""

from prometheus_client import CollectorRegistry, Counter


class AutopathMetrics:
    """coredns_autopath_success_total{server}; one per process, shared by every stanza."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.success = Counter(
            "coredns_autopath_success_total",
            "Counter of requests that did autopath.",
            ("server",),
            registry=registry,
        )
