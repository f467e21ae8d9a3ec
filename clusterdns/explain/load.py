"""Explain's IO edge: the servers a Corefile sets up, and the cluster objects read once.

The Corefile (given, or made from `serve`'s flags) is set up by the same code the server
runs, nothing started: no socket is bound and no watch begins. The kubernetes plugin's
objects are then read once (its manifests, or one paginated list of each resource it would
watch) and published into its own snapshot holder, so answers come from the server's code.
"""

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from clusterdns.app import App
from clusterdns.assembly import Server
from clusterdns.clock import Clock
from clusterdns.errors import ObjectError
from clusterdns.plugin import Lifecycle
from clusterdns.plugins.kubernetes.handler import KubernetesPlugin
from clusterdns.plugins.kubernetes.objects import ClusterObject, parse_object
from clusterdns.plugins.kubernetes.snapshot import ZoneSnapshot
from clusterdns.plugins.kubernetes.source import ManifestSource, publish_objects

if TYPE_CHECKING:
    from clusterdns.plugins.kubernetes.client import KubeSource, Resource

PAGE_SIZE = 500
# Plugins `--send` leaves stopped: the kubernetes plugin already holds the listed objects
# (starting it would begin watching), and loop and reload act on a running process.
NOT_STARTED = ("kubernetes", "loop", "reload")


@dataclass
class Target:
    """The servers of one Corefile, nothing started, with the kubernetes objects loaded."""

    app: App
    server: Server
    kubernetes: KubernetesPlugin | None
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def snapshot(self) -> ZoneSnapshot | None:
        """The zone as the kubernetes plugin would serve it."""
        return self.kubernetes.holder.current if self.kubernetes is not None else None


def load_target(
    corefile: str,
    filename: str,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
) -> Target:
    """Set up `corefile` and load its kubernetes objects once.

    Raises ConfigError for a bad Corefile or source, KubeAPIError when the API cannot be read.
    """
    app = App(corefile, filename, clock=clock, environ=environ)
    server, plugin = _kubernetes(app.servers)
    target = Target(app, server, plugin)
    if plugin is None:
        return target
    source = plugin.source
    if isinstance(source, ManifestSource):
        objects: Sequence[ClusterObject] = source.objects
    else:
        resources = [r.resource for r in source.reflectors.reflectors]
        objects, target.warnings = list_once(
            source.client, resources, plugin.config.endpoint_pod_names
        )
        source.client.close()
    publish_objects(plugin.store, plugin.holder, objects, int(app.clock.wall()))
    target.source = (
        source.description
        if isinstance(source, ManifestSource)
        else f"{len(objects)} objects listed once from {source.description}"
    )
    return target


def _kubernetes(servers: list[Server]) -> tuple[Server, KubernetesPlugin | None]:
    """The first kubernetes plugin and its server; else the first server."""
    for server in servers:
        for name, plugin in server.plugins:
            if name == "kubernetes" and isinstance(plugin, KubernetesPlugin):
                return server, plugin
    return servers[0], None


def list_once(
    client: "KubeSource", resources: Iterable["Resource"], pod_names: bool = False
) -> tuple[list[ClusterObject], list[str]]:
    """Every object of `resources`, one paginated list each (no watch), and skip warnings."""
    objects: list[ClusterObject] = []
    warnings: list[str] = []
    for resource in resources:
        token = ""
        while True:
            page = client.list(resource, PAGE_SIZE, token)
            for raw in page.items:
                try:
                    parsed = parse_object({**raw, "kind": resource.kind}, pod_names)
                except ObjectError as exc:
                    warnings.append(f"skipping {resource.kind} {_where(raw)}: {exc}")
                    continue
                if parsed is not None:
                    objects.append(parsed)
            if not page.continue_token:
                break
            token = page.continue_token
    return objects, warnings


def _where(raw: Mapping[str, object]) -> str:
    metadata = raw.get("metadata")
    if not isinstance(metadata, dict):
        return "?"
    name = str(metadata.get("name", "?"))
    namespace = metadata.get("namespace")
    return f"{namespace}/{name}" if namespace else name


async def through_chain(target: Target, wire: bytes) -> tuple[bytes | None, str]:
    """`wire` through the target's server as a TCP query, no plugin started.

    Returns the reply and the plugin that answered, as the server counts it in
    `coredns_dns_responses_total{plugin}`. For names the kubernetes plugin answers on its own,
    this is the server's exact reply (cache capping TTLs, loadbalance, encoding) and nothing
    leaves the process.
    """
    from clusterdns.server.dispatch import Dispatcher
    from clusterdns.server.metrics import ServerCounters

    counters = ServerCounters("explain")
    dispatcher = Dispatcher(target.server.blocks, counters=counters)
    reply = await dispatcher.handle(wire, "tcp", ("127.0.0.1", 0))
    answered = [plugin for _zone, _rcode, plugin in counters.responses]
    return reply, answered[0] if answered else ""


async def send(target: Target, wire: bytes) -> bytes | None:
    """`wire` through the target's server as a TCP query: the real chain, upstreams asked."""
    from clusterdns.server.dispatch import Dispatcher

    started = [
        plugin
        for name, plugin in target.server.plugins
        if name not in NOT_STARTED and isinstance(plugin, Lifecycle)
    ]
    for plugin in started:
        await plugin.start()
    try:
        dispatcher = Dispatcher(target.server.blocks)
        return await dispatcher.handle(wire, "tcp", ("127.0.0.1", 0))
    finally:
        for plugin in started:
            await plugin.stop()


def send_sync(target: Target, wire: bytes) -> bytes | None:
    """`send` on a fresh event loop."""
    return asyncio.run(send(target, wire))
