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
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from clusterdns import __version__
from clusterdns.dns.message import Query

# CoreDNS plugin/metrics/vars: ExponentialBuckets(0.00025, 2, 16) for request durations.
DURATION_BUCKETS = tuple(0.00025 * 2**i for i in range(16))
# CoreDNS plugin/metrics/vars: the buckets of request_size_bytes and response_size_bytes.
SIZE_BUCKETS = (0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16e3, 32e3, 48e3, 64e3)
_SIZE_SLOTS = len(SIZE_BUCKETS) + 2  # one per bucket, +Inf, then the sum
# Types CoreDNS names in its `type` label (plugin/metrics/vars/monitor.go); every other type
# is counted as "other".
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
    43: "DS",
    46: "RRSIG",
    47: "NSEC",
    48: "DNSKEY",
    50: "NSEC3",
    64: "SVCB",
    65: "HTTPS",
    252: "AXFR",
    251: "IXFR",
    255: "ANY",
}

RequestKey = tuple[str, str, str, str]  # zone, proto, family, type
ResponseKey = tuple[str, str, str]  # zone, rcode, plugin
CellKey = tuple[RequestKey, ResponseKey, bool, int, int]  # ..., DO bit, query and reply sizes


def type_label(qtype: int) -> str:
    """CoreDNS's `type` label value for a query type."""
    return KNOWN_TYPES.get(qtype, "other")


def server_label(port: int, bound: tuple[str, ...] = ()) -> str:
    """CoreDNS's `server` label: `dns://:PORT`, or `dns://ADDRESS:PORT` under `bind`.

    CoreDNS runs one server per bound address and names each by it (metrics.WithServer);
    clusterdns counts all of a port's addresses together, under the first one.
    """
    if not bound:
        return f"dns://:{port}"
    host = bound[0]
    return f"dns://[{host}]:{port}" if ":" in host else f"dns://{host}:{port}"


class HitCell:
    """Counts the hot-path answers of one label set; shared by their pre-encoded entries.

    A pre-encoded reply is only served to a query of the same length as the one it was made
    for (same question, same OPT), so the cell also stands for the query's and the reply's
    sizes and the DO bit, which the size histograms and DO counter are folded from.
    """

    __slots__ = ("count", "do", "request", "request_size", "response", "response_size")

    def __init__(
        self,
        request: RequestKey,
        response: ResponseKey,
        do: bool = False,
        request_size: int = 0,
        response_size: int = 0,
    ) -> None:
        self.count = 0
        self.request = request
        self.response = response
        self.do = do
        self.request_size = request_size
        self.response_size = response_size


def _observe(
    histograms: dict[tuple[str, str], list[float]], key: tuple[str, str], size: int, n: int
) -> None:
    """Add `n` observations of `size` bytes to the size histogram under `key`."""
    slot = histograms.get(key)
    if slot is None:
        slot = histograms[key] = [0.0] * _SIZE_SLOTS
    slot[bisect.bisect_left(SIZE_BUCKETS, size)] += n
    slot[-1] += size * n


