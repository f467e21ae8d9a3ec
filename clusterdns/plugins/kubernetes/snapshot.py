"""Immutable zone snapshots, built whole or incrementally from the store, and their holder."""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from clusterdns.dns.names import dashed_address
from clusterdns.plugins.kubernetes.objects import LEGACY_SLICE_PREFIX, EndpointSlice, Port, Service
from clusterdns.plugins.kubernetes.store import Changes, ObjectStore, ServiceKey, ServiceSource


@dataclass(frozen=True, slots=True)
class EndpointView:
    """One ready endpoint address of a Service, with its DNS label and ports."""

    address: str
    label: str
    hostname: str
    ports: tuple[Port, ...]


@dataclass(frozen=True, slots=True)
class ServiceView:
    """A Service with the union of its ready endpoints over every slice."""

    service: Service
    endpoints: tuple[EndpointView, ...]


IpIndex = Mapping[str, tuple[ServiceKey, ...]]


def _empty() -> Mapping[str, tuple[ServiceKey, ...]]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ZoneSnapshot:
    """Everything answers read, frozen: replaced whole, never mutated once published."""

    synced: bool
    serial: int
    namespaces: frozenset[str] = frozenset()
    services: Mapping[ServiceKey, ServiceView] = field(default_factory=lambda: MappingProxyType({}))
    cluster_ip_index: IpIndex = field(default_factory=_empty)
    endpoint_ip_index: IpIndex = field(default_factory=_empty)
    pod_ips: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))


EMPTY_SNAPSHOT = ZoneSnapshot(synced=False, serial=0)


def view_service(source: ServiceSource, endpoint_pod_names: bool = False) -> ServiceView | None:
    """The answerable view of one Service, or None when the Service does not exist."""
    if source.service is None:
        return None
    slices = source.slices
    if any(not s.name.startswith(LEGACY_SLICE_PREFIX) for s in slices):
        # Real EndpointSlices supersede the legacy Endpoints the API mirrors beside them.
        slices = tuple(s for s in slices if not s.name.startswith(LEGACY_SLICE_PREFIX))
    return ServiceView(source.service, tuple(_ready_endpoints(slices, endpoint_pod_names)))


def _ready_endpoints(
    slices: Iterable[EndpointSlice], endpoint_pod_names: bool
) -> Iterable[EndpointView]:
    for piece in slices:
        for endpoint in piece.endpoints:
            if not endpoint.ready:
                continue
            for address in endpoint.addresses:
                # CoreDNS endpointHostname: hostname, then pod name if asked, then the dashed IP.
                label = endpoint.hostname or (endpoint_pod_names and endpoint.pod_name) or ""
                yield EndpointView(
                    address, label or dashed_address(address), endpoint.hostname, piece.ports
                )


def build_snapshot(
    store: ObjectStore,
    previous: ZoneSnapshot | None,
    changes: Changes | None,
    serial: int,
    synced: bool,
    endpoint_pod_names: bool = False,
) -> ZoneSnapshot:
    """A new snapshot: `previous` with `changes` applied, or built whole when either is None."""
    if previous is None or changes is None:
        keys: Iterable[ServiceKey] = store.service_keys()
        services: dict[ServiceKey, ServiceView] = {}
        cluster_index: dict[str, tuple[ServiceKey, ...]] = {}
        endpoint_index: dict[str, tuple[ServiceKey, ...]] = {}
        namespaces = store.namespaces()
        pods = _pod_index(store)
    else:
        keys = changes.services
        services = dict(previous.services)
        cluster_index = dict(previous.cluster_ip_index)
        endpoint_index = dict(previous.endpoint_ip_index)
        namespaces = store.namespaces() if changes.namespaces else previous.namespaces
        pods = _pod_index(store) if changes.pods else previous.pod_ips
    for key, source in store.read_services(keys).items():
        old = services.pop(key, None)
        if old is not None:
            _unindex(cluster_index, old.service.cluster_ips, key)
            _unindex(endpoint_index, {e.address for e in old.endpoints}, key)
        new = view_service(source, endpoint_pod_names)
        if new is not None:
            services[key] = new
            _index(cluster_index, new.service.cluster_ips, key)
            _index(endpoint_index, {e.address for e in new.endpoints}, key)
    return ZoneSnapshot(
        synced=synced,
        serial=serial,
        namespaces=namespaces,
        services=MappingProxyType(services),
        cluster_ip_index=MappingProxyType(cluster_index),
        endpoint_ip_index=MappingProxyType(endpoint_index),
        pod_ips=pods,
    )


def _index(index: dict[str, tuple[ServiceKey, ...]], ips: Iterable[str], key: ServiceKey) -> None:
    for ip in ips:
        index[ip] = tuple(sorted((*index.get(ip, ()), key)))


def _unindex(index: dict[str, tuple[ServiceKey, ...]], ips: Iterable[str], key: ServiceKey) -> None:
    for ip in ips:
        rest = tuple(k for k in index.get(ip, ()) if k != key)
        if rest:
            index[ip] = rest
        else:
            index.pop(ip, None)


def _pod_index(store: ObjectStore) -> Mapping[str, frozenset[str]]:
    """Pod IP → namespaces of the pods holding it."""
    index: dict[str, set[str]] = {}
    for pod in store.pods():
        for ip in pod.ips:
            index.setdefault(ip, set()).add(pod.namespace)
    return MappingProxyType({ip: frozenset(ns) for ip, ns in index.items()})


SnapshotListener = Callable[[ZoneSnapshot], None]


class SnapshotHolder:
    """Publishes snapshots by one reference swap; readers take `current` once per query."""

    def __init__(self, initial: ZoneSnapshot = EMPTY_SNAPSHOT) -> None:
        self.current = initial
        self._callbacks: list[SnapshotListener] = []

    def subscribe(self, callback: SnapshotListener) -> None:
        """Call `callback(snapshot)` after every publish (e.g. to clear answer caches)."""
        self._callbacks.append(callback)

    def publish(self, snapshot: ZoneSnapshot) -> None:
        """Make `snapshot` the one every new query reads."""
        self.current = snapshot
        for callback in self._callbacks:
            callback(snapshot)
