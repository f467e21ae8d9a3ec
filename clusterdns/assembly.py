"""From a parsed Corefile to servers: one chain per server block, the blocks grouped by port."""

import logging
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, replace
from typing import cast

from clusterdns.chain import Chain
from clusterdns.clock import Clock
from clusterdns.corefile.addresses import block_addresses, listen_addresses
from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import Corefile, ServerBlock
from clusterdns.dns.names import longest_zone
from clusterdns.dns.records import Answer, Rcode
from clusterdns.plugin import (
    Aimed,
    AwaitsReady,
    Handler,
    Lameduck,
    Lifecycle,
    Linked,
    Request,
    Response,
    SetupContext,
    TcpTuning,
)
from clusterdns.registry import REPEATABLE, SPECIAL, RepeatedSetup, load_setup
from clusterdns.server.connections import TcpLimits
from clusterdns.server.dispatch import ZoneChain
from clusterdns.server.listener import ListenAddress, Listener
from clusterdns.server.metrics import ServerCounters, server_label

logger = logging.getLogger(__name__)

# Answers that must be seen by a plugin on every query: no pre-encoded replies then. (`log`
# is not one: it attaches an observer to the answers it logged, told of every hit.)
BYPASSES_HOT_PATH = ("acl",)  # acl: each client may get a different answer


@dataclass
class Server:
    """One `dns://:PORT`: its routed blocks, its plugins and their lifecycle, its listener."""

    port: int
    addresses: tuple[str, ...]
    blocks: list[ZoneChain]
    plugins: list[tuple[str, object]]
    counters: ServerCounters
    hot_path: bool = True
    listener: Listener | None = None  # once listening (a reload hands a kept one over)

    @property
    def listen_address(self) -> ListenAddress:
        """What pairs this server with a listener across reloads: port and bind addresses."""
        return ListenAddress(self.port, self.addresses)

    def named(self, name: str) -> list[object]:
        """The plugins of directive `name`, in block order."""
        return [plugin for directive, plugin in self.plugins if directive == name]

    async def lookup(self, request: Request) -> Response:
        """`request` through this server's chains from the top, routed by longest zone."""
        zones = tuple(zone for block in self.blocks for zone in block.zones)
        zone = longest_zone(request.query.name, zones)
        for block in self.blocks:
            if zone in block.zones:
                return await block.chain.serve(request)
        return Response("", answer=Answer(Rcode.REFUSED))

    def zone_changed(self, scopes: Iterable[Hashable] | None) -> None:
        """Drop pre-encoded answers under `scopes` (None: all) in the listener's stores."""
        if self.listener is not None:
            self.listener.zone_changed(scopes)

    def tcp_limits(self, limits: TcpLimits) -> TcpLimits:
        """`limits` as this server's `timeouts` stanzas set them (the last wins, as CoreDNS)."""
        for _, plugin in self.plugins:
            if isinstance(plugin, TcpTuning):
                limits = plugin.tune_tcp(limits)
        return limits

    async def listen(self, limits: TcpLimits, clock: Clock) -> Listener:
        """Bind this server's sockets (ConfigError if it cannot) and keep the listener."""
        self.listener = await Listener.open(
            self.listen_address,
            self.blocks,
            self.counters,
            pre_encode=self.hot_path,
            limits=self.tcp_limits(limits),
            clock=clock,
        )
        return self.listener

    def take_over(self, listener: Listener) -> None:
        """Use a running listener of the same address: its stores and counters carry over."""
        self.listener = listener
        self.counters = listener.counters

    def serve_on_listener(self, limits: TcpLimits) -> None:
        """Make the listener route to this server's chains (the swap of a reload)."""
        if self.listener is not None:
            self.listener.adopt(
                self.blocks, pre_encode=self.hot_path, limits=self.tcp_limits(limits)
            )

    async def start_plugins(self) -> None:
        """Tell plugins where the server listens, then start those with a lifecycle."""
        bound = self.listener.bound[0] if self.listener and self.listener.bound else None
        for _, plugin in self.plugins:
            if isinstance(plugin, Aimed) and bound is not None:
                plugin.aim(bound)
            if isinstance(plugin, Lifecycle):
                await plugin.start()

    async def stop_plugins(self) -> None:
        """Stop every plugin with a lifecycle."""
        for _, plugin in self.plugins:
            if isinstance(plugin, Lifecycle):
                await plugin.stop()

    def awaited(self) -> list[AwaitsReady]:
        """The plugins a reload must wait for before swapping this server in."""
        return [plugin for _, plugin in self.plugins if isinstance(plugin, AwaitsReady)]

    @property
    def lameduck(self) -> float:
        """The longest time a plugin asks to keep answering after SIGTERM."""
        return max((p.lameduck for _, p in self.plugins if isinstance(p, Lameduck)), default=0.0)


def build_servers(corefile: Corefile, process: SetupContext, default_port: int) -> list[Server]:
    """Set up every plugin of every block and group the blocks into servers by port.

    `process` holds what every setup shares (registry, clock, chance, files, env, shared
    objects); each block's setups get it with their own zones and server filled in.
    """
    servers: dict[int, Server] = {}
    for block in corefile.blocks:
        addresses = block_addresses(block, default_port)
        port = addresses[0].port
        zones = tuple(dict.fromkeys(a.zone for a in addresses))
        bound = listen_addresses(block)
        listen = bound or ("0.0.0.0",)
        server = servers.get(port)
        if server is None:
            counters = ServerCounters(server_label(port, bound))
            server = servers[port] = Server(port, listen, [], [], counters)
        elif server.addresses != listen:
            raise CorefileError(
                block.file,
                block.line,
                f"port {port}: every block on a port must bind the same "
                f"addresses, got {', '.join(listen)} and {', '.join(server.addresses)}",
            )
        server.blocks.append(ZoneChain(zones, _chain(block, zones, server, process)))
    return list(servers.values())


def _chain(
    block: ServerBlock, zones: tuple[str, ...], server: Server, process: SetupContext
) -> Chain:
    context = replace(
        process,
        zones=zones,
        zone_changed=server.zone_changed,
        server=server.counters.server,
        listen=server.addresses,
        lookup=server.lookup,
    )
    handlers: list[Handler] = []
    seen: dict[str, object] = {}
    for directive in block.directives:
        if directive.name in SPECIAL:
            continue
        if directive.name in seen and directive.name in REPEATABLE:
            continue
        if directive.name in seen:
            raise CorefileError(
                directive.file,
                directive.line,
                f"{directive.name}: this plugin can only be used once per server block",
            )
        setup = load_setup(directive.name, directive)
        if directive.name in REPEATABLE:
            repeated = tuple(d for d in block.directives if d.name == directive.name)
            plugin = cast(RepeatedSetup, setup)(repeated, context)
        else:
            plugin = setup(directive, context)
        seen[directive.name] = plugin
        server.plugins.append((directive.name, plugin))
        if directive.name in BYPASSES_HOT_PATH:
            server.hot_path = False
        if isinstance(plugin, Handler):  # setup-only plugins (health, reload, ...) have no serve
            handlers.append(plugin)
    for plugin in seen.values():
        if isinstance(plugin, Linked):  # k8s_external, autopath: after the whole block is set up
            plugin.link(seen)
    return Chain(handlers)
