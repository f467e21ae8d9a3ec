"""Immutable zone snapshots, built whole or incrementally from the store, and their holder."""

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

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
    cluster_index: dict[str, IndexValue]
    endpoint_index: dict[str, IndexValue]
    if previous is None or changes is None:
        services = store.read_all_services()
        cluster_index, endpoint_index = {}, {}
        for key, entry in services.items():
            if entry.service is not None:  # always: read_all_services keeps only those
                _index(cluster_index, entry.service.cluster_ips, key)
                _index(endpoint_index, ready_addresses(entry), key)
        namespaces = store.namespaces()
        pods = _pod_index(store)
    else:
        # MappingProxyType.copy() copies the dict underneath at C speed; dict(proxy) walks it
        # key by key, 30x slower at 100k Services.
        services = previous.services.copy()
        cluster_index = previous.cluster_ip_index.copy()
        endpoint_index = previous.endpoint_ip_index.copy()
        namespaces = store.namespaces() if changes.namespaces else previous.namespaces
        pods = _pod_index(store) if changes.pods else previous.pod_ips
        _apply(services, cluster_index, endpoint_index, store.read_services(changes.services))
    return ZoneSnapshot(
        synced=synced,
        serial=serial,
        namespaces=namespaces,
        services=MappingProxyType(services),
        cluster_ip_index=MappingProxyType(cluster_index),
        endpoint_ip_index=MappingProxyType(endpoint_index),
        pod_ips=pods,
    )


def _apply(
    services: dict[ServiceKey, ServiceEntry],
    cluster_index: dict[str, IndexValue],
    endpoint_index: dict[str, IndexValue],
    changed: Mapping[ServiceKey, ServiceEntry],
) -> None:
    """Replace the entries of changed Services, and their addresses in both IP indexes."""
    for key, entry in changed.items():
        old = services.pop(key, None)
        if old is not None and old.service is not None:
            _unindex(cluster_index, old.service.cluster_ips, key)
            _unindex(endpoint_index, ready_addresses(old), key)
        if entry.service is not None:
            services[key] = entry
            _index(cluster_index, entry.service.cluster_ips, key)
            _index(endpoint_index, ready_addresses(entry), key)


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
