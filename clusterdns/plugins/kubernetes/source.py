"""Where the store's objects come from: manifest files read once, or the live API watched."""

import asyncio
import gc
import logging
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from clusterdns.clock import Clock
from clusterdns.errors import ConfigError
from clusterdns.plugin import Shared
from clusterdns.plugins.kubernetes.feed import ZoneFeed
from clusterdns.plugins.kubernetes.metrics import KubernetesMetrics
from clusterdns.plugins.kubernetes.objects import (
    ENDPOINT_SLICE,
    ENDPOINTS,
    NAMESPACE,
    POD,
    SERVICE,
    ClusterObject,
    Namespace,
    Service,
    parse_endpoint_slice,
)
from clusterdns.plugins.kubernetes.options import KubernetesConfig
from clusterdns.plugins.kubernetes.snapshot import SnapshotHolder, ZoneSnapshot, build_snapshot
from clusterdns.plugins.kubernetes.store import Changes, ObjectStore, kind_of

logger = logging.getLogger(__name__)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
ALL_KINDS = (NAMESPACE, SERVICE, ENDPOINT_SLICE, ENDPOINTS, POD)


def manifest_files(paths: Iterable[str]) -> list[Path]:
    """The files named, and the YAML/JSON files inside folders named (sorted, recursive)."""
    files: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in MANIFEST_SUFFIXES))
        elif path.exists():
            files.append(path)
        else:
            raise ConfigError(f"{text}: no such file or folder")
    return files


def load_manifests(paths: Iterable[str], pod_names: bool = False) -> list[ClusterObject]:
    """Every object in the manifests; ConfigError listing one line per bad document.

    Manifest mode has no API server to create namespaces, so a namespace exists when any
    object lives in it; objects of other kinds are skipped, and names the API server would
    reject are skipped with a warning each (see `manifests.parse_manifests`).
    """
    # Imported here: the YAML parser (1 MiB of RSS) is for manifests; a pod watching the API
    # never loads it.
    from clusterdns.plugins.kubernetes.manifests import parse_manifest_file

    names = ", ".join(paths)
    files = manifest_files(paths)
    objects: list[ClusterObject] = []
    problems: list[str] = []
    skipped: Counter[str] = Counter()
    namespaces: set[str] = set()
    for path in files:
        try:
            parsed = parse_manifest_file(path, pod_names)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot read: {exc}")
            continue
        objects.extend(parsed.objects)
        problems.extend(str(error) for error in parsed.errors)
        for rejected in parsed.rejected:
            logger.warning("%s; object skipped", rejected)
        skipped.update(parsed.skipped)
        namespaces.update(parsed.namespaces)
    if problems:
        raise ConfigError("\n".join(problems))
    _report_skipped(skipped)
    objects.extend(_inferred_namespaces(objects, namespaces))
    if not files:
        logger.warning("manifests: no .yaml, .yml or .json files in %s: the zone is empty", names)
    elif not any(isinstance(obj, Service) for obj in objects):
        logger.warning("manifests: no Services in %s: every Service name is NXDOMAIN", names)
    return objects


def _report_skipped(skipped: Counter[str]) -> None:
    """One line for every object of a kind without DNS data."""
    if skipped:
        counts = ", ".join(f"{kind} {count}" for kind, count in sorted(skipped.items()))
        logger.info(
            "manifests: skipped %d objects of kinds without DNS data: %s",
            skipped.total(),
            counts,
        )


