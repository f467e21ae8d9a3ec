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
class ServiceSource:
    """A Service (None once deleted) with every slice that names it."""

    service: Service | None
    slices: tuple[EndpointSlice, ...]


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
        self._services: dict[ServiceKey, Service] = {}
        self._slices: dict[ServiceKey, dict[str, EndpointSlice]] = {}
        self._slice_owner: dict[tuple[str, str], ServiceKey] = {}
        self._pods: dict[tuple[str, str], Pod] = {}
        self._dirty: set[ServiceKey] = set()
        self._namespaces_changed = False
        self._pods_changed = False

    def apply(self, obj: ClusterObject) -> None:
        """Add or replace one object."""
        with self._lock:
            self._put(obj)

    def remove(self, obj: ClusterObject) -> None:
        """Delete one object (only its kind, namespace and name matter)."""
        with self._lock:
            self._drop(kind_of(obj), _key(obj))

    def replace(self, kind: str, objects: Iterable[ClusterObject]) -> None:
        """Make `objects` the whole set of `kind` at once, as a relist does."""
        fresh = list(objects)
        with self._lock:
            wanted = {_key(obj) for obj in fresh}
            for key in self._keys(kind) - wanted:
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
            return frozenset(self._services) | frozenset(self._slices)

    def read_services(self, keys: Iterable[ServiceKey]) -> dict[ServiceKey, ServiceSource]:
        """The Service and slices of each key, read consistently."""
        with self._lock:
            return {
                key: ServiceSource(
                    self._services.get(key),
                    tuple(self._slices[key][n] for n in sorted(self._slices.get(key, ()))),
                )
                for key in keys
            }

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
            return set(self._services)
        if kind == POD:
            return set(self._pods)
        legacy = kind == ENDPOINTS
        return {k for k in self._slice_owner if k[1].startswith(LEGACY_SLICE_PREFIX) == legacy}

    def _put(self, obj: ClusterObject) -> None:
        if isinstance(obj, Namespace):
            if self._namespaces.get(obj.name) != obj:
                self._namespaces[obj.name] = obj
                self._namespaces_changed = True
        elif isinstance(obj, Service):
            key = (obj.namespace, obj.name)
            if self._services.get(key) != obj:
                self._services[key] = obj
                self._dirty.add(key)
        elif isinstance(obj, Pod):
            key = (obj.namespace, obj.name)
            if self._pods.get(key) != obj:
                self._pods[key] = obj
                self._pods_changed = True
        else:
            self._put_slice(obj)

    def _put_slice(self, obj: EndpointSlice) -> None:
        key = (obj.namespace, obj.name)
        owner = (obj.namespace, obj.service)
        previous_owner = self._slice_owner.get(key)
        if previous_owner is not None and previous_owner != owner:
            self._drop(ENDPOINT_SLICE, key)  # the slice moved to another Service
        group = self._slices.setdefault(owner, {})
        if group.get(obj.name) != obj:
            group[obj.name] = obj
            self._slice_owner[key] = owner
            self._dirty.add(owner)

    def _drop(self, kind: str, key: tuple[str, str]) -> None:
        if kind == NAMESPACE:
            if self._namespaces.pop(key[1], None) is not None:
                self._namespaces_changed = True
        elif kind == SERVICE:
            if self._services.pop(key, None) is not None:
                self._dirty.add(key)
        elif kind == POD:
            if self._pods.pop(key, None) is not None:
                self._pods_changed = True
        else:
            owner = self._slice_owner.pop(key, None)
            if owner is not None:
                group = self._slices[owner]
                del group[key[1]]
                if not group:
                    del self._slices[owner]
                self._dirty.add(owner)


def _key(obj: ClusterObject) -> tuple[str, str]:
    if isinstance(obj, Namespace):
        return ("", obj.name)
    return (obj.namespace, obj.name)
