"""ZoneFeed: store changes become published snapshots; a replaced snapshot is let go at once."""

import asyncio
import sys

from clusterdns.plugins.kubernetes.feed import ZoneFeed
from clusterdns.plugins.kubernetes.objects import Endpoint, EndpointSlice, Namespace, Service
from clusterdns.plugins.kubernetes.snapshot import SnapshotHolder, ZoneSnapshot
from clusterdns.plugins.kubernetes.store import Changes, ObjectStore
from tests.fakes.plugins import FakeClock


class Published:
    """Every snapshot the holder publishes, and an event per publish."""

    def __init__(self, holder: SnapshotHolder) -> None:
        self.snapshots: list[ZoneSnapshot] = []
        self._arrived = asyncio.Event()
        holder.subscribe(self._on_publish)

    def _on_publish(self, snapshot: ZoneSnapshot, changes: Changes | None) -> None:
        self.snapshots.append(snapshot)
        self._arrived.set()

    async def next(self) -> ZoneSnapshot:
        """Wait (5 s at most) for the next publish and hand its snapshot over."""
        await asyncio.wait_for(self._arrived.wait(), 5.0)
        self._arrived.clear()
        return self.snapshots.pop()


async def test_a_replaced_snapshot_is_not_kept_while_the_cluster_is_quiet() -> None:
    store = ObjectStore()
    store.apply(Namespace("prod"))
    store.apply(Service("prod", "web", "ClusterIP", ("10.96.0.1",), ()))
    holder = SnapshotHolder()
    published = Published(holder)
    feed = ZoneFeed(store, holder, FakeClock(), batch_window=0.0)
    feed.start()
    try:
        feed.mark_synced()
        feed.notify()
        first = await published.next()
        assert first.synced and list(first.services) == [("prod", "web")]

        store.apply(EndpointSlice("prod", "web-1", "web", (Endpoint("10.1.0.1", True),), ()))
        feed.notify()
        second = await published.next()
        assert holder.current is second and "10.1.0.1" in second.endpoint_ip_index
        # The feed waits for the next change now. Only this test's `first` (and getrefcount's
        # argument) refer to the replaced snapshot: the feed holds no second zone meanwhile.
        assert sys.getrefcount(first) == 2
    finally:
        await feed.stop()
