"""Store and snapshots: incremental builds equal whole builds; slices join, split and move."""

import random

from clusterdns.plugins.kubernetes.objects import (
    ENDPOINT_SLICE,
    SERVICE,
    Endpoint,
    EndpointSlice,
    Namespace,
    Port,
    Service,
)
from clusterdns.plugins.kubernetes.snapshot import (
    ZoneSnapshot,
    build_snapshot,
    owners,
    ready_endpoints,
)
from clusterdns.plugins.kubernetes.store import ObjectStore

HTTP = (Port("http", "tcp", 80),)


def service(name: str, ip: str | None = None) -> Service:
    return Service("demo", name, "ClusterIP", (ip,) if ip else (), HTTP)


def slice_(name: str, owner: str, *addresses: str) -> EndpointSlice:
    endpoints = tuple(Endpoint(a, True) for a in addresses)
    return EndpointSlice("demo", name, owner, endpoints, HTTP)


def addresses(snapshot: ZoneSnapshot, name: str) -> list[str]:
    return sorted(e.address for e in ready_endpoints(snapshot.services[("demo", name)]))


def rebuild(store: ObjectStore, previous: ZoneSnapshot) -> ZoneSnapshot:
    return build_snapshot(store, previous, store.take_changes(), serial=2, synced=True)


def test_slices_of_one_service_split_and_merge() -> None:
    store = ObjectStore()
    store.apply(service("db"))
    store.apply(slice_("db-a", "db", "10.0.0.1", "10.0.0.2"))
    snap = build_snapshot(store, None, None, serial=1, synced=True)
    store.take_changes()
    store.apply(slice_("db-a", "db", "10.0.0.1"))
    store.apply(slice_("db-b", "db", "10.0.0.2", "10.0.0.3"))
    snap = rebuild(store, snap)
    assert addresses(snap, "db") == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    store.remove(ENDPOINT_SLICE, "demo", "db-b")
    snap = rebuild(store, snap)
    assert addresses(snap, "db") == ["10.0.0.1"]
    assert "10.0.0.3" not in snap.endpoint_ip_index


def test_a_slice_moving_to_another_service_leaves_the_first() -> None:
    store = ObjectStore()
    store.apply(service("a"))
    store.apply(service("b"))
    store.apply(slice_("s", "a", "10.0.0.9"))
    snap = build_snapshot(store, None, None, serial=1, synced=True)
    store.take_changes()
    store.apply(slice_("s", "b", "10.0.0.9"))
    snap = rebuild(store, snap)
    assert addresses(snap, "a") == [] and addresses(snap, "b") == ["10.0.0.9"]
    assert owners(snap.endpoint_ip_index, "10.0.0.9") == (("demo", "b"),)


def test_replace_is_a_relist_removing_what_vanished() -> None:
    store = ObjectStore()
    store.replace(SERVICE, [service("a", "10.96.0.1"), service("b", "10.96.0.2")])
    store.replace(SERVICE, [service("b", "10.96.0.2")])
    snap = build_snapshot(store, None, None, serial=1, synced=True)
    assert list(snap.services) == [("demo", "b")]
    assert list(snap.cluster_ip_index) == ["10.96.0.2"]


def test_unchanged_objects_mark_nothing_dirty() -> None:
    store = ObjectStore()
    store.apply(service("a", "10.96.0.1"))
    store.take_changes()
    store.apply(service("a", "10.96.0.1"))
    store.replace(ENDPOINT_SLICE, [])
    assert store.take_changes().empty


def test_incremental_snapshots_equal_whole_rebuilds() -> None:
    rng = random.Random(7)
    store = ObjectStore()
    store.apply(Namespace("demo"))
    snap = build_snapshot(store, None, None, serial=1, synced=True)
    store.take_changes()
    for step in range(300):
        name = f"svc{rng.randrange(20)}"
        action = rng.random()
        if action < 0.3:
            store.apply(
                service(name, f"10.96.0.{rng.randrange(1, 30)}" if rng.random() < 0.7 else None)
            )
        elif action < 0.45:
            store.remove(SERVICE, "demo", name)
        elif action < 0.85:
            ips = [f"10.1.0.{rng.randrange(1, 40)}" for _ in range(rng.randrange(0, 4))]
            store.apply(slice_(f"{name}-{rng.randrange(2)}", name, *ips))
        else:
            store.remove(ENDPOINT_SLICE, "demo", f"{name}-{rng.randrange(2)}")
        snap = rebuild(store, snap)
        whole = build_snapshot(store, None, None, serial=2, synced=True)
        assert dict(snap.services) == dict(whole.services), step
        assert dict(snap.cluster_ip_index) == dict(whole.cluster_ip_index), step
        assert dict(snap.endpoint_ip_index) == dict(whole.endpoint_ip_index), step


def test_a_rebuild_shares_the_maps_no_change_wrote_to() -> None:
    store = ObjectStore()
    store.apply(service("web", "10.96.0.1"))
    store.apply(slice_("web-a", "web", "10.0.0.1"))
    first = build_snapshot(store, None, None, serial=1, synced=True)
    store.take_changes()
    store.apply(slice_("web-a", "web", "10.0.0.1", "10.0.0.2"))  # endpoints only
    second = rebuild(store, first)
    assert second.cluster_ip_index is first.cluster_ip_index
    assert second.services is not first.services
    assert owners(second.endpoint_ip_index, "10.0.0.2") == (("demo", "web"),)
    store.apply(service("web", "10.96.0.9"))  # the cluster IP only
    third = rebuild(store, second)
    assert third.endpoint_ip_index is second.endpoint_ip_index
    assert list(third.cluster_ip_index) == ["10.96.0.9"]
    # Published snapshots never change under a rebuild.
    assert dict(first.endpoint_ip_index) == {"10.0.0.1": ("demo", "web")}
    assert dict(second.cluster_ip_index) == {"10.96.0.1": ("demo", "web")}
