"""Metrics of the `hosts` plugin, under CoreDNS's names (plugin/hosts/metrics.go)."""

from prometheus_client import CollectorRegistry, Gauge


class HostsMetrics:
    """The metric families, made once per process and shared by every `hosts` stanza."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.entries = Gauge(
            "coredns_hosts_entries",
            "The combined number of entries in hosts and Corefile.",
            ("hostsfile",),
            registry=registry,
        )
        self.reload_timestamp = Gauge(
            "coredns_hosts_reload_timestamp_seconds",
            "The timestamp of the last reload of hosts file.",
            registry=registry,
        )
