"""From a parsed Corefile to servers: the directive registry, one chain per block, by port."""

import importlib
import random
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import cast

from prometheus_client import CollectorRegistry

from clusterdns.chain import Chain
from clusterdns.clock import Clock
from clusterdns.corefile.addresses import block_addresses
from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import Corefile, Directive, ServerBlock
from clusterdns.dns.names import longest_zone
from clusterdns.dns.records import Answer, Rcode
from clusterdns.plugin import (
    PLUGIN_ORDER,
    Handler,
    Linked,
    Request,
    Response,
    SetupContext,
    Shared,
)
from clusterdns.plugins.bind.setup import bind_addresses
from clusterdns.server.dispatch import ServerBlock as RoutedBlock
from clusterdns.server.hotpath import AnswerCache
from clusterdns.server.metrics import ServerCounters, server_label

# Directive → "module:function" of its setup. Modules are imported when a Corefile names
# them, so a Corefile without `kubernetes` never pays for the kubernetes client.
SETUPS: Mapping[str, str] = {
    "timeouts": "clusterdns.plugins.timeouts.setup:setup",
    "reload": "clusterdns.plugins.reload.setup:setup",
    "bufsize": "clusterdns.plugins.bufsize.setup:setup",
    "debug": "clusterdns.plugins.debug.setup:setup",
    "ready": "clusterdns.plugins.ready.setup:setup",
    "health": "clusterdns.plugins.health.setup:setup",
    "prometheus": "clusterdns.plugins.prometheus.setup:setup",
    "errors": "clusterdns.plugins.errors.setup:setup",
    "log": "clusterdns.plugins.log.setup:setup",
    "local": "clusterdns.plugins.local.setup:setup",
    "any": "clusterdns.plugins.any.setup:setup",
    "loadbalance": "clusterdns.plugins.loadbalance.setup:setup",
    "acl": "clusterdns.plugins.acl.setup:setup",
    "cache": "clusterdns.plugins.cache.setup:setup",
    "rewrite": "clusterdns.plugins.rewrite.setup:setup",
    "autopath": "clusterdns.plugins.autopath.setup:setup",
    "minimal": "clusterdns.plugins.minimal.setup:setup",
    "template": "clusterdns.plugins.template.setup:setup",
    "hosts": "clusterdns.plugins.hosts.setup:setup",
    "k8s_external": "clusterdns.plugins.k8s_external.setup:setup",
    "kubernetes": "clusterdns.plugins.kubernetes.setup:setup",
    "file": "clusterdns.plugins.file.setup:setup",
    "loop": "clusterdns.plugins.loop.setup:setup",
    "forward": "clusterdns.plugins.forward.setup:setup",
    "whoami": "clusterdns.plugins.whoami.setup:setup",
}
# CoreDNS directives clusterdns knows but does not run, and why: named in the error instead of
# "unknown directive", so a pasted Corefile fails with a reason.
NOT_SUPPORTED: Mapping[str, str] = {
    "root": "paths are taken as written (relative ones from the working directory)",
    "metadata": "no plugin here produces or reads request metadata",
    "geoip": "needs a MaxMind database reader; out of scope for cluster DNS",
    "cancel": "queries are not given deadlines through the chain",
    "proxyproto": "PROXY protocol headers are not parsed by the listeners",
    "quic": "only plain DNS over UDP and TCP is served",
    "grpc_server": "only plain DNS over UDP and TCP is served",
    "https": "only plain DNS over UDP and TCP is served",
    "https3": "only plain DNS over UDP and TCP is served",
    "tls": "only plain DNS over UDP and TCP is served",
    "multisocket": "each address is served by one UDP and one TCP socket",
    "nsid": "the reply encoder does not write EDNS options (RFC 5001 NSID)",
    "trace": "no OpenTracing/Zipkin exporter",
    "pprof": "Go profiling has no Python equivalent here",
    "shed": "no load shedding",
    "dnstap": "no dnstap (frame streams) output",
    "dns64": "no AAAA synthesis",
    "chaos": "CH-class queries are refused before the plugin chain; version.bind is not served",
    "tsig": "no TSIG signing or verification",
    "header": "no header-bit rewriting",
    "dnssec": "no DNSSEC signing",
    "transfer": "no zone transfers (AXFR/IXFR are refused)",
    "route53": "no cloud DNS back ends",
    "azure": "no cloud DNS back ends",
    "clouddns": "no cloud DNS back ends",
    "auto": "use `file` for each zone file",
    "secondary": "no zone transfers",
    "etcd": "no etcd back end (SkyDNS)",
    "grpc": "no DNS over gRPC upstreams; use forward",
    "erratic": "a test plugin",
    "on": "no Caddy event hooks",
    "sign": "no DNSSEC signing",
    "view": "no per-client views",
    "nomad": "no Nomad back end",
}
SPECIAL = ("bind",)  # read by the assembly itself, not a plugin instance
# Answers that must be seen by a plugin on every query: no pre-encoded replies then.
BYPASSES_HOT_PATH = ("log", "acl")  # acl: each client may get a different answer
# Directives a block may repeat: CoreDNS gives one plugin instance every occurrence, in order,
# so their setup is called once with all of them (a tuple of Directives).
REPEATABLE = ("rewrite", "template", "acl")

