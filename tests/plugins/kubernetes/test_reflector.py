"""Reflectors over the real client and FakeKubeAPI: sync, events, relists and recovery."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from clusterdns.plugins.kubernetes.client import (
    ENDPOINT_SLICES,
    NAMESPACES,
    PODS,
    RESOURCES,
    SERVICES,
    JsonObject,
    KubeClient,
    Resource,
)
from clusterdns.plugins.kubernetes.reflector import (
    Reflector,
    Reflectors,
    ReflectorSettings,
    backoff_delay,
)
from clusterdns.plugins.kubernetes.store import ObjectStore
from tests.fakes.kube_api import (
    FakeKubeAPI,
    WatchFault,
    endpoint_slice,
    namespace,
    pod,
    service,
)
from tests.plugins.kubernetes.conftest import FAST, Feed, LogWatch, Signal, make_client

REFLECTOR_LOGGER = "clusterdns.plugins.kubernetes.reflector"

# Backoff maths


class FixedRandom(random.Random):
    """A Random whose uniform(a, b) lands at a fixed fraction of the way from a to b."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


@dataclass(frozen=True)
class Backoff:
    """backoff_delay(attempt) with base 0.5 and cap 30 when the jitter draws `fraction`."""

    attempt: int
    fraction: float
    delay: float


BACKOFFS = [
    pytest.param(Backoff(1, 1.0, 0.5), id="first-retry-at-most-base"),
    pytest.param(Backoff(2, 1.0, 1.0), id="second-doubles"),
    pytest.param(Backoff(3, 1.0, 2.0), id="third-doubles-again"),
    pytest.param(Backoff(6, 1.0, 16.0), id="sixth-below-cap"),
    pytest.param(Backoff(7, 1.0, 30.0), id="seventh-capped"),
    pytest.param(Backoff(10_000, 1.0, 30.0), id="huge-attempt-capped-no-overflow"),
    pytest.param(Backoff(4, 0.5, 2.0), id="jitter-halfway"),
    pytest.param(Backoff(5, 0.0, 0.0), id="full-jitter-reaches-zero"),
]


@pytest.mark.parametrize("case", BACKOFFS)
def test_backoff_delay(case: Backoff) -> None:
    assert backoff_delay(case.attempt, FixedRandom(case.fraction), 0.5, 30.0) == case.delay


class CeilingRecorder(random.Random):
    """Records each jitter ceiling (which reveals the attempt number) and never waits."""

    def __init__(self) -> None:
        super().__init__(0)
        self.ceilings: list[float] = []

    def uniform(self, a: float, b: float) -> float:
        self.ceilings.append(b)
        return 0.0


def test_backoff_delay_stays_under_its_ceiling() -> None:
    rng = random.Random(7)
    for attempt in range(1, 12):
        ceiling = min(30.0, 0.5 * 2 ** (attempt - 1))
        assert all(0.0 <= backoff_delay(attempt, rng) <= ceiling for _ in range(200))


def test_backoff_delay_counts_from_one() -> None:
    with pytest.raises(ValueError, match="attempt"):
        backoff_delay(0, random.Random(1))


# Store views


def services(store: ObjectStore) -> dict[str, tuple[str, ...]]:
    """'namespace/name' → cluster IPs of every Service in the store."""
    sources = store.read_services(store.service_keys())
    return {
        f"{ns}/{name}": source.service.cluster_ips
        for (ns, name), source in sources.items()
        if source.service is not None
    }


def slices(store: ObjectStore, name: str, ns: str = "default") -> dict[str, list[str]]:
    """Slice name → addresses of the slices that name Service `ns/name`."""
    source = store.read_services([(ns, name)])[(ns, name)]
    return {s.name: [e.address for e in s.members()] for s in source.slices}


def pod_ips(store: ObjectStore) -> dict[str, tuple[str, ...]]:
    """'namespace/name' → IPs of every pod."""
    return {f"{p.namespace}/{p.name}": p.ips for p in store.pods()}


def reflector_logs(logs: LogWatch, level: int) -> list[str]:
    """Messages the reflector logged at exactly `level`."""
    return logs.messages(REFLECTOR_LOGGER, level)


def watching(
    feed: Feed,
    fake: FakeKubeAPI,
    resources: list[Resource],
    settings: ReflectorSettings = FAST,
    rng: random.Random | None = None,
) -> Reflectors:
    """Start reflectors and return once each has listed and opened its first watch."""
    group = feed.start(resources, settings, rng)
    assert group.all_synced.wait(5)
    # Stream controls (end_watches, bookmark) act only on streams already open.
    feed.signal.wait_until(lambda: all(fake.requests_for("watch", r.plural) for r in resources))
    return group


