"""Metrics of the `template` plugin: CoreDNS's names and labels (plugin/template/metrics.go)."""

from prometheus_client import CollectorRegistry, Counter

_MATCH = ("server", "zone", "view", "class", "type")
_FAILURE = (*_MATCH, "section", "template")


class TemplateMetrics:
    """The three families, made once per process and shared by every `template` stanza."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.matches = Counter(
            "coredns_template_matches_total",
            "Counter of template regex matches.",
            _MATCH,
            registry=registry,
        )
        # CoreDNS names this one template_failures_total inside the template subsystem.
        self.failures = Counter(
            "coredns_template_template_failures_total",
            "Counter of go template failures.",
            _FAILURE,
            registry=registry,
        )
        self.rr_failures = Counter(
            "coredns_template_rr_failures_total",
            "Counter of mis-templated RRs.",
            _FAILURE,
            registry=registry,
        )
        self._children: dict[tuple[str, ...], Counter] = {}

    def count(self, family: str, labels: tuple[str, ...]) -> None:
        """Add one to `family` ("matches", "failures" or "rr_failures") under `labels`."""
        key = (family, *labels)
        child = self._children.get(key)
        if child is None:
            parent: Counter = getattr(self, family)
            child = self._children[key] = parent.labels(*labels)
        child.inc()
