"""Metrics of the `forward` plugin under CoreDNS's names: the forward_* and proxy_* families.

CoreDNS 1.10 exported coredns_forward_{requests,responses,request_duration,healthcheck_failures,
conn_cache_hits,conn_cache_misses}; 1.11 moved them to coredns_proxy_* with a `proxy_name` label
and kept coredns_forward_{healthcheck_broken,max_concurrent_rejects}. Both families are exported
so dashboards written for either keep working.
"""

from prometheus_client import CollectorRegistry, Counter, Histogram

from clusterdns.dns.mnemonics import rcode_text
from clusterdns.server.metrics import DURATION_BUCKETS

PROXY_NAME = "forward"


class ForwardMetrics:
    """Every metric family of the plugin; one per process, shared by all forward stanzas."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        def histogram(name: str, doc: str, labels: tuple[str, ...]) -> Histogram:
            return Histogram(name, doc, labels, buckets=DURATION_BUCKETS, registry=registry)

        self.requests = counter(
            "coredns_forward_requests_total", "Counter of requests made per upstream.", ("to",)
        )
        self.responses = counter(
            "coredns_forward_responses_total",
            "Counter of responses received per upstream.",
            ("to", "rcode"),
        )
        self.request_duration = histogram(
            "coredns_forward_request_duration_seconds",
            "Histogram of the time each request took.",
            ("to", "rcode"),
        )
        self.healthcheck_failures = counter(
            "coredns_forward_healthcheck_failures_total",
            "Counter of the number of failed healthchecks.",
            ("to",),
        )
        self.healthcheck_broken = counter(
            "coredns_forward_healthcheck_broken_total",
            "Counter of the number of complete failures of the healthchecks.",
        )
        self.max_concurrent_rejects = counter(
            "coredns_forward_max_concurrent_rejects_total",
            "Counter of the number of queries rejected because the concurrent queries were at "
            "maximum.",
        )
        self.conn_cache_hits = counter(
            "coredns_forward_conn_cache_hits_total",
            "Counter of connection cache hits per upstream and protocol.",
            ("to", "proto"),
        )
        self.conn_cache_misses = counter(
            "coredns_forward_conn_cache_misses_total",
            "Counter of connection cache misses per upstream and protocol.",
            ("to", "proto"),
        )
        self.proxy_request_duration = histogram(
            "coredns_proxy_request_duration_seconds",
            "Histogram of the time each request took.",
            ("proxy_name", "to", "rcode"),
        )
        self.proxy_healthcheck_failures = counter(
            "coredns_proxy_healthcheck_failures_total",
            "Counter of the number of failed healthchecks.",
            ("proxy_name", "to"),
        )
        self.proxy_conn_cache_hits = counter(
            "coredns_proxy_conn_cache_hits_total",
            "Counter of connection cache hits per upstream and protocol.",
            ("proxy_name", "to", "proto"),
        )
        self.proxy_conn_cache_misses = counter(
            "coredns_proxy_conn_cache_misses_total",
            "Counter of connection cache misses per upstream and protocol.",
            ("proxy_name", "to", "proto"),
        )


class UpstreamMetrics:
    """One upstream's metric children, bound once: `labels()` per query costs a lock and a dict."""

    def __init__(self, metrics: ForwardMetrics, to: str) -> None:
        self._metrics = metrics
        self._to = to
        self._requests = metrics.requests.labels(to)
        # Every exchange opens a fresh socket: a connection cache miss, in CoreDNS's terms.
        self._dials = {
            proto: (
                metrics.conn_cache_misses.labels(to, proto),
                metrics.proxy_conn_cache_misses.labels(PROXY_NAME, to, proto),
            )
            for proto in ("udp", "tcp")
        }
        self._health_failures = (
            metrics.healthcheck_failures.labels(to),
            metrics.proxy_healthcheck_failures.labels(PROXY_NAME, to),
        )
        self._by_rcode: dict[int, tuple[Counter, Histogram, Histogram]] = {}

    def sent(self, proto: str) -> None:
        """Count one exchange started over `proto`."""
        self._requests.inc()
        for child in self._dials[proto]:
            child.inc()

    def answered(self, rcode: int, seconds: float) -> None:
        """Count one reply with `rcode` that took `seconds`."""
        children = self._by_rcode.get(rcode)
        if children is None:
            text = rcode_text(rcode)
            children = (
                self._metrics.responses.labels(self._to, text),
                self._metrics.request_duration.labels(self._to, text),
                self._metrics.proxy_request_duration.labels(PROXY_NAME, self._to, text),
            )
            self._by_rcode[rcode] = children
        responses, duration, proxy_duration = children
        responses.inc()
        duration.observe(seconds)
        proxy_duration.observe(seconds)

    def health_check_failed(self) -> None:
        """Count one failed health check."""
        for child in self._health_failures:
            child.inc()
