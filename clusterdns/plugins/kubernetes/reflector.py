"""Keeps the store in step with the API: per resource, a thread that lists, watches and heals."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clusterdns.clock import Clock, SystemClock
from clusterdns.errors import KubeAPIError, ObjectError
from clusterdns.plugins.kubernetes.client import (
    RESOURCES,
    ApiRequestError,
    EventStream,
    GoneError,
    JsonObject,
    KubeSource,
    Resource,
)
from clusterdns.plugins.kubernetes.objects import (
    ENDPOINT_SLICE,
    NAMESPACE,
    POD,
    SERVICE,
    ClusterObject,
    parse_endpoint_slice,
    parse_namespace,
    parse_pod,
    parse_service,
)
from clusterdns.plugins.kubernetes.store import ObjectStore

logger = logging.getLogger(__name__)

Parser = Callable[[Mapping[str, Any]], ClusterObject | None]

_PARSERS: Mapping[str, Parser] = {
    SERVICE: parse_service,
    ENDPOINT_SLICE: parse_endpoint_slice,
    NAMESPACE: parse_namespace,
    POD: parse_pod,
}
# Bounds the memory of "already warned about this object version" under a flood of bad objects.
_MAX_WARNED = 10_000


@dataclass(frozen=True, slots=True)
class ReflectorSettings:
    """Page size, watch length and retry backoff shared by a group of reflectors."""

    page_size: int = 500
    timeout_seconds: int = 300
    backoff_base: float = 0.5
    backoff_cap: float = 30.0


@dataclass(slots=True)
class ReflectorStats:
    """Counters of one reflector; written by its thread only, read by anyone."""

    lists: int = 0
    relists: int = 0
    watches: int = 0
    events: int = 0
    failures: int = 0
    skipped: int = 0


def backoff_delay(attempt: int, rng: random.Random, base: float = 0.5, cap: float = 30.0) -> float:
    """Delay before retry `attempt` (from 1): uniform(0, min(cap, base * 2**(attempt - 1)))."""
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    # Past 2**64 the doubling has long exceeded any cap, and float maths would overflow.
    ceiling = cap if attempt > 64 else min(cap, base * 2.0 ** (attempt - 1))
    return rng.uniform(0.0, ceiling)


class Reflector:
    """Mirrors one resource into the store from a daemon thread until `stop()`."""

    def __init__(
        self,
        source: KubeSource,
        resource: Resource,
        store: ObjectStore,
        *,
        on_change: Callable[[], None],
        on_synced: Callable[[], None] | None = None,
        settings: ReflectorSettings | None = None,
        rng: random.Random | None = None,
        clock: Clock | None = None,
        parsers: Mapping[str, Parser] | None = None,
    ) -> None:
        self.resource = resource
        self.synced = threading.Event()
        self.stats = ReflectorStats()
        self._source = source
        self._store = store
        parser = {**_PARSERS, **(parsers or {})}.get(resource.kind)
        if parser is None:
            raise ValueError(
                f"no parser for kind {resource.kind!r}; want one of {sorted(_PARSERS)}"
            )
        self._parser = parser
        self._on_change = on_change
        self._on_synced = on_synced
        self._settings = settings or ReflectorSettings()
        self._rng = rng or random.Random()
        self._clock = clock or SystemClock()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._stream: EventStream | None = None  # closed by signal_stop() to wake a blocked read
        self._thread: threading.Thread | None = None
        self._version = ""
        self._stream_events = 0
        self._outage = 0  # failed requests since the last success
        self._forbidden_logged = False
        self.last_error = ""  # the failure of the latest request, '' once one succeeds (/ready)
        self._warned: set[tuple[str, str, str]] = set()
        self._odd_types: set[str] = set()

    @property
    def resource_version(self) -> str:
        """The newest resourceVersion seen (list, event or bookmark); '' before the first list."""
        return self._version

    def start(self) -> None:
        """Start the daemon thread."""
        if self._thread is not None:
            raise RuntimeError(f"reflector for {self.resource.plural} already started")
        self._thread = threading.Thread(
            target=self._run, name=f"reflector-{self.resource.plural}", daemon=True
        )
        self._thread.start()

    def signal_stop(self) -> None:
        """Ask the thread to end: interrupts a backoff wait or a blocked watch read at once."""
        self._stop.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.close()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended (or never started)."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def stop(self, timeout: float | None = 5.0) -> bool:
        """Signal and wait; True when the thread ended within `timeout`."""
        self.signal_stop()
        return self.join(timeout)

    def _run(self) -> None:
        failures = 0
        need_list = True
        while not self._stop.is_set():
            try:
                if need_list:
                    self._relist()
                    need_list = False
                if self._watch():
                    failures = 0
                    continue
                if self._stop.is_set():
                    break
                # The server ended an empty stream early: retrying at once would spin.
                failures += 1
                logger.debug("%s: watch ended early without events", self.resource.plural)
            except GoneError as exc:
                if self._stop.is_set():
                    break
                need_list = True
                self.stats.relists += 1
                logger.info("%s: %s; relisting", self.resource.plural, exc.message)
                if self._stream_events or failures == 0:
                    failures = 1  # the first 410 after a healthy stream relists at once
                    continue
                failures += 1  # 410 again and again: relist, but not in a tight loop
            except KubeAPIError as exc:
                if self._stop.is_set():
                    break
                failures = 1 if self._stream_events else failures + 1
                self._log_failure(exc)
            except Exception:  # a bug here must not silently end the feed
                if self._stop.is_set():
                    break
                failures += 1
                self.stats.failures += 1
                logger.exception("%s: reflector error; retrying", self.resource.plural)
            delay = backoff_delay(
                failures, self._rng, self._settings.backoff_base, self._settings.backoff_cap
            )
            if self._stop.wait(delay):
                break

    def _relist(self) -> None:
        """List every page, then replace this kind in the store in one step."""
        self._stream_events = 0
        objects: list[ClusterObject] = []
        version = ""
        token = ""
        while True:
            page = self._source.list(self.resource, self._settings.page_size, token)
            # Every page of one list is a snapshot at the first page's resourceVersion.
            version = version or page.resource_version
            objects.extend(obj for obj in map(self._parse, page.items) if obj is not None)
            if not page.continue_token or self._stop.is_set():
                break
            token = page.continue_token
        if self._stop.is_set():
            return
        self._store.replace(self.resource.kind, objects)
        self._version = version
        self.stats.lists += 1
        self._recovered()
        self._notify()
        if not self.synced.is_set():
            logger.info("%s: synced %d objects", self.resource.plural, len(objects))
            self.synced.set()
            if self._on_synced is not None:
                self._on_synced()

    def _watch(self) -> bool:
        """Follow one stream; True when healthy (it delivered events or ran its full length)."""
        self._stream_events = 0
        started = self._clock.monotonic()
        timeout = self._settings.timeout_seconds
        stream = self._source.watch(self.resource, self._version, timeout)
        self.stats.watches += 1
        with self._lock:
            self._stream = stream
        try:
            if self._stop.is_set():
                return True
            for event in stream:
                self._handle(event)
                self._stream_events += 1
                if self._stop.is_set():
                    break
        finally:
            with self._lock:
                self._stream = None
            stream.close()
        healthy = self._stream_events > 0 or self._clock.monotonic() - started >= timeout / 2
        if healthy:
            self._recovered()
        return healthy

    def _handle(self, event: JsonObject) -> None:
        """Apply one watch event to the store and advance the resourceVersion."""
        kind = event.get("type")
        obj = event.get("object")
        if not isinstance(obj, dict):
            raise ApiRequestError(f"watch {self.resource.plural}: event without an object")
        if kind == "ERROR":
            raise _event_error(self.resource, obj)
        if kind in ("ADDED", "MODIFIED"):
            parsed = self._parse(obj)
            if parsed is not None:
                self._store.apply(parsed)
            else:
                self._remove(obj)  # the object no longer serves DNS: drop its old version
        elif kind == "DELETED":
            self._remove(obj)
        elif kind != "BOOKMARK":
            if str(kind) not in self._odd_types:
                self._odd_types.add(str(kind))
                logger.warning("%s: ignoring watch events of type %r", self.resource.plural, kind)
            return
        self.stats.events += 1
        version = _metadata(obj, "resourceVersion")
        if version:
            self._version = version
        if kind != "BOOKMARK":
            self._notify()

    def _parse(self, raw: JsonObject) -> ClusterObject | None:
        """The slim object, or None (logged once per object version) when DNS cannot use it."""
        try:
            return self._parser(raw)
        except ObjectError as exc:
            self._skip(raw, exc.field, exc.problem)
        except Exception as exc:  # a parser bug must cost one object, not the whole feed
            logger.debug("%s: parser failure", self.resource.plural, exc_info=True)
            self._skip(raw, "?", f"{type(exc).__name__}: {exc}")
        return None

    def _skip(self, raw: JsonObject, field: str, problem: str) -> None:
        self.stats.skipped += 1
        namespace = _metadata(raw, "namespace")
        name = _metadata(raw, "name")
        key = (namespace, name, _metadata(raw, "resourceVersion"))
        if key in self._warned:
            return
        if len(self._warned) >= _MAX_WARNED:
            self._warned.clear()
        self._warned.add(key)
        where = f"{namespace}/{name}" if namespace else name
        logger.warning("skipping %s %s: %s: %s", self.resource.kind, where, field, problem)

    def _remove(self, raw: JsonObject) -> None:
        # Lowercased and defaulted as the parsers name objects, so the key matches.
        name = _metadata(raw, "name").lower()
        if name:
            namespace = (_metadata(raw, "namespace") or "default").lower()
            self._store.remove(self.resource.kind, namespace, name)

    def _notify(self) -> None:
        try:
            self._on_change()
        except Exception:  # the callback is the app's; its failure must not stop the feed
            logger.exception("%s: on_change callback failed", self.resource.plural)

    def _log_failure(self, exc: KubeAPIError) -> None:
        """One line per outage (and one per outage for 403), debug lines for the retries."""
        self.stats.failures += 1
        self._outage += 1
        self.last_error = str(exc)
        status = exc.status if isinstance(exc, ApiRequestError) else None
        state = "serving the last good data" if self.synced.is_set() else "not ready yet"
        if status == 403:
            if not self._forbidden_logged:
                self._forbidden_logged = True
                logger.error("%s (%s; retrying)", exc, state)
        elif self._outage == 1:
            logger.warning("%s (%s; retrying with backoff)", exc, state)
        else:
            logger.debug("%s: still failing: %s", self.resource.plural, exc)

    def _recovered(self) -> None:
        if self._outage:
            logger.info(
                "%s: API reachable again after %d failed attempts",
                self.resource.plural,
                self._outage,
            )
        self._outage = 0
        self._forbidden_logged = False
        self.last_error = ""


class Reflectors:
    """One reflector per resource over one source and store, started and stopped together."""

    def __init__(
        self,
        source: KubeSource,
        store: ObjectStore,
        resources: Sequence[Resource] = RESOURCES,
        *,
        on_change: Callable[[], None],
        on_synced: Callable[[], None] | None = None,
        settings: ReflectorSettings | None = None,
        rng: random.Random | None = None,
        clock: Clock | None = None,
        parsers: Mapping[str, Parser] | None = None,
    ) -> None:
        self.all_synced = threading.Event()
        self._on_synced = on_synced
        self._lock = threading.Lock()
        self._pending = {resource.plural for resource in resources}
        shared_rng = rng or random.Random()
        self.reflectors = tuple(
            Reflector(
                source,
                resource,
                store,
                on_change=on_change,
                on_synced=self._synced_callback(resource.plural),
                settings=settings,
                rng=shared_rng,
                clock=clock,
                parsers=parsers,
            )
            for resource in resources
        )
        if not self._pending:
            self.all_synced.set()

    def start(self) -> None:
        """Start every reflector."""
        for reflector in self.reflectors:
            reflector.start()

    def stop(self, timeout: float | None = 5.0) -> bool:
        """Stop every reflector at once; True when all threads ended within `timeout` each."""
        for reflector in self.reflectors:
            reflector.signal_stop()
        return all([reflector.join(timeout) for reflector in self.reflectors])

    def _synced_callback(self, plural: str) -> Callable[[], None]:
        def synced() -> None:
            with self._lock:
                self._pending.discard(plural)
                done = not self._pending and not self.all_synced.is_set()
                if done:
                    self.all_synced.set()
            if done:
                logger.info("all watched resources synced")
                if self._on_synced is not None:
                    self._on_synced()

        return synced


def _metadata(raw: JsonObject, key: str) -> str:
    metadata = raw.get("metadata")
    value = metadata.get(key) if isinstance(metadata, dict) else None
    return value if isinstance(value, str) else ""


def _event_error(resource: Resource, status: JsonObject) -> ApiRequestError:
    """The error an ERROR event carries (its object is a Status)."""
    code = status.get("code")
    message = status.get("message")
    text = " ".join(message.split()) if isinstance(message, str) else "no message"
    if code == 410:
        return GoneError(f"watch {resource.plural}: ERROR event 410 Gone: {text}")
    number = code if isinstance(code, int) and not isinstance(code, bool) else None
    return ApiRequestError(f"watch {resource.plural}: ERROR event {code}: {text}", number)
