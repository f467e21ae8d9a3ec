"""Metrics of the `acl` plugin, under CoreDNS's names and labels (plugin/acl/metrics.go)."""

from prometheus_client import CollectorRegistry, Counter


class AclMetrics:
    """The metric families, made once per process and shared by every `acl` stanza."""

    def __init__(self, registry: CollectorRegistry) -> None:
        zoned = ("server", "zone", "view")
        self.blocked = Counter(
            "coredns_acl_blocked_requests",
            "Counter of DNS requests being blocked.",
            zoned,
            registry=registry,
        )
        self.filtered = Counter(
            "coredns_acl_filtered_requests",
            "Counter of DNS requests being filtered.",
            zoned,
            registry=registry,
        )
        self.dropped = Counter(
            "coredns_acl_dropped_requests",
            "Counter of DNS requests being dropped.",
            zoned,
            registry=registry,
        )
        self.allowed = Counter(
            "coredns_acl_allowed_requests",
            "Counter of DNS requests being allowed.",
            ("server", "view"),
            registry=registry,
        )
