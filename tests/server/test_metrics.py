"""The server's metrics as a CoreDNS operator scrapes them from /metrics: names, labels, buckets."""

import asyncio
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import dns.edns
import dns.message
import dns.rcode
import pytest
from prometheus_client.parser import text_string_to_metric_families

from clusterdns.app import App
from clusterdns.server.metrics import SIZE_BUCKETS, server_label
from tests.conftest import EXAMPLES, plugins
from tests.fakes.upstream import FakeUpstream
from tests.integration.test_live import http_get

WEB = "web.demo.svc.cluster.local."
# The size buckets' `le` values exactly as CoreDNS (Go's client) writes them.
SIZE_LE = "0 100 200 300 400 511 1023 2047 4095 8291 16000 32000 48000 64000".split()


def corefile(upstream: str, bind: str = "bind 127.0.0.1") -> str:
    return (
        ".:0 {\n"
        f"    {bind}\n"
        "    prometheus 127.0.0.1:0\n"
        "    kubernetes cluster.local {\n"
        f'        manifests "{EXAMPLES}"\n'
        "    }\n"
        "    cache 30 {\n"
        "        disable success cluster.local\n"
        "        disable denial cluster.local\n"
        "    }\n"
        f"    forward . {upstream}\n"
        "}\n"
    )


@pytest.fixture
async def app(upstream: FakeUpstream) -> AsyncIterator[App]:
    served = App(corefile(upstream.address), "Corefile")
    await served.start()
    for plugin in plugins(served, "kubernetes"):
        async with asyncio.timeout(10):
            await plugin.wait_ready()  # type: ignore[attr-defined]
    yield served
    await served.stop()


