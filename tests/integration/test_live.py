"""A live cluster through the real client: the fake API behind clusterdns, asked over UDP."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import dns.message
import dns.rcode
import pytest

from clusterdns.app import App
from clusterdns.plugin import Shared
from clusterdns.plugins.kubernetes.feed import ZoneFeed
from clusterdns.plugins.kubernetes.handler import KubernetesPlugin
from clusterdns.plugins.kubernetes.reflector import ReflectorSettings
from clusterdns.plugins.kubernetes.snapshot import ready_addresses
from clusterdns.plugins.kubernetes.source import LiveSource
from clusterdns.serve_flags import ServeOptions, serve_app
from tests.conftest import Client, http_address, listener, plugins
from tests.fakes.kube_api import FakeKubeAPI, endpoint_slice, namespace, service
from tests.fakes.upstream import FakeUpstream

FAST = ReflectorSettings(page_size=50, timeout_seconds=5, backoff_base=0.01, backoff_cap=0.05)
WEB = "web.default.svc.cluster.local."


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    fake = FakeKubeAPI()
    fake.add("namespaces", namespace("default"))
    fake.add("services", service("kubernetes", cluster_ip="10.96.0.1"))
    yield fake
    fake.close()


async def running(api: FakeKubeAPI, upstream: FakeUpstream, tmp_path: Path) -> App:
    options = ServeOptions(
        kubeconfig=api.write_kubeconfig(tmp_path / "kubeconfig"),
        dns_addrs=("127.0.0.1",),
        dns_port=0,
        upstreams=(upstream.address,),
        http_addr="127.0.0.1:0",
    )
    shared = Shared()
    shared.get("kubernetes.reflector", ReflectorSettings, lambda: FAST)
    app = serve_app(options, shared=shared)
    await app.start()
    return app


def plugin_of(app: App) -> KubernetesPlugin:
    """The app's one kubernetes plugin."""
    (plugin,) = plugins(app, "kubernetes")
    assert isinstance(plugin, KubernetesPlugin)
    return plugin


@pytest.fixture
async def live(api: FakeKubeAPI, upstream: FakeUpstream, tmp_path: Path) -> AsyncIterator[App]:
    app = await running(api, upstream, tmp_path)
    await until(app, lambda: app.readiness.reply().status == 200)
    yield app
    await app.stop()


