"""Metrics of the `cache` plugin, under CoreDNS's names and labels (plugin/cache/metrics.go)."""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

_LABELS = ("server", "zones", "view")
_TYPED = ("server", "type", "zones", "view")


@dataclass(frozen=True, slots=True)
class TypeMetrics:
    """The series of one cache type ("success" or "denial") of one cache."""

    entries: Gauge
    hits: Counter
    evictions: Counter


@dataclass(frozen=True, slots=True)
class CacheSeries:
    """Every series one cache updates, labelled once at setup so a query only increments."""

    requests: Counter
    misses: Counter
    prefetch: Counter
    drops: Counter
    served_stale: Counter
    success: TypeMetrics
    denial: TypeMetrics


class CacheMetrics:
    """The metric families, made once per process and shared by every `cache` stanza."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.entries = Gauge(
            "coredns_cache_entries",
            "The number of elements in the cache.",
            _TYPED,
            registry=registry,
        )
        self.requests = Counter(
            "coredns_cache_requests_total",
            "The count of cache requests.",
            _LABELS,
            registry=registry,
        )
        self.hits = Counter(
            "coredns_cache_hits_total", "The count of cache hits.", _TYPED, registry=registry
        )
        self.misses = Counter(
            "coredns_cache_misses_total",
            "The count of cache misses. "
            "Deprecated, derive misses from cache hits/requests counters.",
            _LABELS,
            registry=registry,
        )
        self.prefetch = Counter(
            "coredns_cache_prefetch_total",
            "The number of times the cache has prefetched a cached item.",
            _LABELS,
            registry=registry,
        )
        self.drops = Counter(
            "coredns_cache_drops_total",
            "The number responses that are not cached, because the reply is malformed.",
            _LABELS,
            registry=registry,
        )
        self.served_stale = Counter(
            "coredns_cache_served_stale_total",
            "The number of requests served from stale cache entries.",
            _LABELS,
            registry=registry,
        )
        self.evictions = Counter(
            "coredns_cache_evictions_total",
            "The count of cache evictions.",
            _TYPED,
            registry=registry,
        )

    def series(self, server: str, zones: str, view: str = "") -> CacheSeries:
        """The series of one cache, labelled with its server, zones and view."""
        plain = (server, zones, view)
        return CacheSeries(
            requests=self.requests.labels(*plain),
            misses=self.misses.labels(*plain),
            prefetch=self.prefetch.labels(*plain),
            drops=self.drops.labels(*plain),
            served_stale=self.served_stale.labels(*plain),
            success=self._typed(server, "success", zones, view),
            denial=self._typed(server, "denial", zones, view),
        )

    def _typed(self, server: str, cache: str, zones: str, view: str) -> TypeMetrics:
        labels = (server, cache, zones, view)
        return TypeMetrics(
            entries=self.entries.labels(*labels),
            hits=self.hits.labels(*labels),
            evictions=self.evictions.labels(*labels),
        )