class _Reply(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.reply.done():
            self.reply.set_result(data)


async def exchange(port: int, wire: bytes, proto: str) -> bytes:
    """The raw reply to `wire` over `proto`, as the server sent it."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(5):
        if proto == "udp":
            transport, protocol = await loop.create_datagram_endpoint(
                _Reply, remote_addr=("127.0.0.1", port)
            )
            try:
                transport.sendto(wire)
                return await protocol.reply
            finally:
                transport.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(struct.pack("!H", len(wire)) + wire)
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            return await reader.readexactly(length)
        finally:
            writer.close()
            await writer.wait_closed()


@dataclass(frozen=True)
class Ask:
    """One query a client sends."""

    name: str = WEB
    proto: str = "udp"
    do: bool = False
    cookie: bytes = b""  # an EDNS COOKIE option's bytes, none when empty


@dataclass(frozen=True)
class Scrape:
    """Queries, then what /metrics must say about them (per proto, and DO)."""

    asks: tuple[Ask, ...]
    requests: dict[str, int] = field(default_factory=dict)  # proto → requests_total
    do_requests: int = 0
    plugin: str = "kubernetes"


SCRAPES = [
    # The second query is a pre-encoded hit: it is counted, sized and timed all the same.
    pytest.param(Scrape((Ask(), Ask()), {"udp": 2}), id="udp-repeat-hot-path"),
    pytest.param(Scrape((Ask(do=True), Ask(do=True)), {"udp": 2}, do_requests=2), id="do-bit"),
    pytest.param(Scrape((Ask(proto="tcp"),), {"tcp": 1}), id="tcp"),
    pytest.param(Scrape((Ask(), Ask(proto="tcp")), {"udp": 1, "tcp": 1}), id="both-protocols"),
    pytest.param(
        Scrape((Ask("example.org."), Ask("example.org.")), {"udp": 2}, plugin="forward"),
        id="forwarded-then-cached",
    ),
    # Cookies are not keyed, their length is: a hit is sized as the query it answers.
    pytest.param(
        Scrape(
            tuple(
                Ask(cookie=bytes([c]) * n)
                for c, n in zip(b"abcde", (8, 8, 24, 24, 24), strict=True)
            ),
            {"udp": 5},
        ),
        id="cookies-of-two-lengths",
    ),
    pytest.param(
        Scrape(
            tuple(
                Ask(f"r{i}.web.demo.svc.cluster.local.", cookie=b"c" * n)
                for i, n in enumerate((8, 8, 8, 24, 24, 24))
            ),
            {"udp": 6},
        ),
        id="sibling-names-with-cookies",
    ),
]


def samples(body: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample of a text exposition, by sample name."""
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def value(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(v for have, v in found.get(name, []) if labels.items() <= have.items())


@pytest.mark.parametrize("case", SCRAPES)
async def test_request_and_response_sizes_as_coredns_reports_them(app: App, case: Scrape) -> None:
    port = app.addresses[0][1]
    sizes: dict[str, tuple[list[int], list[int]]] = {}
    for ask in case.asks:
        options: list[dns.edns.Option] | None = None
        if ask.cookie:
            options = [dns.edns.GenericOption(dns.edns.OptionType.COOKIE, ask.cookie)]
        query = dns.message.make_query(ask.name, "A", want_dnssec=ask.do, options=options)
        wire = query.to_wire()
        reply = await exchange(port, wire, ask.proto)
        requests, responses = sizes.setdefault(ask.proto, ([], []))
        requests.append(len(wire))
        responses.append(len(reply))
    status, body = await http_get(app, "/metrics")
    assert status == 200
    found = samples(body)
    server = f"dns://127.0.0.1:{app.servers[0].port}"
    common = {"server": server, "zone": ".", "view": ""}
    for proto, (requests, responses) in sizes.items():
        labels = {**common, "proto": proto}
        assert value(found, "coredns_dns_requests_total", **labels) == case.requests[proto]
        for name, observed in (
            ("coredns_dns_request_size_bytes", requests),
            ("coredns_dns_response_size_bytes", responses),
        ):
            assert value(found, f"{name}_count", **labels) == len(observed)
            assert value(found, f"{name}_sum", **labels) == sum(observed)
            for bound, le in zip(SIZE_BUCKETS, SIZE_LE, strict=True):
                expected = sum(1 for size in observed if size <= bound)
                assert value(found, f"{name}_bucket", le=le, **labels) == expected, (name, le)
    assert value(found, "coredns_dns_do_requests_total", **common) == case.do_requests
    total = len(case.asks)
    assert value(found, "coredns_dns_request_duration_seconds_count", **common) == total
    assert value(found, "coredns_dns_responses_total", plugin=case.plugin, **common) >= 1


async def test_families_and_labels_match_coredns(app: App) -> None:
    await exchange(app.addresses[0][1], dns.message.make_query(WEB, "A").to_wire(), "udp")
    _, body = await http_get(app, "/metrics")
    assert "_created" not in body  # Go's client writes no creation timestamps
    labels = {
        family.name: sorted({k for s in family.samples for k in s.labels if k != "le"})
        for family in text_string_to_metric_families(body)
    }
    expected = {
        "coredns_dns_requests": ["family", "proto", "server", "type", "view", "zone"],
        "coredns_dns_responses": ["plugin", "rcode", "server", "view", "zone"],
        "coredns_dns_request_duration_seconds": ["server", "view", "zone"],
        "coredns_dns_request_size_bytes": ["proto", "server", "view", "zone"],
        "coredns_dns_response_size_bytes": ["proto", "server", "view", "zone"],
        "coredns_panics": [],
        "coredns_build_info": ["goversion", "revision", "version"],
        "coredns_plugin_enabled": ["name", "server", "view", "zone"],
        "coredns_reload_failed": [],
        "coredns_cache_entries": ["server", "type", "view", "zones"],
        "coredns_cache_requests": ["server", "view", "zones"],
        "coredns_forward_healthcheck_broken": [],
        "coredns_forward_max_concurrent_rejects": [],
        "process_cpu_seconds": [],
        "process_resident_memory_bytes": [],
    }
    for name, names in expected.items():
        assert labels.get(name) == names, name
    servers = {
        s.labels["server"]
        for f in text_string_to_metric_families(body)
        for s in f.samples
        if "server" in s.labels
    }
    assert servers == {f"dns://127.0.0.1:{app.servers[0].port}"}


@pytest.mark.parametrize(
    ("port", "bound", "label"),
    [
        pytest.param(53, (), "dns://:53", id="no-bind"),
        pytest.param(53, ("127.0.0.1",), "dns://127.0.0.1:53", id="bind-ipv4"),
        pytest.param(5353, ("::1",), "dns://[::1]:5353", id="bind-ipv6-bracketed"),
        pytest.param(53, ("10.0.0.1", "::1"), "dns://10.0.0.1:53", id="bind-several-first"),
    ],
)
def test_server_label_is_built_from_the_bound_address(
    port: int, bound: tuple[str, ...], label: str
) -> None:
    assert server_label(port, bound) == label


async def test_without_bind_the_server_label_has_no_address(upstream: FakeUpstream) -> None:
    app = App(corefile(upstream.address, bind="errors"), "Corefile")
    assert [server.counters.server for server in app.servers] == ["dns://:0"]


@dataclass(frozen=True)
class Labelled:
    """A question to a server for cluster.local only, and the labels CoreDNS counts it under."""

    name: str
    qtype: str
    zone: str
    type: str
    rcode: str
    plugin: str


LABELLED = [
    pytest.param(Labelled(WEB, "A", "cluster.local.", "A", "NOERROR", "kubernetes"), id="known"),
    # monitor.go: types outside CoreDNS's short list are counted as "other".
    pytest.param(
        Labelled(WEB, "NAPTR", "cluster.local.", "other", "NOERROR", "kubernetes"), id="naptr"
    ),
    pytest.param(
        Labelled(WEB, "TLSA", "cluster.local.", "other", "NOERROR", "kubernetes"), id="tlsa"
    ),
    # No server block for the name: REFUSED by the server itself, under zone "dropped".
    pytest.param(Labelled("example.org.", "A", "dropped", "A", "REFUSED", ""), id="no-zone"),
]


@pytest.mark.parametrize("case", LABELLED)
async def test_zone_and_type_labels(case: Labelled) -> None:
    text = (
        "cluster.local:0 {\n    bind 127.0.0.1\n    prometheus 127.0.0.1:0\n"
        f'    kubernetes {{\n        manifests "{EXAMPLES}"\n    }}\n}}\n'
    )
    app = App(text, "Corefile")
    await app.start()
    try:
        for plugin in plugins(app, "kubernetes"):
            async with asyncio.timeout(10):
                await plugin.wait_ready()  # type: ignore[attr-defined]
        wire = dns.message.make_query(case.name, case.qtype).to_wire()
        reply = dns.message.from_wire(await exchange(app.addresses[0][1], wire, "udp"))
        assert dns.rcode.to_text(reply.rcode()) == case.rcode
        _, body = await http_get(app, "/metrics")
    finally:
        await app.stop()
    found = samples(body)
    common = {"server": f"dns://127.0.0.1:{app.servers[0].port}", "zone": case.zone}
    assert value(found, "coredns_dns_requests_total", type=case.type, **common) == 1
    labels = {"rcode": case.rcode, "plugin": case.plugin, **common}
    assert value(found, "coredns_dns_responses_total", **labels) == 1
    assert value(found, "coredns_dns_request_size_bytes_count", proto="udp", **common) == 1
