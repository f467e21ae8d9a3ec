"""The current cluster objects from one source, and what changed since the last snapshot."""

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from clusterdns.plugins.kubernetes.objects import (
    ENDPOINT_SLICE,
    ENDPOINTS,
    LEGACY_SLICE_PREFIX,
    NAMESPACE,
    POD,
    SERVICE,
    ClusterObject,
    EndpointSlice,
    Namespace,
    Pod,
    Service,
)

ServiceKey = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True, slots=True)
class Changes:
    """What moved since the last `take_changes`: services to rebuild, and whole-zone flags."""

    services: frozenset[ServiceKey]
    namespaces: bool
    pods: bool

    @property
    def empty(self) -> bool:
        """True when nothing changed."""
        return not (self.services or self.namespaces or self.pods)


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    """A Service (None until seen, or once deleted) with every slice naming it, by slice name.

    Entries are replaced, never changed, so a snapshot can hold the store's own entries.
    """

    service: Service | None
    slices: tuple[EndpointSlice, ...]


NO_ENTRY = ServiceEntry(None, ())


def kind_of(obj: ClusterObject) -> str:
    """The API kind an object came from (legacy Endpoints keep their own kind)."""
    if isinstance(obj, Namespace):
        return NAMESPACE
    if isinstance(obj, Service):
        return SERVICE
    if isinstance(obj, Pod):
        return POD
    return ENDPOINTS if obj.name.startswith(LEGACY_SLICE_PREFIX) else ENDPOINT_SLICE


