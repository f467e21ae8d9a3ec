"""Metrics of the `cache` plugin, under CoreDNS's names and labels (plugin/cache/metrics.go)."""

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import Metric

_LABELS = ("server", "zones", "view")
_TYPED = ("server", "type", "zones", "view")


@dataclass(frozen=True, slots=True)
class TypeMetrics:
    """The series of one cache type ("success" or "denial") of one cache."""

    entries: Gauge
    hits: Counter
    evictions: Counter


class HitTally:
    """The counts a pre-encoded reply adds per hit, as plain integers (folded at scrape time).

    A prometheus_client counter takes a lock per increment, about 1 µs: more than the rest
    of a pre-encoded hit costs in Python.
    """

    __slots__ = ("requests", "misses", "success_hits", "denial_hits")

    def __init__(self) -> None:
        self.requests = 0
        self.misses = 0
        self.success_hits = 0
        self.denial_hits = 0

    def miss(self) -> None:
        """A request and a miss (a name `disable` keeps out of both caches)."""
        self.requests += 1
        self.misses += 1

    def success_hit(self) -> None:
        """A request answered from a success entry."""
        self.requests += 1
        self.success_hits += 1

    def denial_hit(self) -> None:
        """A request answered from a denial entry."""
        self.requests += 1
        self.denial_hits += 1


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
    tally: HitTally = field(default_factory=HitTally)

    def fold(self) -> None:
        """Add the tally to the counters and start it again."""
        tally = self.tally
        for counter, count in (
            (self.requests, tally.requests),
            (self.misses, tally.misses),
            (self.success.hits, tally.success_hits),
            (self.denial.hits, tally.denial_hits),
        ):
            if count:
                counter.inc(count)
        tally.requests = tally.misses = tally.success_hits = tally.denial_hits = 0


class CacheMetrics:
    """The metric families, made once per process and shared by every `cache` stanza."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._series: dict[tuple[str, str, str], CacheSeries] = {}
        # Registered before the counters below: a scrape collects in registration order, so
        # the tallies are folded into the counters before those are read.
        registry.register(self)
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

    def collect(self) -> Iterator[Metric]:
        """Fold every cache's tally into its counters; yields nothing of its own."""
        for series in self._series.values():
            series.fold()
        return iter(())

    def series(self, server: str, zones: str, view: str = "") -> CacheSeries:
        """The series of one cache, labelled with its server, zones and view (one per labels)."""
        plain = (server, zones, view)
        found = self._series.get(plain)
        if found is None:
            found = self._series[plain] = self._new_series(server, zones, view)
        return found

    def _new_series(self, server: str, zones: str, view: str) -> CacheSeries:
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