async def until(app: App, predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Wait for a published snapshot after which `predicate()` holds."""
    published = asyncio.Event()
    plugin_of(app).holder.subscribe(lambda _snapshot, _changes: published.set())
    async with asyncio.timeout(within):
        while not predicate():
            await published.wait()
            published.clear()


def feed_of(app: App) -> ZoneFeed:
    """The live source's feed."""
    source = plugin_of(app).source
    assert isinstance(source, LiveSource)
    return source.feed


def has(app: App, name: str, count: int | None = None) -> Callable[[], bool]:
    """The snapshot holds Service `name` in default (with `count` endpoints, if given)."""

    def check() -> bool:
        view = plugin_of(app).holder.current.services.get(("default", name))
        return view is not None and (count is None or len(ready_addresses(view)) == count)

    return check


async def addresses(app: App, name: str) -> tuple[int, list[str]]:
    reply = await Client(app.addresses[0][1]).udp(dns.message.make_query(name, "A"))
    return reply.rcode(), sorted(rr.address for rrset in reply.answer for rr in rrset)


async def http_get(app: App, path: str) -> tuple[int, str]:
    assert http_address(app) is not None
    reader, writer = await asyncio.open_connection(*http_address(app))
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    response = (await reader.read()).decode()
    writer.close()
    await writer.wait_closed()
    return int(response.split()[1]), response.split("\r\n\r\n", 1)[1]


async def test_add_scale_and_delete_a_service(live: App, api: FakeKubeAPI) -> None:
    api.add("services", service("web", cluster_ip="10.96.0.50"))
    await until(live, has(live, "web"))
    assert await addresses(live, WEB) == (dns.rcode.NOERROR, ["10.96.0.50"])

    api.add("services", service("pods", cluster_ip="None"))
    api.add(
        "endpointslices",
        endpoint_slice("pods-1", "pods", ["10.244.0.1", "10.244.0.2", "10.244.0.3"]),
    )
    await until(live, has(live, "pods", 3))
    api.modify(
        "endpointslices", endpoint_slice("pods-1", "pods", [f"10.244.0.{i}" for i in range(1, 6)])
    )
    await until(live, has(live, "pods", 5))
    rcode, found = await addresses(live, "pods.default.svc.cluster.local.")
    assert found == [f"10.244.0.{i}" for i in range(1, 6)]

    api.delete("services", service("web"))
    await until(live, lambda: not has(live, "web")())
    assert (await addresses(live, WEB))[0] == dns.rcode.NXDOMAIN


async def test_api_down_at_start_is_servfail_then_answers(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    api = FakeKubeAPI(start=False)
    api.add("namespaces", namespace("default"))
    api.add("services", service("web", cluster_ip="10.96.0.50"))
    app = await running(api, upstream, tmp_path)
    try:
        assert (await addresses(app, WEB))[0] == dns.rcode.SERVFAIL
        assert (await http_get(app, "/ready"))[0] == 503
        assert (await http_get(app, "/health")) == (200, "OK")
        api.start()
        await until(app, lambda: app.readiness.reply().status == 200)
        assert await addresses(app, WEB) == (dns.rcode.NOERROR, ["10.96.0.50"])
        assert (await http_get(app, "/ready"))[0] == 200
    finally:
        await app.stop()
        api.close()


async def test_outage_after_sync_keeps_answers_and_catches_up(live: App, api: FakeKubeAPI) -> None:
    api.add("services", service("web", cluster_ip="10.96.0.50"))
    await until(live, has(live, "web"))
    api.fail_next(500, count=None)
    api.end_watches(abrupt=True)
    # Changes made while clusterdns cannot see the API...
    api.delete("services", service("web"), deliver=False)
    api.add("services", service("new", cluster_ip="10.96.0.51"), deliver=False)
    assert await addresses(live, WEB) == (dns.rcode.NOERROR, ["10.96.0.50"])
    assert live.readiness.reply().status == 200
    # ...appear once it can again.
    api.clear_faults()
    api.compact()
    await until(live, lambda: has(live, "new")() and not has(live, "web")())
    assert (await addresses(live, WEB))[0] == dns.rcode.NXDOMAIN


async def test_a_burst_of_1000_events_costs_a_few_rebuilds(live: App, api: FakeKubeAPI) -> None:
    before = feed_of(live).rebuilds
    for i in range(1000):
        api.add("services", service(f"s{i}", cluster_ip=f"10.97.{i // 250}.{i % 250}"))
    await until(live, has(live, "s999"), within=20)
    assert len(plugin_of(live).holder.current.services) == 1001
    rebuilds = feed_of(live).rebuilds - before
    print(f"1000 events: {rebuilds} rebuilds")
    assert rebuilds < 30
    status, body = await http_get(live, "/metrics")
    assert status == 200
    assert (
        'coredns_kubernetes_dns_programming_duration_seconds_count{service_kind="cluster_ip"}'
        in body
    )


async def test_a_change_keeps_other_pre_encoded_answers(live: App, api: FakeKubeAPI) -> None:
    api.add("services", service("web", cluster_ip="10.96.0.50"))
    api.add("services", service("api", cluster_ip="10.96.0.60"))
    await until(live, has(live, "api"))
    for name in (WEB, "api.default.svc.cluster.local.") * 2:
        await addresses(live, name)  # decoded twice, pre-encoded on the second sighting
    api.modify("services", service("web", cluster_ip="10.96.0.51"))

    def moved() -> bool:
        service = plugin_of(live).holder.current.services[("default", "web")].service
        return service is not None and service.cluster_ips == ("10.96.0.51",)

    await until(live, moved)
    hits = listener(live).stores[0].hits
    assert await addresses(live, "api.default.svc.cluster.local.") == (
        dns.rcode.NOERROR,
        ["10.96.0.60"],
    )
    assert listener(live).stores[0].hits == hits + 1  # still pre-encoded
    assert await addresses(live, WEB) == (dns.rcode.NOERROR, ["10.96.0.51"])
    assert listener(live).stores[0].hits == hits + 1  # web's old answer was dropped, not served


async def test_never_repeated_names_share_an_answer_until_their_parent_changes(
    live: App, api: FakeKubeAPI
) -> None:
    api.add("services", service("web", cluster_ip="10.96.0.50"))
    api.add("endpointslices", endpoint_slice("web-1", "web", ["10.244.0.1"]))
    await until(live, has(live, "web", 1))
    store = listener(live).stores[0]
    for name in ("r000000001", "r000000002", "newsvc1", "newsvc2"):
        parent = "web.default" if name.startswith("r") else "default"
        assert (await addresses(live, f"{name}.{parent}.svc.cluster.local."))[0] == (
            dns.rcode.NXDOMAIN
        )
    hits = store.hits
    assert (await addresses(live, "r000000003.web.default.svc.cluster.local."))[0] == (
        dns.rcode.NXDOMAIN
    )
    assert store.hits == hits + 1  # a sibling's answer, without the chain
    # A label that names an endpoint is not a sibling's name error, even at the same length.
    assert await addresses(live, "10-244-0-1.web.default.svc.cluster.local.") == (
        dns.rcode.NOERROR,
        ["10.244.0.1"],
    )
    api.add("services", service("newsvc3", cluster_ip="10.96.0.53"))
    api.modify("endpointslices", endpoint_slice("web-1", "web", ["10.244.0.1", "10.244.0.2"]))
    await until(live, lambda: has(live, "newsvc3")() and has(live, "web", 2)())
    assert await addresses(live, "newsvc3.default.svc.cluster.local.") == (
        dns.rcode.NOERROR,
        ["10.96.0.53"],
    )
    assert await addresses(live, "10-244-0-2.web.default.svc.cluster.local.") == (
        dns.rcode.NOERROR,
        ["10.244.0.2"],
    )
    assert (await addresses(live, "newsvc4.default.svc.cluster.local."))[0] == dns.rcode.NXDOMAIN
