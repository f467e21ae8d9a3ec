"""The command line: `clusterdns serve ...` and `clusterdns --version`."""

import argparse
import asyncio
import sys

from clusterdns import __version__
from clusterdns.app import ServeOptions, configure_logging, serve_forever, tune_allocator
from clusterdns.errors import ConfigError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="clusterdns", description="A CoreDNS-compatible Kubernetes cluster DNS server."
    )
    parser.add_argument("--version", action="version", version=f"clusterdns {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="answer cluster.local and forward the rest")
    serve.add_argument(
        "--manifests",
        nargs="+",
        action="extend",
        default=[],
        metavar="PATH",
        help="YAML/JSON manifest files or folders (e.g. a `kubectl get -o yaml` dump)",
    )
    api = serve.add_argument_group(
        "live cluster (used when --manifests is not given)",
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
    serve.add_argument(
        "--http-addr",
        metavar="HOST:PORT",
        help="serve /health, /ready and /metrics here (default: off)",
    )
    serve.add_argument(
        "--dns-addr",
        action="append",
        default=[],
        metavar="ADDR",
        help="address to listen on, IPv4 or IPv6, repeatable (default 0.0.0.0)",
    )
    serve.add_argument(
        "--dns-port", type=int, default=53, metavar="PORT", help="UDP and TCP port (default 53)"
    )
    serve.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="resolver for other names, repeatable (default: nameservers of /etc/resolv.conf)",
    )
    serve.add_argument("--ttl", type=int, default=30, help="TTL of cluster records (default 30)")
    serve.add_argument(
        "--tcp-idle-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="close TCP connections idle this long (default 10)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    args = build_parser().parse_args(argv)
    configure_logging()
    tune_allocator()
    options = ServeOptions(
        manifests=tuple(args.manifests),
        kubeconfig=args.kubeconfig,
        context=args.context,
        api_server=args.api_server,
        token_file=args.token_file,
        ca_file=args.ca_file,
        insecure=args.insecure_skip_tls_verify,
        http_addr=args.http_addr,
        dns_addrs=tuple(args.dns_addr) or ("0.0.0.0",),
        dns_port=args.dns_port,
        upstreams=tuple(args.upstream),
        ttl=args.ttl,
        tcp_idle_timeout=args.tcp_idle_timeout,
    )
    try:
        asyncio.run(serve_forever(options))
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(f"clusterdns: {line}", file=sys.stderr)
        return 1
    return 0
