"""The directive registry: the setup each Corefile directive runs, and the ones refused."""

import importlib
from collections.abc import Callable, Mapping

from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import Directive
from clusterdns.plugin import PLUGIN_ORDER, SetupContext

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
# Directives a block may repeat: CoreDNS gives one plugin instance every occurrence, in order,
# so their setup is called once with all of them (a tuple of Directives).
REPEATABLE = ("rewrite", "template", "acl")

Setup = Callable[[Directive, SetupContext], object]
RepeatedSetup = Callable[[tuple[Directive, ...], SetupContext], object]


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
