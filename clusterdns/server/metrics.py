"""The server's own metrics under CoreDNS's names: plain counters, folded in at scrape time.

The hot path bumps one integer in a cell shared by every pre-encoded answer with the same
labels; the decoding path bumps dict entries. Nothing here calls `labels()` per query
(docs/architecture.md, "The query path"). A custom collector turns the counts into
CoreDNS's families when scraped.
"""

from bisect import bisect_left
from collections.abc import Hashable, Iterator
from typing import TypeVar

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

# CoreDNS plugin.TimeBuckets (ExponentialBuckets(0.00025, 2, 16), 0.25 ms to 8 s): request
# durations here, and forward's request durations.
DURATION_BUCKETS = tuple(0.00025 * 2**i for i in range(16))
# CoreDNS plugin/metrics/vars: the buckets of request_size_bytes and response_size_bytes.
SIZE_BUCKETS = (0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16e3, 32e3, 48e3, 64e3)
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
CellKey = tuple[RequestKey, ResponseKey, bool, int, int]
_K = TypeVar("_K", bound=Hashable)  # ..., DO bit, query and reply sizes


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


# The per-request-key slot of ServerCounters: one list of floats, so counting a query costs
# one dict lookup. Offsets of its parts:
_COUNT = 0  # queries
_DO = 1  # queries with the DO bit
_DURATION = 2  # 16 duration buckets, +Inf, then the sum
_REQUEST = _DURATION + len(DURATION_BUCKETS) + 2  # size buckets, +Inf, then the sum
_RESPONSE = _REQUEST + len(SIZE_BUCKETS) + 2
_SLOT = _RESPONSE + len(SIZE_BUCKETS) + 2
_DURATION_SUM, _REQUEST_SUM, _RESPONSE_SUM = _REQUEST - 1, _RESPONSE - 1, _SLOT - 1


class ServerCounters:
    """The counts of one server (one `server` label, e.g. `dns://:53`)."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.requests: dict[RequestKey, list[float]] = {}  # laid out as _COUNT.._SLOT say
        self.responses: dict[ResponseKey, int] = {}
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
        slot = self.requests.get(request)
        if slot is None:
            slot = self.requests[request] = [0.0] * _SLOT
        slot[_COUNT] += 1
        edns = query.edns
        if edns is not None and edns.do:
            slot[_DO] += 1
        slot[_DURATION + bisect_left(DURATION_BUCKETS, seconds)] += 1
        slot[_DURATION_SUM] += seconds
        size = len(query.wire)
        slot[_REQUEST + bisect_left(SIZE_BUCKETS, size)] += 1
        slot[_REQUEST_SUM] += size
        size = len(reply)
        slot[_RESPONSE + bisect_left(SIZE_BUCKETS, size)] += 1
        slot[_RESPONSE_SUM] += size
        self.responses[response] = self.responses.get(response, 0) + 1


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
    requests: dict[RequestKey, float] = {}
    responses: dict[ResponseKey, float] = dict(counters.responses)
    do: dict[str, float] = {}
    durations: dict[str, list[float]] = {}  # per zone: buckets, +Inf, sum
    sizes: dict[tuple[str, str], list[float]] = {}  # per (zone, proto): request, then response
    for key, slot in list(counters.requests.items()):
        zone = key[0]
        requests[key] = slot[_COUNT]
        do[zone] = do.get(zone, 0.0) + slot[_DO]
        _add(durations, zone, slot[_DURATION:_REQUEST], _REQUEST - _DURATION)
        _add(sizes, (zone, key[1]), slot[_REQUEST:_SLOT], _SLOT - _REQUEST)
    response_part = _RESPONSE - _REQUEST
    for cell in list(counters.cells.values()):
        n = cell.count
        if not n:
            continue
        zone = cell.request[0]
        requests[cell.request] = requests.get(cell.request, 0.0) + n
        responses[cell.response] = responses.get(cell.response, 0.0) + n
        if cell.do:
            do[zone] = do.get(zone, 0.0) + n
        # Pre-encoded answers take a few microseconds: they count in the first bucket.
        _add(durations, zone, [n], _REQUEST - _DURATION)
        part = [0.0] * (_SLOT - _REQUEST)
        part[bisect_left(SIZE_BUCKETS, cell.request_size)] = n
        part[response_part - 1] = cell.request_size * n
        part[response_part + bisect_left(SIZE_BUCKETS, cell.response_size)] = n
        part[-1] = cell.response_size * n
        _add(sizes, (zone, cell.request[1]), part, _SLOT - _REQUEST)
    server = counters.server
    for (zone, proto, family, qtype), value in requests.items():
        families.requests.add_metric([server, zone, "", proto, family, qtype], value)
    for (zone, rcode, plugin), value in responses.items():
        families.responses.add_metric([server, zone, "", rcode, plugin], value)
    for zone, value in do.items():
        if value:  # as in CoreDNS, a zone appears once a DO query has been seen
            families.do_requests.add_metric([server, zone, ""], value)
    for zone, slot in durations.items():
        buckets = _cumulative(DURATION_BUCKETS, slot)
        families.durations.add_metric([server, zone, ""], buckets, slot[-1])
    for (zone, proto), slot in sizes.items():
        labels = [server, zone, "", proto]
        request, response = slot[:response_part], slot[response_part:]
        families.request_sizes.add_metric(labels, _cumulative(SIZE_BUCKETS, request), request[-1])
        families.response_sizes.add_metric(
            labels, _cumulative(SIZE_BUCKETS, response), response[-1]
        )


def _add(totals: dict[_K, list[float]], key: _K, part: list[float], length: int) -> None:
    """Add `part` element-wise to the slot of `length` zeros or counts under `key`."""
    slot = totals.get(key)
    if slot is None:
        slot = totals[key] = [0.0] * length
    for index, value in enumerate(part):
        slot[index] += value


def _cumulative(bounds: tuple[float, ...], slot: list[float]) -> list[tuple[str, float]]:
    """Prometheus's cumulative `le` buckets from per-bucket counts, then the +Inf count."""
    cumulative, buckets = 0.0, []
    for bound, count in zip(bounds, slot, strict=False):
        cumulative += count
        buckets.append((_le(bound), cumulative))
    buckets.append(("+Inf", cumulative + slot[len(bounds)]))
    return buckets


def _le(bound: float) -> str:
    """A bucket bound as Go's client prints it (`100`, `16000`, `0.00025`)."""
    return repr(float(bound)) if bound != int(bound) else f"{int(bound)}"