def _inferred_namespaces(objects: list[ClusterObject], seen: set[str]) -> list[Namespace]:
    """A Namespace for every namespace objects live in without a Namespace object (one log)."""
    declared = {obj.name for obj in objects if isinstance(obj, Namespace)}
    missing = sorted(seen - declared)
    if missing:
        shown = ", ".join(missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        logger.info(
            "manifests: namespaces without a Namespace object exist because objects live in"
            " them: %s",
            shown,
        )
    return [Namespace(sys.intern(name)) for name in missing]


def publish_objects(
    store: ObjectStore, holder: SnapshotHolder, objects: Iterable[ClusterObject], serial: int
) -> None:
    """Make `objects` the whole cluster in `store` and publish the synced snapshot."""
    by_kind: dict[str, list[ClusterObject]] = {kind: [] for kind in ALL_KINDS}
    for obj in objects:
        by_kind[kind_of(obj)].append(obj)
    for kind, items in by_kind.items():
        store.replace(kind, items)
    store.take_changes()
    holder.publish(build_snapshot(store, None, None, serial, synced=True))


class ManifestSource:
    """Objects read from manifest files at setup (so bad files fail start-up or the reload)."""

    def __init__(
        self,
        paths: tuple[str, ...],
        store: ObjectStore,
        holder: SnapshotHolder,
        clock: Clock,
        pod_names: bool = False,
    ) -> None:
        with gc_paused():
            self.objects = load_manifests(paths, pod_names)
        self.store = store
        self.holder = holder
        self.clock = clock
        self.description = f"{len(self.objects)} objects from {', '.join(paths)}"

    async def start(self) -> None:
        """Publish the zone, then drop the list: the store holds the objects from now on."""
        with gc_paused():
            publish_objects(self.store, self.holder, self.objects, int(self.clock.wall()))
        self.objects = []
        freeze_after_sync()

    async def stop(self) -> None:
        """Nothing runs."""


class LiveSource:
    """The API watched by one reflector per resource, feeding coalesced snapshot rebuilds."""

    def __init__(
        self,
        config: KubernetesConfig,
        store: ObjectStore,
        holder: SnapshotHolder,
        clock: Clock,
        metrics: KubernetesMetrics,
        shared: Shared,
        environ: Mapping[str, str],
    ) -> None:
        # Imported here: the kubernetes client costs 12 MiB of RSS (19 with a kubeconfig) and
        # 0.25 s, which manifest-only runs never pay.
        from clusterdns.plugins.kubernetes.client import (
            ENDPOINT_SLICES,
            NAMESPACES,
            PODS,
            SERVICES,
            KubeClient,
            load_api_config,
        )
        from clusterdns.plugins.kubernetes.reflector import Reflectors, ReflectorSettings

        token = _read_secret(config.token_file) if config.token_file else None
        api = load_api_config(
            config.kubeconfig or None,
            config.context or None,
            config.endpoint or None,
            token,
            config.ca_file or None,
            config.insecure,
            environ=environ,
        )
        resources = [
            replace(SERVICES, label_selector=config.labels),
            replace(NAMESPACES, label_selector=config.namespace_labels),
        ]
        if not config.noendpoints:
            resources.append(replace(ENDPOINT_SLICES, label_selector=config.labels))
        if config.pods == "verified":
            resources.append(PODS)
        self.client = KubeClient(api)
        self.feed = ZoneFeed(store, holder, clock, metrics)
        self.reflectors = Reflectors(
            self.client,
            store,
            tuple(resources),
            on_change=self.feed.notify,
            on_synced=self.feed.mark_synced,
            clock=clock,
            # Page size, watch length and backoff: tests shorten them through `shared`.
            settings=shared.get("kubernetes.reflector", ReflectorSettings, ReflectorSettings),
            parsers=_pod_name_parsers() if config.endpoint_pod_names else None,
        )
        self.description = f"{api.source} ({api.host})"
        self._frozen = False
        holder.subscribe(self._after_publish)

    def _after_publish(self, snapshot: ZoneSnapshot, changes: Changes | None) -> None:
        if snapshot.synced and not self._frozen:
            self._frozen = True
            freeze_after_sync()

    def waiting(self) -> str:
        """What the first sync still waits for, with each resource's latest failure."""
        pending = []
        for reflector in self.reflectors.reflectors:
            if not reflector.synced.is_set():
                error = reflector.last_error
                pending.append(reflector.resource.plural + (f" ({error})" if error else ""))
        if not pending:
            return "building the first zone"
        return "waiting for the first list of " + "; ".join(pending)

    async def start(self) -> None:
        """Start the rebuild task and the reflector threads."""
        self.feed.start()
        self.reflectors.start()

    async def stop(self) -> None:
        """Stop watching; the last zone stays published."""
        await asyncio.to_thread(self.reflectors.stop)
        self.client.close()
        await self.feed.stop()


def _pod_name_parsers() -> Mapping[str, Callable[[Mapping[str, Any]], ClusterObject | None]]:
    """Slice parsing that keeps each endpoint's Pod name (`endpoint_pod_names`)."""
    return {ENDPOINT_SLICE: partial(parse_endpoint_slice, pod_names=True)}


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block without the cyclic GC, then restore it as it was.

    Loading 100k Services makes millions of short-lived dicts and long-lived slim objects,
    none in reference cycles: reference counting frees all the garbage, and the collector's
    passes over the growing heap only cost time (~0.7 s of 6 s at 100k).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def freeze_after_sync() -> None:
    """Keep the cyclic GC from rescanning the first full zone; call once per source.

    A full collection over a million long-lived objects (100k Services) stalls the loop
    for ~0.3 s. Frozen objects are still freed by reference counting when replaced, and
    zone objects hold no cycles.
    """
    gc.freeze()


def _read_secret(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"token file {path}: cannot read: {exc}") from None