class ObjectStore:
    """Thread-safe object maps fed by a loader or by reflectors; tracks dirty services."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._namespaces: dict[str, Namespace] = {}
        # One entry per Service key holding the Service and its slices: one dict and one small
        # object per Service, shared with snapshots, is what keeps 100k Services in budget.
        self._entries: dict[ServiceKey, ServiceEntry] = {}
        # namespace → slice name → the name of the Service it belongs to (same namespace).
        # Nested rather than keyed by (namespace, slice name): a key tuple per slice would
        # cost 64 B each (6 MiB at 100k slices) for an index only watch events read.
        self._slice_owner: dict[str, dict[str, str]] = {}
        self._pods: dict[tuple[str, str], Pod] = {}
        self._dirty: set[ServiceKey] = set()
        self._namespaces_changed = False
        self._pods_changed = False

    def apply(self, obj: ClusterObject) -> None:
        """Add or replace one object."""
        with self._lock:
            self._put(obj)

    def remove(self, kind: str, namespace: str, name: str) -> None:
        """Delete the object of `kind` called `namespace`/`name` (as the API names it)."""
        if kind == NAMESPACE:
            key = ("", name)
        elif kind == ENDPOINTS:  # stored as a slice under the prefixed name
            key = (namespace, LEGACY_SLICE_PREFIX + name)
        else:
            key = (namespace, name)
        with self._lock:
            self._drop(kind, key)

    def replace(self, kind: str, objects: Iterable[ClusterObject]) -> None:
        """Make `objects` the whole set of `kind` at once, as a relist does."""
        fresh = list(objects)
        with self._lock:
            existing = self._keys(kind)
            if existing:  # the first list of a kind has nothing to drop: skip a 100k-key set
                for key in existing - {_key(obj) for obj in fresh}:
                    self._drop(kind, key)
            for obj in fresh:
                self._put(obj)

    def take_changes(self) -> Changes:
        """Return and reset what changed since the previous call."""
        with self._lock:
            changes = Changes(frozenset(self._dirty), self._namespaces_changed, self._pods_changed)
            self._dirty.clear()
            self._namespaces_changed = self._pods_changed = False
            return changes

    def service_keys(self) -> frozenset[ServiceKey]:
        """Every service key with a Service or a slice."""
        with self._lock:
            return frozenset(self._entries)

    def read_services(self, keys: Iterable[ServiceKey]) -> dict[ServiceKey, ServiceEntry]:
        """The entry of each key (NO_ENTRY when nothing names it), read consistently."""
        with self._lock:
            return {key: self._entries.get(key, NO_ENTRY) for key in keys}

    def read_all_services(self) -> dict[ServiceKey, ServiceEntry]:
        """A new dict of every entry that holds a Service (slices alone are left out)."""
        with self._lock:
            # One pass straight into the result: a whole snapshot build at 100k Services
            # would otherwise make a 100k-key set and a second dict (9 MiB of peak RSS).
            return {key: entry for key, entry in self._entries.items() if entry.service is not None}

    def namespaces(self) -> frozenset[str]:
        """Names of every namespace."""
        with self._lock:
            return frozenset(self._namespaces)

    def pods(self) -> tuple[Pod, ...]:
        """Every pod."""
        with self._lock:
            return tuple(self._pods.values())

    def _keys(self, kind: str) -> set[tuple[str, str]]:
        if kind == NAMESPACE:
            return {("", name) for name in self._namespaces}
        if kind == SERVICE:
            return {key for key, entry in self._entries.items() if entry.service is not None}
        if kind == POD:
            return set(self._pods)
        legacy = kind == ENDPOINTS
        return {
            (namespace, name)
            for namespace, names in self._slice_owner.items()
            for name in names
            if name.startswith(LEGACY_SLICE_PREFIX) == legacy
        }

    def _put(self, obj: ClusterObject) -> None:
        if isinstance(obj, Namespace):
            if self._namespaces.get(obj.name) != obj:
                self._namespaces[obj.name] = obj
                self._namespaces_changed = True
        elif isinstance(obj, Service):
            key = (obj.namespace, obj.name)
            entry = self._entries.get(key, NO_ENTRY)
            if entry.service != obj:
                self._entries[key] = ServiceEntry(obj, entry.slices)
                self._dirty.add(key)
        elif isinstance(obj, Pod):
            key = (obj.namespace, obj.name)
            if self._pods.get(key) != obj:
                self._pods[key] = obj
                self._pods_changed = True
        else:
            self._put_slice(obj)

    def _put_slice(self, obj: EndpointSlice) -> None:
        owners = self._slice_owner.get(obj.namespace)
        previous_owner = owners.get(obj.name) if owners is not None else None
        if previous_owner is not None and previous_owner != obj.service:
            # The slice moved to another Service.
            self._drop(ENDPOINT_SLICE, (obj.namespace, obj.name))
        owner = (obj.namespace, obj.service)
        entry = self._entries.get(owner, NO_ENTRY)
        if obj in entry.slices:
            return
        rest = [s for s in entry.slices if s.name != obj.name]
        slices = tuple(sorted((*rest, obj), key=lambda s: s.name))
        self._entries[owner] = ServiceEntry(entry.service, slices)
        self._slice_owner.setdefault(obj.namespace, {})[obj.name] = obj.service
        self._dirty.add(owner)

    def _drop(self, kind: str, key: tuple[str, str]) -> None:
        if kind == NAMESPACE:
            if self._namespaces.pop(key[1], None) is not None:
                self._namespaces_changed = True
        elif kind == SERVICE:
            entry = self._entries.get(key)
            if entry is not None and entry.service is not None:
                self._set_entry(key, ServiceEntry(None, entry.slices))
        elif kind == POD:
            if self._pods.pop(key, None) is not None:
                self._pods_changed = True
        else:
            owners = self._slice_owner.get(key[0])
            service = owners.pop(key[1], None) if owners is not None else None
            if owners is not None and not owners:
                del self._slice_owner[key[0]]
            if service is not None:
                owner = (key[0], service)
                entry = self._entries[owner]
                slices = tuple(s for s in entry.slices if s.name != key[1])
                self._set_entry(owner, ServiceEntry(entry.service, slices))

    def _set_entry(self, key: ServiceKey, entry: ServiceEntry) -> None:
        if entry.service is None and not entry.slices:
            del self._entries[key]
        else:
            self._entries[key] = entry
        self._dirty.add(key)


def _key(obj: ClusterObject) -> tuple[str, str]:
    if isinstance(obj, Namespace):
        return ("", obj.name)
    return (obj.namespace, obj.name)
