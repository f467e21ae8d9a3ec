"""The live zone feed: coalesces store changes into snapshot rebuilds off the loop, then publishes.

Reflector threads call `notify()` after each batch of store changes. One task on the event loop
waits for that signal, takes every change made so far, builds the next snapshot in a worker
thread and publishes it with one reference swap. It first waits a short batch window, so a
burst of 1,000 events costs a few rebuilds, not 1,000.
"""

import asyncio
import logging

from clusterdns.clock import Clock
from clusterdns.plugins.kubernetes.metrics import KubernetesMetrics
from clusterdns.plugins.kubernetes.snapshot import SnapshotHolder, ZoneSnapshot, build_snapshot
from clusterdns.plugins.kubernetes.store import Changes, ObjectStore

logger = logging.getLogger(__name__)


class ZoneFeed:
    """Turns store changes into published snapshots; synced once every resource has listed."""

    def __init__(
        self,
        store: ObjectStore,
        holder: SnapshotHolder,
        clock: Clock,
        metrics: KubernetesMetrics | None = None,
        batch_window: float = 0.01,
    ) -> None:
        self.store = store
        self.holder = holder
        self.clock = clock
        self.metrics = metrics
        # After the first change of a burst, wait this long so the rest joins the same rebuild.
        self.batch_window = batch_window
        self.rebuilds = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._synced = False
        self._oldest_change: float | None = None
        self._whole = True  # the first build, and the one after a failed build, start afresh
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the rebuild task on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run())

    async def stop(self) -> None:
        """Stop the rebuild task."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def notify(self) -> None:
        """Thread-safe: the store changed; schedule a rebuild."""
        now = self.clock.monotonic()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._mark, now)

    def mark_synced(self) -> None:
        """Thread-safe: every resource has completed its first list."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._set_synced)

    def _set_synced(self) -> None:
        self._synced = True
        self._wake.set()

    def _mark(self, when: float) -> None:
        if self._oldest_change is None:
            self._oldest_change = when
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._synced:
                continue  # names stay SERVFAIL until every resource listed once (CoreDNS)
            if self.batch_window > 0:
                await asyncio.sleep(self.batch_window)
            await self._rebuild()

    async def _rebuild(self) -> None:
        """Build and publish the next snapshot from every change made so far.

        A method of its own so that its locals, the replaced snapshot among them, are gone
        before `_run` waits again: holding it until the next change kept a second zone alive
        (9 MiB at 100k Services) for as long as the cluster stayed quiet.
        """
        started = self._oldest_change
        self._oldest_change = None
        previous = self.holder.current
        changes = self.store.take_changes()
        whole, self._whole = self._whole, False
        try:
            snapshot = await asyncio.to_thread(self._build, previous, changes, whole)
        except Exception:
            # A failed rebuild never stops the feed: the last good zone stays. The changes it
            # took are not lost: the next change rebuilds from the whole store.
            logger.exception("rebuilding the zone snapshot failed; serving the previous one")
            self._whole = True
            return
        self.holder.publish(snapshot, None if whole else changes)
        self.rebuilds += 1
        if not previous.synced:
            logger.info(
                "zone ready: %d services in %d namespaces",
                len(snapshot.services),
                len(snapshot.namespaces),
            )
        if started is not None and not whole:
            self._observe(snapshot, changes, self.clock.monotonic() - started)

    def _build(self, previous: ZoneSnapshot, changes: Changes, whole: bool) -> ZoneSnapshot:
        serial = int(self.clock.wall())
        if whole:
            return build_snapshot(self.store, None, None, serial, True)
        return build_snapshot(self.store, previous, changes, serial, True)

    def _observe(self, snapshot: ZoneSnapshot, changes: Changes, delay: float) -> None:
        """CoreDNS's service_kind labels, for each Service whose answers changed."""
        if self.metrics is None:
            return
        for key in changes.services:
            entry = snapshot.services.get(key)
            service = entry.service if entry is not None else None
            if service is None or service.type == "ExternalName":
                continue
            if not service.headless:
                kind = "cluster_ip"
            else:
                kind = "headless_with_selector" if service.selector else "headless_without_selector"
            self.metrics.programming_duration.labels(kind).observe(delay)