Setup = Callable[[Directive, SetupContext], object]
RepeatedSetup = Callable[[tuple[Directive, ...], SetupContext], object]


@dataclass
class Server:
    """One `dns://:PORT`: its addresses, routed blocks, plugins and answer caches."""

    port: int
    addresses: tuple[str, ...]
    blocks: list[RoutedBlock]
    plugins: list[tuple[str, object]]
    counters: ServerCounters
    hot_path: bool = True
    caches: list[AnswerCache] = field(default_factory=list)

    async def lookup(self, request: Request) -> Response:
        """`request` through this server's chains from the top, routed by longest zone."""
        zones = tuple(zone for block in self.blocks for zone in block.zones)
        zone = longest_zone(request.query.name, zones)
        for block in self.blocks:
            if zone in block.zones:
                return await block.chain.serve(request)
        return Response("", answer=Answer(Rcode.REFUSED))

    def zone_changed(self, scopes: Iterable[Hashable] | None) -> None:
        """Drop pre-encoded answers under `scopes` (None: all) in every listener's cache."""
        scope_list = None if scopes is None else tuple(scopes)
        for cache in self.caches:
            cache.invalidate(scope_list)


@dataclass(frozen=True)
class Environment:
    """What setups get from the process: registry, clock, chance, files, env, shared objects."""

    registry: CollectorRegistry
    clock: Clock
    rng: random.Random
    read_file: Callable[[str], str]
    environ: Mapping[str, str]
    shared: Shared


def supported() -> list[str]:
    """Every directive clusterdns accepts, in plugin order."""
    ordered = [name for name in PLUGIN_ORDER if name in SETUPS]
    return [*ordered, *(name for name in SETUPS if name not in ordered), *SPECIAL]


def load_setup(name: str, directive: Directive) -> Setup:
    """The setup function of directive `name`; CorefileError if it is unknown."""
    target = SETUPS.get(name)
    if target is None and name in NOT_SUPPORTED:
        raise CorefileError(
            directive.file,
            directive.line,
            f"directive '{name}' is not supported by clusterdns: {NOT_SUPPORTED[name]}",
        )
    if target is None:
        raise CorefileError(
            directive.file,
            directive.line,
            f"unknown directive '{name}'; supported: {', '.join(supported())}",
        )
    module_name, _, function = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        raise CorefileError(
            directive.file, directive.line, f"directive '{name}' is not available yet"
        ) from None
    setup: Setup | None = getattr(module, function, None)
    if setup is None:
        raise CorefileError(
            directive.file, directive.line, f"directive '{name}' is not available yet"
        )
    return setup


def build_servers(corefile: Corefile, environment: Environment, default_port: int) -> list[Server]:
    """Set up every plugin of every block and group the blocks into servers by port."""
    servers: dict[int, Server] = {}
    for block in corefile.blocks:
        addresses = block_addresses(block, default_port)
        port = addresses[0].port
        zones = tuple(dict.fromkeys(a.zone for a in addresses))
        bound = _bound(block)
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
        server.blocks.append(RoutedBlock(zones, _chain(block, zones, server, environment)))
    return list(servers.values())


def _bound(block: ServerBlock) -> tuple[str, ...]:
    """The addresses `bind` names in `block` (none: every address)."""
    found: tuple[str, ...] = ()
    for directive in block.directives:
        if directive.name == "bind":
            found += bind_addresses(directive)
    return found


def _chain(
    block: ServerBlock, zones: tuple[str, ...], server: Server, environment: Environment
) -> Chain:
    context = SetupContext(
        zones=zones,
        registry=environment.registry,
        clock=environment.clock,
        rng=environment.rng,
        read_file=environment.read_file,
        shared=environment.shared,
        environ=environment.environ,
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
        if hasattr(plugin, "serve"):
            handlers.append(plugin)  # type: ignore[arg-type]  # a Handler by duck typing
    for plugin in seen.values():
        if isinstance(plugin, Linked):  # k8s_external, autopath: after the whole block is set up
            plugin.link(seen)
    return Chain(handlers)
