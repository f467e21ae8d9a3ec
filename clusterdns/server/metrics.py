"""The server's own metrics under CoreDNS's names: plain counters, folded in at scrape time.

The hot path bumps one integer in a cell shared by every pre-encoded answer with the same
labels; the decoding path bumps dict entries. Nothing here calls `labels()` per query
(DESIGN §3). A custom collector turns the counts into CoreDNS's families when scraped.
"""

import bisect
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from clusterdns import __version__

# CoreDNS plugin/metrics/vars: ExponentialBuckets(0.00025, 2, 16) for request durations.
DURATION_BUCKETS = tuple(0.00025 * 2**i for i in range(16))
# Types CoreDNS names in its `type` label; every other type is counted as "other".
KNOWN_TYPES = {
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    12: "PTR",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    35: "NAPTR",
    39: "DNAME",
    43: "DS",
    46: "RRSIG",
    47: "NSEC",
    48: "DNSKEY",
    50: "NSEC3",
    52: "TLSA",
    64: "SVCB",
    65: "HTTPS",
    252: "AXFR",
    251: "IXFR",
    255: "ANY",
}

RequestKey = tuple[str, str, str, str]  # zone, proto, family, type
ResponseKey = tuple[str, str, str]  # zone, rcode, plugin


def type_label(qtype: int) -> str:
    """CoreDNS's `type` label value for a query type."""
    return KNOWN_TYPES.get(qtype, "other")


class HitCell:
    """Counts the hot-path answers of one label set; shared by their pre-encoded entries."""

    __slots__ = ("count", "request", "response")

    def __init__(self, request: RequestKey, response: ResponseKey) -> None:
        self.count = 0
        self.request = request
        self.response = response


class ServerCounters:
    """The counts of one server (one `dns://:PORT`)."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.requests: dict[RequestKey, int] = {}
        self.responses: dict[ResponseKey, int] = {}
        self.durations: dict[tuple[str, str], list[float]] = {}  # bucket counts + [sum]
        self.cells: dict[tuple[RequestKey, ResponseKey], HitCell] = {}
        self.panics = 0

    def cell(self, request: RequestKey, response: ResponseKey) -> HitCell:
        """The shared hit counter for answers with these labels."""
        key = (request, response)
        found = self.cells.get(key)
        if found is None:
            found = self.cells[key] = HitCell(request, response)
        return found

    def count(self, request: RequestKey, response: ResponseKey, seconds: float) -> None:
        """One query answered on the decoding path."""
        self.requests[request] = self.requests.get(request, 0) + 1
        self.responses[response] = self.responses.get(response, 0) + 1
        slot = self.durations.setdefault((request[0], request[3]), [0.0] * 18)
        slot[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1
        slot[17] += seconds


class ServerCollector(Collector):
    """Renders every server's counts as CoreDNS's metric families."""

    def __init__(self) -> None:
        self.servers: list[ServerCounters] = []
        self.plugins: list[tuple[str, str, str]] = []  # (server, zone, plugin name)
        self.reload_failures = 0

    def collect(self) -> Iterator[Metric]:
        """The families, computed now."""
        requests = CounterMetricFamily(
            "coredns_dns_requests",
            "Counter of DNS requests made per zone, protocol and family.",
            labels=["server", "zone", "view", "proto", "family", "type"],
        )
        responses = CounterMetricFamily(
            "coredns_dns_responses",
            "Counter of response status codes.",
            labels=["server", "zone", "view", "rcode", "plugin"],
        )
        durations = HistogramMetricFamily(
            "coredns_dns_request_duration_seconds",
            "Histogram of the time (in seconds) each request took per zone.",
            labels=["server", "zone", "view", "type"],
        )
        panics = CounterMetricFamily(
            "coredns_panics", "A metrics that counts the number of panics."
        )
        for counters in self.servers:
            self._fold(counters, requests, responses, durations)
        panics.add_metric([], sum(c.panics for c in self.servers))
        yield requests
        yield responses
        yield durations
        yield panics
        build = GaugeMetricFamily(
            "coredns_build_info",
            "A metric with a constant '1' value labeled by version, "
            "revision, and goversion from which CoreDNS was built.",
            labels=["version", "revision", "goversion"],
        )
        build.add_metric([__version__, "clusterdns", "python"], 1)
        yield build
        enabled = GaugeMetricFamily(
            "coredns_plugin_enabled",
            "A metric that indicates whether a plugin is enabled on per server and zone basis.",
            labels=["server", "zone", "view", "name"],
        )
        for server, zone, name in self.plugins:
            enabled.add_metric([server, zone, "", name], 1)
        yield enabled
        reloads = CounterMetricFamily(
            "coredns_reload_failed", "Counts the number of failed reload attempts."
        )
        reloads.add_metric([], self.reload_failures)
        yield reloads

    @staticmethod
    def _fold(
        counters: ServerCounters,
        requests: CounterMetricFamily,
        responses: CounterMetricFamily,
        durations: HistogramMetricFamily,
    ) -> None:
        request_totals = dict(counters.requests)
        response_totals = dict(counters.responses)
        hot: dict[tuple[str, str], int] = {}
        for cell in list(counters.cells.values()):
            request_totals[cell.request] = request_totals.get(cell.request, 0) + cell.count
            response_totals[cell.response] = response_totals.get(cell.response, 0) + cell.count
            key = (cell.request[0], cell.request[3])
            hot[key] = hot.get(key, 0) + cell.count
        for (zone, proto, family, qtype), value in request_totals.items():
            requests.add_metric([counters.server, zone, "", proto, family, qtype], value)
        for (zone, rcode, plugin), value in response_totals.items():
            responses.add_metric([counters.server, zone, "", rcode, plugin], value)
        for key in set(counters.durations) | set(hot):
            slot = counters.durations.get(key, [0.0] * 18)
            # Pre-encoded answers take a few microseconds: they count in the first bucket.
            cumulative, buckets = float(hot.get(key, 0)), []
            for bound, count in zip(DURATION_BUCKETS, slot, strict=False):
                cumulative += count
                buckets.append((repr(bound), cumulative))
            buckets.append(("+Inf", cumulative + slot[16]))
            durations.add_metric([counters.server, key[0], "", key[1]], buckets, slot[17])
