"""The `kubernetes` plugin: answers from the current zone snapshot, fed by its source."""

import socket

from clusterdns.dns.records import CLASS_IN, Rcode
from clusterdns.plugin import Next, Request, Response, SetupContext
from clusterdns.plugins.kubernetes.answer import answer, answer_scope, changed_scopes
from clusterdns.plugins.kubernetes.metrics import KubernetesMetrics
from clusterdns.plugins.kubernetes.setup import KubernetesConfig
from clusterdns.plugins.kubernetes.snapshot import SnapshotHolder, ZoneSnapshot
from clusterdns.plugins.kubernetes.source import LiveSource, ManifestSource
from clusterdns.plugins.kubernetes.store import Changes, ObjectStore


class KubernetesPlugin:
    """Handler, lifecycle and readiness of one `kubernetes` stanza."""

    name = "kubernetes"

    def __init__(self, config: KubernetesConfig, context: SetupContext) -> None:
        if not config.ns_addresses:
            config = _with_ns_addresses(config, context.listen)
        self.config = config
        self.holder = SnapshotHolder()
        self.store = ObjectStore()
        self._zone_changed = context.zone_changed
        self.holder.subscribe(self._published)
        self.source: ManifestSource | LiveSource
        if config.manifests:
            self.source = ManifestSource(config.manifests, self.store, self.holder, context.clock)
        else:
            metrics = context.shared.get(
                "kubernetes.metrics", KubernetesMetrics, lambda: KubernetesMetrics(context.registry)
            )
            self.source = LiveSource(
                config, self.store, self.holder, context.clock, metrics, context.shared
            )

    async def serve(self, request: Request, next: Next) -> Response:
        """Answer names in our zones; everything else (and fallthrough) goes to `next`."""
        query = request.query
        if query.qclass != CLASS_IN:
            return await next(request)
        result = answer(self.holder.current, self.config, query.name, query.qtype)
        if result is None:
            return await next(request)
        # A SERVFAIL before the first sync must not outlive it in the pre-encoded answers.
        return Response(
            self.name,
            answer=result,
            cacheable=result.rcode != Rcode.SERVFAIL,
            scope=answer_scope(self.config, query.name),
        )

    async def start(self) -> None:
        """Start the source (publishes the zone, or starts watching)."""
        await self.source.start()

    async def stop(self) -> None:
        """Stop the source."""
        await self.source.stop()

    def ready(self) -> bool:
        """True once every watched resource has listed once (CoreDNS: HasSynced)."""
        return self.holder.current.synced

    def _published(self, snapshot: ZoneSnapshot, changes: Changes | None) -> None:
        self._zone_changed(None if changes is None else changed_scopes(changes))


def _with_ns_addresses(config: KubernetesConfig, listen: tuple[str, ...]) -> KubernetesConfig:
    """ns.dns.<zone> answers with the bound addresses, else this host's (CoreDNS: local IPs)."""
    from dataclasses import replace
    from ipaddress import ip_address

    specific = tuple(a for a in listen if not ip_address(a).is_unspecified)
    if specific:
        return replace(config, ns_addresses=specific)
    try:
        own = socket.gethostbyname(socket.gethostname())
    except OSError:
        own = "127.0.0.1"
    return replace(config, ns_addresses=(own if not ip_address(own).is_loopback else "127.0.0.1",))