# Initial sync


def test_initial_sync_pages_through_every_object(fake_api: FakeKubeAPI, feed: Feed) -> None:
    for i in range(250):
        fake_api.add("services", service(f"svc-{i:03}", cluster_ip=f"10.96.{i // 200}.{i % 200}"))
    group = feed.start([SERVICES])
    assert group.all_synced.wait(5)
    assert len(services(feed.store)) == 250
    lists = fake_api.requests_for("list", "services")
    assert [r.query.get("limit") for r in lists] == ["100", "100", "100"]
    assert ["continue" in r.query for r in lists] == [False, True, True]
    feed.signal.wait_until(lambda: len(fake_api.requests_for("watch")) >= 1)
    assert fake_api.requests_for("watch")[0].query["resourceVersion"] == fake_api.resource_version
    assert group.reflectors[0].resource_version == fake_api.resource_version


def test_all_synced_waits_for_every_resource(fake_api: FakeKubeAPI, feed: Feed) -> None:
    fake_api.fail_next(403, count=None, resource="pods")
    group = feed.start(RESOURCES)
    others = [r for r in group.reflectors if r.resource is not PODS]
    feed.signal.wait_until(
        lambda: (
            all(r.synced.is_set() for r in others)
            and len(fake_api.requests_for("list", "pods")) >= 3
        )
    )
    assert not group.all_synced.is_set()
    fake_api.clear_faults()
    assert group.all_synced.wait(5)


# Events of every kind


@dataclass(frozen=True)
class KindCase:
    """A resource, a raw object built from one IP-ish value, and how the store shows it."""

    resource: Resource
    make: Callable[[str], JsonObject]
    read: Callable[[ObjectStore], object]


KINDS = [
    pytest.param(
        KindCase(
            SERVICES,
            lambda ip: service("web", "prod", cluster_ip=ip),
            lambda store: services(store).get("prod/web"),
        ),
        id="services",
    ),
    pytest.param(
        KindCase(
            ENDPOINT_SLICES,
            lambda ip: endpoint_slice("web-a1", "web", [ip], "prod"),
            lambda store: slices(store, "web", "prod").get("web-a1"),
        ),
        id="endpointslices",
    ),
    pytest.param(
        KindCase(
            NAMESPACES,
            lambda ip: {**namespace("prod"), "spec": {"note": ip}},
            lambda store: "prod" in store.namespaces() or None,
        ),
        id="namespaces",
    ),
    pytest.param(
        KindCase(
            PODS,
            lambda ip: pod("web-0", ip, "prod"),
            lambda store: pod_ips(store).get("prod/web-0"),
        ),
        id="pods",
    ),
]


@pytest.mark.parametrize("case", KINDS)
def test_add_modify_delete_reach_the_store(
    case: KindCase, fake_api: FakeKubeAPI, feed: Feed
) -> None:
    group = feed.start([case.resource])
    assert group.all_synced.wait(5)
    first, second = case.make("10.1.0.1"), case.make("10.1.0.2")
    fake_api.add(case.resource.plural, first)
    feed.signal.wait_until(lambda: case.read(feed.store) is not None)
    shown = case.read(feed.store)
    fake_api.modify(case.resource.plural, second)
    if case.resource is not NAMESPACES:  # a namespace's only DNS-visible field is its name
        feed.signal.wait_until(lambda: case.read(feed.store) not in (None, shown))
    fake_api.delete(case.resource.plural, second)
    feed.signal.wait_until(lambda: case.read(feed.store) is None)
    assert len(fake_api.requests_for("list")) == 1


def test_endpoint_slice_moves_between_services(fake_api: FakeKubeAPI, feed: Feed) -> None:
    watching(feed, fake_api, [ENDPOINT_SLICES])
    fake_api.add("endpointslices", endpoint_slice("shared", "blue", ["10.1.0.1"]))
    feed.signal.wait_until(lambda: slices(feed.store, "blue") == {"shared": ["10.1.0.1"]})
    fake_api.modify("endpointslices", endpoint_slice("shared", "green", ["10.1.0.1"]))
    feed.signal.wait_until(lambda: slices(feed.store, "green") == {"shared": ["10.1.0.1"]})
    assert slices(feed.store, "blue") == {}


