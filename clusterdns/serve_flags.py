"""`clusterdns serve`'s flags as a Corefile: kind's default Corefile, fed as the flags say."""

import argparse
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from clusterdns.app import GENERATED, App
from clusterdns.clock import Clock
from clusterdns.errors import ConfigError
from clusterdns.plugin import Shared
from clusterdns.plugins.forward.options import parse_upstream
from clusterdns.server.connections import DEFAULT_TCP_LIMITS, TcpLimits


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What `clusterdns serve` was asked to do; it becomes a Corefile (`serve_corefile`)."""

    manifests: tuple[str, ...] = ()
    kubeconfig: str | None = None
    context: str | None = None
    api_server: str | None = None
    token_file: str | None = None
    ca_file: str | None = None
    insecure: bool = False
    dns_addrs: tuple[str, ...] = ("0.0.0.0",)
    dns_port: int = 53
    upstreams: tuple[str, ...] = ()
    ttl: int = 30
    tcp_idle_timeout: float = DEFAULT_TCP_LIMITS.idle_timeout
    tcp_write_timeout: float = DEFAULT_TCP_LIMITS.write_timeout
    tcp_max_connections: int = DEFAULT_TCP_LIMITS.max_connections
    tcp_max_per_client: int = DEFAULT_TCP_LIMITS.max_per_client
    http_addr: str | None = None
    resolv_conf: str = "/etc/resolv.conf"


def add_api_flags(parser: argparse.ArgumentParser, title: str) -> None:
    """The flags that say which Kubernetes API to read (`serve`, `explain`, `zone`)."""
    api = parser.add_argument_group(
        title,
        "Order: --api-server, else --kubeconfig or $KUBECONFIG, else the pod's service account.",
    )
    api.add_argument("--kubeconfig", metavar="PATH", help="kubeconfig file (default $KUBECONFIG)")
    api.add_argument("--context", metavar="NAME", help="kubeconfig context to use")
    api.add_argument(
        "--api-server", metavar="URL", help="API server URL, e.g. https://1.2.3.4:6443"
    )
    api.add_argument("--token-file", metavar="PATH", help="bearer token for --api-server")
    api.add_argument("--ca-file", metavar="PATH", help="CA bundle for --api-server")
    api.add_argument(
        "--insecure-skip-tls-verify", action="store_true", help="do not verify --api-server's TLS"
    )


def add_upstream_flag(parser: argparse.ArgumentParser) -> None:
    """`--upstream IP[:PORT]`, repeatable: where names outside the cluster zones go."""
    parser.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="IP[:PORT]",
        help="resolver for other names: an IP address, optionally with :PORT ([IPv6]:PORT); "
        "not a host name, as with CoreDNS's forward; repeatable "
        "(default: the nameservers of /etc/resolv.conf)",
    )


def _quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def check_flags(options: ServeOptions) -> None:
    """ConfigError naming the flag when one of `serve`'s flags has a value it cannot take.

    Each is checked here, before it becomes a Corefile token, so the error names the flag the
    user typed rather than a line of a Corefile they never wrote.
    """
    for address in options.dns_addrs:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ConfigError(f"--dns-addr: not an IP address: {address!r}") from None
    if not 0 <= options.dns_port <= 65535:
        raise ConfigError(f"--dns-port: must be 0..65535, got {options.dns_port}")
    if not 0 <= options.ttl <= 3600:  # the kubernetes plugin's ttl range, as in CoreDNS
        raise ConfigError(f"--ttl: must be 0..3600, got {options.ttl}")
    if not options.tcp_idle_timeout > 0:
        raise ConfigError(
            f"--tcp-idle-timeout: must be more than 0, got {options.tcp_idle_timeout}"
        )
    if options.http_addr is not None:
        port = options.http_addr.rpartition(":")[2]
        if ":" not in options.http_addr or not port.isdigit() or int(port) > 65535:
            raise ConfigError(f"--http-addr: want HOST:PORT or :PORT, got {options.http_addr!r}")
    if options.manifests and (options.kubeconfig or options.api_server):
        raise ConfigError("--manifests cannot be combined with --kubeconfig or --api-server")
    for path in options.manifests:
        if not Path(path).exists():
            raise ConfigError(f"--manifests: {path}: no such file or folder")
    for text in options.upstreams:
        try:
            parse_upstream(text)
        except ConfigError as exc:
            raise ConfigError(f"--upstream: {exc}") from None


def serve_corefile(options: ServeOptions) -> str:
    """The Corefile equivalent to `serve`'s flags: kind's default, fed as the flags say."""
    check_flags(options)
    upstreams = [str(parse_upstream(u)) for u in options.upstreams] or [options.resolv_conf]
    source: list[str] = []
    if options.manifests:
        source.append("manifests " + " ".join(_quote(p) for p in options.manifests))
    if options.api_server:
        source.append(f"endpoint {_quote(options.api_server)}")
    if options.kubeconfig:
        source.append(f"kubeconfig {_quote(options.kubeconfig)} {options.context or ''}".rstrip())
    elif options.context:
        raise ConfigError("--context needs --kubeconfig")
    if options.token_file:
        source.append(f"token_file {_quote(options.token_file)}")
    if options.ca_file:
        source.append(f"ca_file {_quote(options.ca_file)}")
    if options.insecure:
        source.append("insecure_skip_tls_verify")
    http = []
    if options.http_addr:
        http = [
            f"health {options.http_addr}",
            f"ready {options.http_addr}",
            f"prometheus {options.http_addr}",
        ]
    lines = [
        f".:{options.dns_port} {{",
        "    bind " + " ".join(options.dns_addrs),
        "    errors",
        *(f"    {line}" for line in http),
        "    kubernetes cluster.local in-addr.arpa ip6.arpa {",
        "        pods insecure",
        "        fallthrough in-addr.arpa ip6.arpa",
        f"        ttl {options.ttl}",
        *(f"        {line}" for line in source),
        "    }",
        f"    forward . {' '.join(upstreams)} {{",
        "        max_concurrent 1000",
        "    }",
        "    cache 30 {",
        "        disable success cluster.local",
        "        disable denial cluster.local",
        "    }",
        "    loadbalance",
        "}",
    ]
    return "\n".join(lines) + "\n"


def serve_app(
    options: ServeOptions, clock: Clock | None = None, shared: Shared | None = None
) -> App:
    """The app `clusterdns serve` runs: its flags as a generated Corefile, its TCP flags."""
    return App(
        serve_corefile(options),
        GENERATED,
        tcp_limits=TcpLimits(
            idle_timeout=options.tcp_idle_timeout,
            write_timeout=options.tcp_write_timeout,
            max_connections=options.tcp_max_connections,
            max_per_client=options.tcp_max_per_client,
        ),
        clock=clock,
        shared=shared,
    )
