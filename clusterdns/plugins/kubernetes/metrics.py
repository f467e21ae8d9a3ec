"""Metrics of the `kubernetes` plugin, under CoreDNS's names."""

from prometheus_client import CollectorRegistry, Histogram

# CoreDNS plugin/kubernetes/metrics.go: buckets from 1 ms to ~16 min, doubling.
_PROGRAMMING_BUCKETS = tuple(0.001 * 2**i for i in range(20))


class KubernetesMetrics:
    """The change-to-answer delay of watched objects."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.programming_duration = Histogram(
            "coredns_kubernetes_dns_programming_duration_seconds",
            "Time from a watched change arriving to the answer that reflects it being served.",
            ["service_kind"],
            buckets=_PROGRAMMING_BUCKETS,
            registry=registry,
        )
