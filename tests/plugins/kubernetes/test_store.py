"""ObjectStore.remove: an object is deleted by kind and name, as a DELETED event names it."""

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
