"""Immutable zone snapshots, built whole or incrementally from the store, and their holder."""

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Generic, TypeVar

from clusterdns.dns.names import dashed_address
from clusterdns.plugins.kubernetes.objects import LEGACY_SLICE_PREFIX, EndpointSlice, Port
from clusterdns.plugins.kubernetes.store import Changes, ObjectStore, ServiceEntry, ServiceKey


@dataclass(frozen=True, slots=True)
class EndpointView:
    """One ready endpoint address of a Service, with its DNS label and ports."""

    address: str
    label: str
    hostname: str
    ports: tuple[Port, ...]


def live_slices(entry: ServiceEntry) -> tuple[EndpointSlice, ...]:
    """The slices that count: real EndpointSlices supersede mirrored legacy Endpoints."""
    slices = entry.slices
    if any(s.name.startswith(LEGACY_SLICE_PREFIX) for s in slices) and any(
        not s.name.startswith(LEGACY_SLICE_PREFIX) for s in slices
    ):
        return tuple(s for s in slices if not s.name.startswith(LEGACY_SLICE_PREFIX))
    return slices


def ready_endpoints(entry: ServiceEntry, pod_names: bool = False) -> Iterator[EndpointView]:
    """Every ready endpoint address over all live slices, in slice-name order."""
    for piece in live_slices(entry):
        for endpoint in piece.members():
            if endpoint.ready:
                # CoreDNS endpointHostname: the hostname, the pod name if asked, the dashed IP.
                label = (
                    endpoint.hostname
                    or (pod_names and endpoint.pod_name)
                    or dashed_address(endpoint.address)
                )
                yield EndpointView(endpoint.address, label, endpoint.hostname, piece.ports)


def ready_addresses(entry: ServiceEntry) -> set[str]:
    """The distinct addresses of ready endpoints."""
    return {e.address for piece in live_slices(entry) for e in piece.members() if e.ready}


# IP → the one Service key holding it, or a sorted tuple of keys when several do. Storing the
# key itself in the usual one-owner case saves a tuple per IP (11 MB at 100k Services).
IndexValue = ServiceKey | tuple[ServiceKey, ...]
IpIndex = MappingProxyType[str, IndexValue]


def owners(index: Mapping[str, IndexValue], ip: str) -> tuple[ServiceKey, ...]:
    """The Service keys holding `ip` in `index`, sorted."""
    value = index.get(ip)
    if value is None:
        return ()
    if isinstance(value[0], str):
        return (value,)  # a single (namespace, name) key
    return value  # a tuple of keys


def _empty() -> IpIndex:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ZoneSnapshot:
    """Everything answers read, frozen: replaced whole, never mutated once published."""

    synced: bool
    serial: int
    namespaces: frozenset[str] = frozenset()
    services: MappingProxyType[ServiceKey, ServiceEntry] = field(
        default_factory=lambda: MappingProxyType({})
    )
    cluster_ip_index: IpIndex = field(default_factory=_empty)
    endpoint_ip_index: IpIndex = field(default_factory=_empty)
    pod_ips: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))


EMPTY_SNAPSHOT = ZoneSnapshot(synced=False, serial=0)


def build_snapshot(
    store: ObjectStore,
    previous: ZoneSnapshot | None,
    changes: Changes | None,
    serial: int,
    synced: bool,
) -> ZoneSnapshot:
    """A new snapshot: `previous` with `changes` applied, or built whole when either is None."""
    if previous is None or changes is None:
        services = store.read_all_services()
        cluster_index: dict[str, IndexValue] = {}
        endpoint_index: dict[str, IndexValue] = {}
        for key, entry in services.items():
            if entry.service is not None:  # always: read_all_services keeps only those
                _index(cluster_index, entry.service.cluster_ips, key)
                _index(endpoint_index, ready_addresses(entry), key)
        return ZoneSnapshot(
            synced=synced,
            serial=serial,
            namespaces=store.namespaces(),
            services=MappingProxyType(services),
            cluster_ip_index=MappingProxyType(cluster_index),
            endpoint_ip_index=MappingProxyType(endpoint_index),
            pod_ips=_pod_index(store),
        )
    updated = _Updated(previous)
    for key, entry in store.read_services(changes.services).items():
        updated.apply(key, entry)
    return ZoneSnapshot(
        synced=synced,
        serial=serial,
        namespaces=store.namespaces() if changes.namespaces else previous.namespaces,
        services=updated.services.result(),
        cluster_ip_index=updated.cluster_index.result(),
        endpoint_ip_index=updated.endpoint_index.result(),
        pod_ips=_pod_index(store) if changes.pods else previous.pod_ips,
    )


_K = TypeVar("_K")
_V = TypeVar("_V")


