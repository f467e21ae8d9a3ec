"""ObjectStore: objects deleted by kind and name (as DELETED events name them), slice names."""

from collections.abc import Callable

import pytest

from clusterdns.plugins.kubernetes.objects import (
    ENDPOINT_SLICE,
    ENDPOINTS,
    NAMESPACE,
    POD,
    SERVICE,
    Endpoint,
    EndpointSlice,
    Namespace,
    Pod,
    Service,
    parse_endpoints,
)
from clusterdns.plugins.kubernetes.store import ObjectStore


def filled() -> ObjectStore:
    """A store with one object of each kind, a slice and legacy Endpoints both named `web`."""
    store = ObjectStore()
    store.apply(Namespace("prod"))
    store.apply(Service("prod", "web", "ClusterIP", ("10.96.0.1",), ()))
    store.apply(EndpointSlice("prod", "web", "web", (Endpoint("10.1.0.1", True),), ()))
    legacy = {
        "metadata": {"name": "web", "namespace": "prod"},
        "subsets": [{"addresses": [{"ip": "10.1.0.2"}]}],
    }
    store.apply(parse_endpoints(legacy))
    store.apply(Pod("prod", "web-0", ("10.1.0.1",)))
    return store


def view(store: ObjectStore) -> dict[str, object]:
    """What is left, by kind."""
    (entry,) = store.read_services([("prod", "web")]).values() or [None]
    return {
        "namespaces": sorted(store.namespaces()),
        "service": entry is not None and entry.service is not None,
        "slices": sorted(s.name for s in entry.slices) if entry else [],
        "pods": [p.name for p in store.pods()],
    }


@pytest.mark.parametrize(
    ("kind", "namespace", "name", "left"),
    [
        pytest.param(NAMESPACE, "", "prod", {"namespaces": []}, id="namespace"),
        pytest.param(SERVICE, "prod", "web", {"service": False}, id="service"),
        pytest.param(ENDPOINT_SLICE, "prod", "web", {"slices": ["endpoints/web"]}, id="slice"),
        pytest.param(ENDPOINTS, "prod", "web", {"slices": ["web"]}, id="legacy-endpoints"),
        pytest.param(POD, "prod", "web-0", {"pods": []}, id="pod"),
        pytest.param(SERVICE, "prod", "other", {}, id="unknown-name"),
    ],
)
def test_remove_deletes_only_the_named_object(
    kind: str, namespace: str, name: str, left: dict[str, object]
) -> None:
    store = filled()
    before = view(store)
    store.remove(kind, namespace, name)
    assert view(store) == {**before, **left}


# Slice names are unique per namespace only: the same name in two namespaces is two slices.


def two_namespaces() -> ObjectStore:
    """Service `web` in `prod` and in `dev`, each with a slice called `web-abc`."""
    store = ObjectStore()
    for namespace, address in (("prod", "10.1.0.1"), ("dev", "10.2.0.1")):
        store.apply(Service(namespace, "web", "ClusterIP", (), ()))
        endpoints = (Endpoint(address, True),)
        store.apply(EndpointSlice(namespace, "web-abc", "web", endpoints, ()))
    return store


def slice_addresses(store: ObjectStore) -> dict[str, list[str]]:
    """The endpoint addresses of `web`, by namespace."""
    entries = store.read_services([("prod", "web"), ("dev", "web")])
    return {
        namespace: sorted(m.address for s in entry.slices for m in s.members())
        for (namespace, _), entry in entries.items()
    }


def remove_prod_slice(store: ObjectStore) -> None:
    store.remove(ENDPOINT_SLICE, "prod", "web-abc")


def relist_dev_only(store: ObjectStore) -> None:
    endpoints = (Endpoint("10.2.0.1", True),)
    store.replace(ENDPOINT_SLICE, [EndpointSlice("dev", "web-abc", "web", endpoints, ())])


def move_prod_slice(store: ObjectStore) -> None:
    store.apply(Service("prod", "api", "ClusterIP", (), ()))
    endpoints = (Endpoint("10.1.0.1", True),)
    store.apply(EndpointSlice("prod", "web-abc", "api", endpoints, ()))


def remove_prod_slice_twice(store: ObjectStore) -> None:
    remove_prod_slice(store)
    remove_prod_slice(store)  # a repeated DELETED event (after a relist) changes nothing


@pytest.mark.parametrize(
    ("change", "left"),
    [
        pytest.param(remove_prod_slice, {"prod": [], "dev": ["10.2.0.1"]}, id="delete-one"),
        pytest.param(relist_dev_only, {"prod": [], "dev": ["10.2.0.1"]}, id="relist-drops-one"),
        pytest.param(move_prod_slice, {"prod": [], "dev": ["10.2.0.1"]}, id="move-in-one"),
        pytest.param(remove_prod_slice_twice, {"prod": [], "dev": ["10.2.0.1"]}, id="delete-twice"),
    ],
)
def test_a_slice_name_belongs_to_its_namespace(
    change: Callable[[ObjectStore], None], left: dict[str, list[str]]
) -> None:
    store = two_namespaces()
    assert slice_addresses(store) == {"prod": ["10.1.0.1"], "dev": ["10.2.0.1"]}
    store.take_changes()
    change(store)
    assert slice_addresses(store) == left
    assert ("prod", "web") in store.take_changes().services


def test_read_all_services_leaves_out_entries_with_only_slices() -> None:
    store = two_namespaces()
    store.remove(SERVICE, "dev", "web")
    assert sorted(store.read_all_services()) == [("prod", "web")]
    assert sorted(store.service_keys()) == [("dev", "web"), ("prod", "web")]