def test_slices_of_one_service_split_and_merge(fake_api: FakeKubeAPI, feed: Feed) -> None:
    watching(feed, fake_api, [SERVICES, ENDPOINT_SLICES])
    fake_api.add("services", service("web"))
    fake_api.add("endpointslices", endpoint_slice("web-1", "web", ["10.1.0.1", "10.1.0.2"]))
    feed.signal.wait_until(lambda: slices(feed.store, "web") == {"web-1": ["10.1.0.1", "10.1.0.2"]})
    fake_api.modify("endpointslices", endpoint_slice("web-1", "web", ["10.1.0.1"]))
    fake_api.add("endpointslices", endpoint_slice("web-2", "web", ["10.1.0.2"]))
    split = {"web-1": ["10.1.0.1"], "web-2": ["10.1.0.2"]}
    feed.signal.wait_until(lambda: slices(feed.store, "web") == split)
    fake_api.delete("endpointslices", endpoint_slice("web-2", "web", []))
    fake_api.modify("endpointslices", endpoint_slice("web-1", "web", ["10.1.0.1", "10.1.0.2"]))
    feed.signal.wait_until(lambda: slices(feed.store, "web") == {"web-1": ["10.1.0.1", "10.1.0.2"]})
    feed.signal.wait_until(lambda: services(feed.store) == {"default/web": ("10.96.0.10",)})


def test_burst_of_a_thousand_events_is_applied(fake_api: FakeKubeAPI, feed: Feed) -> None:
    watching(feed, fake_api, [SERVICES])
    for i in range(600):
        fake_api.add("services", service(f"svc-{i}", cluster_ip=f"10.96.{i // 200}.{i % 200}"))
    for i in range(200):
        fake_api.modify("services", service(f"svc-{i}", cluster_ip=f"10.97.0.{i}"))
    for i in range(200, 400):
        fake_api.delete("services", service(f"svc-{i}"))
    expected = {f"default/svc-{i}": (f"10.97.0.{i}",) for i in range(200)}
    expected |= {f"default/svc-{i}": (f"10.96.{i // 200}.{i % 200}",) for i in range(400, 600)}
    feed.signal.wait_until(lambda: services(feed.store) == expected, timeout=10)
    assert len(fake_api.requests_for("list")) == 1


def test_unusable_objects_are_skipped_with_one_warning(
    fake_api: FakeKubeAPI, feed: Feed, logs: LogWatch
) -> None:
    fake_api.add("services", service("good"))
    fake_api.add("services", service("bad", cluster_ip="not-an-ip"))
    watching(feed, fake_api, [SERVICES])
    assert set(services(feed.store)) == {"default/good"}
    warnings = reflector_logs(logs, logging.WARNING)
    assert len(warnings) == 1
    assert "Service default/bad" in warnings[0]
    assert "spec.clusterIPs[0]" in warnings[0]
    # A good object turned bad no longer serves; the rest keep flowing.
    fake_api.modify("services", service("good", cluster_ip="999.1.1.1"))
    fake_api.add("services", service("later"))
    feed.signal.wait_until(lambda: set(services(feed.store)) == {"default/later"})
    assert len(reflector_logs(logs, logging.WARNING)) == 2


def test_fqdn_slices_are_ignored(fake_api: FakeKubeAPI, feed: Feed) -> None:
    watching(feed, fake_api, [ENDPOINT_SLICES])
    fqdn = endpoint_slice("web-fqdn", "web", [])
    fqdn["addressType"] = "FQDN"
    fake_api.add("endpointslices", fqdn)
    fake_api.add("endpointslices", endpoint_slice("web-1", "web", ["10.1.0.1"]))
    feed.signal.wait_until(lambda: slices(feed.store, "web") == {"web-1": ["10.1.0.1"]})


# Relists and recovery


@pytest.mark.parametrize("how", ["http-status", "error-event", "compacted-history"])
def test_410_relists_and_converges(how: str, fake_api: FakeKubeAPI, feed: Feed) -> None:
    for name in ("keep", "gone", "changed"):
        fake_api.add("services", service(name))
    watching(feed, fake_api, [SERVICES])
    if how == "http-status":
        fake_api.fail_next(410, verb="watch")
    elif how == "error-event":
        fake_api.inject_watch_fault(WatchFault.ERROR_410)
    # Changes the watch never reports, as if compaction took them while we were away.
    fake_api.delete("services", service("gone"), deliver=False)
    fake_api.modify("services", service("changed", cluster_ip="10.96.0.99"), deliver=False)
    fake_api.add("services", service("new", cluster_ip="10.96.0.20"), deliver=False)
    fake_api.end_watches()
    expected = {
        "default/keep": ("10.96.0.10",),
        "default/changed": ("10.96.0.99",),
        "default/new": ("10.96.0.20",),
    }
    feed.signal.wait_until(lambda: services(feed.store) == expected)
    assert len(fake_api.requests_for("list")) == 2