class _CopyOnWrite(Generic[_K, _V]):
    """A published mapping, copied the first time a change must write to it.

    At 100k Services each of the three maps is a 4-5 MiB table. The usual change (a slice's
    endpoints) touches the services and the endpoint index only: sharing the cluster IP index
    with the previous snapshot saves a copy of it (and that much peak RSS) on every rebuild.
    """

    __slots__ = ("_copy", "_source")

    def __init__(self, source: MappingProxyType[_K, _V]) -> None:
        self._source = source
        self._copy: dict[_K, _V] | None = None

    def writable(self) -> dict[_K, _V]:
        """The copy, made now if this is the first write."""
        if self._copy is None:
            # MappingProxyType.copy() copies the dict underneath at C speed; dict(proxy)
            # walks it key by key, 30x slower at 100k Services.
            self._copy = self._source.copy()
        return self._copy

    def result(self) -> MappingProxyType[_K, _V]:
        """The source itself when nothing was written, else the copy, read-only."""
        return self._source if self._copy is None else MappingProxyType(self._copy)


class _Updated:
    """The maps of a snapshot being derived from `previous`, Service by Service."""

    __slots__ = ("cluster_index", "endpoint_index", "previous", "services")

    def __init__(self, previous: ZoneSnapshot) -> None:
        self.previous = previous.services
        self.services = _CopyOnWrite(previous.services)
        self.cluster_index = _CopyOnWrite(previous.cluster_ip_index)
        self.endpoint_index = _CopyOnWrite(previous.endpoint_ip_index)

    def apply(self, key: ServiceKey, entry: ServiceEntry) -> None:
        """Make `entry` the Service's (gone when it holds no Service), with its addresses."""
        old = self.previous.get(key)  # published entries always hold a Service
        if entry is not old:
            if entry.service is not None:
                self.services.writable()[key] = entry
            elif old is not None:
                del self.services.writable()[key]
        old_ips = old.service.cluster_ips if old is not None and old.service is not None else ()
        new_ips = entry.service.cluster_ips if entry.service is not None else ()
        if old_ips != new_ips:
            _reindex(self.cluster_index.writable(), old_ips, new_ips, key)
        old_ready = ready_addresses(old) if old is not None else set()
        new_ready = ready_addresses(entry) if entry.service is not None else set()
        if old_ready != new_ready:
            _reindex(self.endpoint_index.writable(), old_ready, new_ready, key)


def _reindex(
    index: dict[str, IndexValue], old: Iterable[str], new: Iterable[str], key: ServiceKey
) -> None:
    _unindex(index, old, key)
    _index(index, new, key)


def _index(index: dict[str, IndexValue], ips: Iterable[str], key: ServiceKey) -> None:
    for ip in ips:
        present = owners(index, ip)
        index[ip] = tuple(sorted((*present, key))) if present else key


def _unindex(index: dict[str, IndexValue], ips: Iterable[str], key: ServiceKey) -> None:
    for ip in ips:
        rest = tuple(k for k in owners(index, ip) if k != key)
        if len(rest) > 1:
            index[ip] = rest
        elif rest:
            index[ip] = rest[0]
        else:
            index.pop(ip, None)


def _pod_index(store: ObjectStore) -> Mapping[str, frozenset[str]]:
    """Pod IP → namespaces of the pods holding it."""
    index: dict[str, set[str]] = {}
    for pod in store.pods():
        for ip in pod.ips:
            index.setdefault(ip, set()).add(pod.namespace)
    # One frozenset per distinct namespace set, shared by every IP holding it: most pods are
    # the only one at their IP, and a frozenset each would cost ~200 B per pod.
    shared: dict[frozenset[str], frozenset[str]] = {}
    pod_ips: dict[str, frozenset[str]] = {}
    for ip, namespaces in index.items():
        key = frozenset(namespaces)
        pod_ips[ip] = shared.setdefault(key, key)
    return MappingProxyType(pod_ips)


SnapshotListener = Callable[[ZoneSnapshot, Changes | None], None]


class SnapshotHolder:
    """Publishes snapshots by one reference swap; readers take `current` once per query."""

    def __init__(self, initial: ZoneSnapshot = EMPTY_SNAPSHOT) -> None:
        self.current = initial
        self._callbacks: list[SnapshotListener] = []

    def subscribe(self, callback: SnapshotListener) -> None:
        """Call `callback(snapshot, changes)` after every publish (changes None: all of it)."""
        self._callbacks.append(callback)

    def publish(self, snapshot: ZoneSnapshot, changes: Changes | None = None) -> None:
        """Make `snapshot` the one every new query reads; `changes` says what differs."""
        self.current = snapshot
        for callback in self._callbacks:
            callback(snapshot, changes)