class ServerCounters:
    """The counts of one server (one `server` label, e.g. `dns://:53`)."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.requests: dict[RequestKey, int] = {}
        self.responses: dict[ResponseKey, int] = {}
        self.durations: dict[str, list[float]] = {}  # per zone: bucket counts + [sum]
        self.do_requests: dict[str, int] = {}  # per zone
        self.request_sizes: dict[tuple[str, str], list[float]] = {}  # per (zone, proto)
        self.response_sizes: dict[tuple[str, str], list[float]] = {}
        self.cells: dict[CellKey, HitCell] = {}
        self.panics = 0

    def cell(
        self, request: RequestKey, response: ResponseKey, query: Query, reply: bytes
    ) -> HitCell:
        """The shared hit counter for answers with these labels to queries like `query`."""
        do = query.edns is not None and query.edns.do
        key = (request, response, do, len(query.wire), len(reply))
        found = self.cells.get(key)
        if found is None:
            found = self.cells[key] = HitCell(*key)
        return found

    def count(
        self,
        request: RequestKey,
        response: ResponseKey,
        seconds: float,
        query: Query,
        reply: bytes,
    ) -> None:
        """One query answered on the decoding path, as CoreDNS's vars.Report counts it."""
        zone = request[0]
        self.requests[request] = self.requests.get(request, 0) + 1
        self.responses[response] = self.responses.get(response, 0) + 1
        slot = self.durations.get(zone)
        if slot is None:
            slot = self.durations[zone] = [0.0] * 18
        slot[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1
        slot[17] += seconds
        if query.edns is not None and query.edns.do:
            self.do_requests[zone] = self.do_requests.get(zone, 0) + 1
        _observe(self.request_sizes, (zone, request[1]), len(query.wire), 1)
        _observe(self.response_sizes, (zone, request[1]), len(reply), 1)


class _Families:
    """The per-server families of one scrape, filled server by server."""

    def __init__(self) -> None:
        self.requests = CounterMetricFamily(
            "coredns_dns_requests",
            "Counter of DNS requests made per zone, protocol and family.",
            labels=["server", "zone", "view", "proto", "family", "type"],
        )
        self.responses = CounterMetricFamily(
            "coredns_dns_responses",
            "Counter of response status codes.",
            labels=["server", "zone", "view", "rcode", "plugin"],
        )
        # CoreDNS 1.8.4 dropped the `type` label here (#4534): zone and server only.
        self.durations = HistogramMetricFamily(
            "coredns_dns_request_duration_seconds",
            "Histogram of the time (in seconds) each request took per zone.",
            labels=["server", "zone", "view"],
        )
        self.request_sizes = HistogramMetricFamily(
            "coredns_dns_request_size_bytes",
            "Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.",
            labels=["server", "zone", "view", "proto"],
        )
        self.response_sizes = HistogramMetricFamily(
            "coredns_dns_response_size_bytes",
            "Size of the returned response in bytes.",
            labels=["server", "zone", "view", "proto"],
        )
        self.do_requests = CounterMetricFamily(
            "coredns_dns_do_requests",
            "Counter of DNS requests with DO bit set per zone.",
            labels=["server", "zone", "view"],
        )

    def all(self) -> tuple[Metric, ...]:
        """Every family, in CoreDNS's order."""
        return (
            self.requests,
            self.responses,
            self.durations,
            self.request_sizes,
            self.response_sizes,
            self.do_requests,
        )


class ServerCollector(Collector):
    """Renders every server's counts as CoreDNS's metric families."""

    def __init__(self) -> None:
        self.servers: list[ServerCounters] = []
        self.plugins: list[tuple[str, str, str]] = []  # (server, zone, plugin name)
        self.reload_failures = 0
        # CoreDNS exports the process collector's families too (CPU, memory, file
        # descriptors); dashboards plot them beside the DNS ones.
        self._process = ProcessCollector(registry=None)

    def collect(self) -> Iterator[Metric]:
        """The families, computed now."""
        families = _Families()
        for counters in self.servers:
            _fold(counters, families)
        yield from families.all()
        panics = CounterMetricFamily(
            "coredns_panics", "A metrics that counts the number of panics."
        )
        panics.add_metric([], sum(c.panics for c in self.servers))
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
        yield from self._process.collect()


def _fold(counters: ServerCounters, families: _Families) -> None:
    """Add one server's decoding-path counts and hot-path cells to `families`."""
    requests = dict(counters.requests)
    responses = dict(counters.responses)
    do_requests = dict(counters.do_requests)
    request_sizes = {k: list(v) for k, v in counters.request_sizes.items()}
    response_sizes = {k: list(v) for k, v in counters.response_sizes.items()}
    hot: dict[str, int] = {}
    for cell in list(counters.cells.values()):
        n = cell.count
        if not n:
            continue
        zone, proto = cell.request[0], cell.request[1]
        requests[cell.request] = requests.get(cell.request, 0) + n
        responses[cell.response] = responses.get(cell.response, 0) + n
        hot[zone] = hot.get(zone, 0) + n
        if cell.do:
            do_requests[zone] = do_requests.get(zone, 0) + n
        _observe(request_sizes, (zone, proto), cell.request_size, n)
        _observe(response_sizes, (zone, proto), cell.response_size, n)
    server = counters.server
    for (zone, proto, family, qtype), value in requests.items():
        families.requests.add_metric([server, zone, "", proto, family, qtype], value)
    for (zone, rcode, plugin), value in responses.items():
        families.responses.add_metric([server, zone, "", rcode, plugin], value)
    for zone, value in do_requests.items():
        families.do_requests.add_metric([server, zone, ""], value)
    for zone in set(counters.durations) | set(hot):
        slot = counters.durations.get(zone, [0.0] * 18)
        # Pre-encoded answers take a few microseconds: they count in the first bucket.
        buckets = _cumulative(DURATION_BUCKETS, slot, float(hot.get(zone, 0)))
        families.durations.add_metric([server, zone, ""], buckets, slot[17])
    for (zone, proto), slot in request_sizes.items():
        buckets = _cumulative(SIZE_BUCKETS, slot, 0.0)
        families.request_sizes.add_metric([server, zone, "", proto], buckets, slot[-1])
    for (zone, proto), slot in response_sizes.items():
        buckets = _cumulative(SIZE_BUCKETS, slot, 0.0)
        families.response_sizes.add_metric([server, zone, "", proto], buckets, slot[-1])


def _cumulative(
    bounds: tuple[float, ...], slot: list[float], start: float
) -> list[tuple[str, float]]:
    """Prometheus's cumulative `le` buckets from per-bucket counts (the last one is +Inf)."""
    cumulative, buckets = start, []
    for bound, count in zip(bounds, slot, strict=False):
        cumulative += count
        buckets.append((_le(bound), cumulative))
    buckets.append(("+Inf", cumulative + slot[len(bounds)]))
    return buckets


def _le(bound: float) -> str:
    """A bucket bound as Go's client prints it (`100`, `16000`, `0.00025`)."""
    return repr(float(bound)) if bound != int(bound) else f"{int(bound)}"