@pytest.mark.parametrize("abrupt", [False, True], ids=["clean-end", "connection-killed"])
def test_dropped_stream_resumes_without_relisting(
    abrupt: bool, fake_api: FakeKubeAPI, feed: Feed
) -> None:
    watching(feed, fake_api, [SERVICES])
    fake_api.end_watches(abrupt=abrupt)
    feed.signal.wait_until(lambda: len(fake_api.requests_for("watch")) >= 2)
    fake_api.add("services", service("web"))
    feed.signal.wait_until(lambda: "default/web" in services(feed.store))
    assert len(fake_api.requests_for("list")) == 1


@pytest.mark.parametrize(
    "fault",
    [WatchFault.CUT, WatchFault.GARBAGE, WatchFault.UNKNOWN_TYPE],
    ids=["cut-mid-json", "garbage-line", "unknown-event-type"],
)
def test_broken_stream_recovers_and_loses_nothing(
    fault: WatchFault, fake_api: FakeKubeAPI, feed: Feed
) -> None:
    watching(feed, fake_api, [SERVICES])
    fake_api.inject_watch_fault(fault)
    fake_api.end_watches()  # the next stream is the broken one
    feed.signal.wait_until(lambda: len(fake_api.requests_for("watch")) >= 2)
    fake_api.add("services", service("web"))
    feed.signal.wait_until(lambda: "default/web" in services(feed.store))
    assert len(fake_api.requests_for("list")) == 1


def test_server_errors_back_off_then_recover(
    fake_api: FakeKubeAPI, feed: Feed, logs: LogWatch
) -> None:
    fake_api.add("services", service("web"))
    fake_api.fail_next(500, count=3, verb="list")
    group = feed.start([SERVICES])
    assert group.all_synced.wait(5)
    assert services(feed.store) == {"default/web": ("10.96.0.10",)}
    assert [r.status for r in fake_api.requests_for("list")] == [500, 500, 500, 200]
    assert group.reflectors[0].stats.failures == 3
    warnings = reflector_logs(logs, logging.WARNING)
    assert len(warnings) == 1  # one line per outage, not per retry
    assert "HTTP 500" in warnings[0]
    assert any("reachable again" in m for m in reflector_logs(logs, logging.INFO))


def test_backoff_grows_then_a_full_length_stream_resets_it(
    fake_api: FakeKubeAPI, feed: Feed
) -> None:
    rng = CeilingRecorder()
    settings = ReflectorSettings(timeout_seconds=1, backoff_base=0.01, backoff_cap=0.03)
    fake_api.fail_next(500, count=4, verb="list")
    group = feed.start([SERVICES], settings, rng)
    assert group.all_synced.wait(5)
    assert rng.ceilings == [0.01, 0.02, 0.03, 0.03]
    # The empty stream ran to its timeout: healthy, so the next watch starts without backoff.
    feed.signal.wait_until(lambda: len(fake_api.requests_for("watch")) >= 2)
    assert len(rng.ceilings) == 4


def test_stream_that_delivered_events_resets_the_backoff(fake_api: FakeKubeAPI, feed: Feed) -> None:
    rng = CeilingRecorder()
    settings = ReflectorSettings(timeout_seconds=30, backoff_base=0.01, backoff_cap=0.03)
    fake_api.fail_next(500, count=3, verb="list")
    watching(feed, fake_api, [SERVICES], settings, rng)
    assert rng.ceilings == [0.01, 0.02, 0.03]
    fake_api.add("services", service("web"))
    feed.signal.wait_until(lambda: "default/web" in services(feed.store))
    fake_api.end_watches(abrupt=True)
    feed.signal.wait_until(lambda: len(fake_api.requests_for("watch")) >= 2)
    assert rng.ceilings[3:] == [0.01]


def test_forbidden_is_logged_once_per_outage_naming_verb_and_resource(
    fake_api: FakeKubeAPI, feed: Feed, logs: LogWatch
) -> None:
    fake_api.fail_next(403, count=None, resource="services")
    group = feed.start([SERVICES])
    feed.signal.wait_until(lambda: len(fake_api.requests_for("list")) >= 4)
    assert not group.all_synced.is_set()
    errors = reflector_logs(logs, logging.ERROR)
    assert len(errors) == 1
    assert "403" in errors[0] and "'list'" in errors[0] and "'services'" in errors[0]
    fake_api.clear_faults()
    assert group.all_synced.wait(5)
    feed.signal.wait_until(lambda: bool(fake_api.requests_for("watch")))
    # A second outage, this time of the watch, is reported again.
    fake_api.fail_next(403, count=None, verb="watch")
    fake_api.end_watches()
    feed.signal.wait_until(
        lambda: [r.status for r in fake_api.requests_for("watch")][-3:] == [403] * 3
    )
    errors = reflector_logs(logs, logging.ERROR)
    assert len(errors) == 2
    assert "'watch'" in errors[1] and "'services'" in errors[1]
    fake_api.clear_faults()
    fake_api.add("services", service("web"))
    feed.signal.wait_until(lambda: "default/web" in services(feed.store))


def test_hung_stream_times_out_and_recovers(fake_api: FakeKubeAPI, feed: Feed) -> None:
    settings = ReflectorSettings(page_size=100, timeout_seconds=1, backoff_base=0.01)
    watching(feed, fake_api, [SERVICES], settings)
    fake_api.inject_watch_fault(WatchFault.STALL)
    fake_api.end_watches()
    feed.signal.wait_until(lambda: len(fake_api.requests_for("watch")) >= 2)
    fake_api.add("services", service("web"))  # the stalled stream never sends it
    # timeoutSeconds 1 + the client's 0.3 s slack, then a resumed watch delivers it.
    feed.signal.wait_until(lambda: "default/web" in services(feed.store))
    assert len(fake_api.requests_for("list")) == 1


def test_api_down_at_start_then_syncs(signal: Signal, tmp_path: Path, logs: LogWatch) -> None:
    fake = FakeKubeAPI(start=False, on_request=signal.notify)  # bound, refusing connections
    client = make_client(fake.write_kubeconfig(tmp_path / "kubeconfig"))
    feed = Feed(client, signal)
    try:
        fake.add("services", service("web"))
        group = feed.start([SERVICES])
        signal.wait_until(lambda: bool(reflector_logs(logs, logging.WARNING)))
        assert "refused" in reflector_logs(logs, logging.WARNING)[0]
        assert not group.all_synced.is_set()
        fake.start()
        assert group.all_synced.wait(5)
        assert services(feed.store) == {"default/web": ("10.96.0.10",)}
    finally:
        feed.stop()
        client.close()
        fake.close()


def test_bookmarks_advance_the_resource_version(fake_api: FakeKubeAPI, feed: Feed) -> None:
    group = watching(feed, fake_api, [SERVICES])
    listed = group.reflectors[0].resource_version
    for i in range(5):
        fake_api.add("namespaces", namespace(f"ns-{i}"))  # moves the global version only
    assert fake_api.resource_version != listed
    fake_api.bookmark()
    # Without the bookmark, resuming from the listed version would now get 410 and relist.
    fake_api.compact()
    fake_api.end_watches()
    feed.signal.wait_until(lambda: len(fake_api.requests_for("watch")) >= 2)
    resumed = fake_api.requests_for("watch")[1]
    assert resumed.query["resourceVersion"] == fake_api.resource_version
    assert group.reflectors[0].resource_version == fake_api.resource_version
    assert len(fake_api.requests_for("list")) == 1


def test_failing_on_change_does_not_stop_the_feed(
    fake_api: FakeKubeAPI, kube_client: KubeClient, signal: Signal
) -> None:
    calls: list[int] = []

    def on_change() -> None:
        calls.append(1)
        signal.notify()
        raise RuntimeError("app bug")

    store = ObjectStore()
    reflector = Reflector(kube_client, SERVICES, store, on_change=on_change, settings=FAST)
    reflector.start()
    try:
        assert reflector.synced.wait(5)
        fake_api.add("services", service("web"))
        signal.wait_until(lambda: "default/web" in services(store))
        signal.wait_until(lambda: len(calls) >= 2)
    finally:
        assert reflector.stop()


def test_stop_ends_every_thread_promptly(fake_api: FakeKubeAPI, feed: Feed) -> None:
    group = feed.start(RESOURCES)
    assert group.all_synced.wait(5)
    feed.signal.wait_until(lambda: len(fake_api.requests_for("watch")) >= len(RESOURCES))
    assert group.stop(timeout=2.0)


def test_reflectors_without_resources_are_synced_at_once(kube_client: KubeClient) -> None:
    group = Reflectors(kube_client, ObjectStore(), (), on_change=lambda: None)
    assert group.all_synced.is_set()
