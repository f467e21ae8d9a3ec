"""The command line: CoreDNS's flags (`-conf`, `-dns.port`, ...) and `clusterdns serve ...`."""

import argparse
import asyncio
import sys
from pathlib import Path

from clusterdns import __version__
from clusterdns.app import App, run
from clusterdns.errors import ConfigError
from clusterdns.process import prepare_process
from clusterdns.registry import supported
from clusterdns.serve_flags import (
    ServeOptions,
    add_api_flags,
    add_upstream_flag,
    check_flags,
    serve_app,
    serve_corefile,
)


def build_serve_parser() -> argparse.ArgumentParser:
    """The parser of `clusterdns serve`."""
    parser = argparse.ArgumentParser(
        prog="clusterdns serve",
        description="Answer cluster.local from manifests or a live cluster; forward the rest. "
        "Runs kind's default Corefile, fed as the flags say.",
    )
    parser.add_argument(
        "--manifests",
        nargs="+",
        action="extend",
        default=[],
        metavar="PATH",
        help="YAML/JSON manifest files or folders (e.g. a `kubectl get -o yaml` dump)",
    )
    add_api_flags(parser, "live cluster (used when --manifests is not given)")
    parser.add_argument(
        "--http-addr",
        metavar="HOST:PORT",
        help="serve /health, /ready and /metrics here (default: off)",
    )
    parser.add_argument(
        "--dns-addr",
        action="append",
        default=[],
        metavar="ADDR",
        help="address to listen on, IPv4 or IPv6, repeatable (default 0.0.0.0)",
    )
    parser.add_argument(
        "--dns-port", type=int, default=53, metavar="PORT", help="UDP and TCP port (default 53)"
    )
    add_upstream_flag(parser)
    parser.add_argument("--ttl", type=int, default=30, help="TTL of cluster records (default 30)")
    parser.add_argument(
        "--tcp-idle-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="close TCP connections idle this long (default 10)",
    )
    parser.add_argument(
        "--tcp-write-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="close a TCP connection whose replies cannot be written this long (default 5)",
    )
    parser.add_argument(
        "--tcp-max-connections",
        type=int,
        default=1000,
        metavar="N",
        help="open TCP connections at most; the oldest idle one makes room (default 1000)",
    )
    parser.add_argument(
        "--tcp-max-per-client",
        type=int,
        default=100,
        metavar="N",
        help="open TCP connections per client address at most (default 100)",
    )
    parser.add_argument(
        "--print-corefile",
        action="store_true",
        help="print the Corefile these flags make, and exit",
    )
    return parser


def build_coredns_parser() -> argparse.ArgumentParser:
    """CoreDNS's own flags, single dash, as kubeadm's Deployment passes them."""
    parser = argparse.ArgumentParser(
        prog="clusterdns",
        description="A CoreDNS-compatible cluster DNS server. `clusterdns serve --help` for "
        "the flag-driven mode.",
        prefix_chars="-",
    )
    parser.add_argument(
        "-conf", default="Corefile", metavar="FILE", help="Corefile to load (default: ./Corefile)"
    )
    parser.add_argument(
        "-dns.port",
        dest="dns_port",
        type=int,
        default=53,
        metavar="PORT",
        help="default port for server blocks without one (default 53)",
    )
    parser.add_argument("-version", "--version", action="store_true", help="show version, quit")
    parser.add_argument("-plugins", action="store_true", help="list the plugins, quit")
    parser.add_argument("-quiet", action="store_true", help="quiet mode (no start-up banner)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["serve"]:
        return _serve(args[1:])
    if args[:1] in (["explain"], ["zone"]):
        from clusterdns.explain.command import explain_main, zone_main

        return (explain_main if args[0] == "explain" else zone_main)(args[1:])
    options = build_coredns_parser().parse_args(args)
    if options.version:
        print(f"clusterdns {__version__}\nCoreDNS-compatible (kubernetes DNS schema 1.1.0)")
        return 0
    if options.plugins:
        print("Server types:\n  dns\n\nCaddy:\n\nOther:")
        print("\n".join(f"  {name}" for name in supported()))
        return 0
    prepare_process()
    try:
        text = Path(options.conf).read_text(encoding="utf-8")
        app = App(text, options.conf, default_port=options.dns_port)
        asyncio.run(run(app))
    except OSError as exc:
        return _fail(f"{options.conf}: {exc.strerror or exc}")
    except ConfigError as exc:
        return _fail(str(exc))
    return 0


def _serve(argv: list[str]) -> int:
    args = build_serve_parser().parse_args(argv)
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
        tcp_write_timeout=args.tcp_write_timeout,
        tcp_max_connections=args.tcp_max_connections,
        tcp_max_per_client=args.tcp_max_per_client,
    )
    try:
        check_flags(options)  # before logging is set up: a typo costs nothing to report
        if args.print_corefile:
            print(serve_corefile(options), end="")
            return 0
        prepare_process()
        asyncio.run(run(serve_app(options)))
    except ConfigError as exc:
        return _fail(str(exc))
    return 0


def _fail(message: str) -> int:
    for line in message.splitlines():
        print(f"clusterdns: {line}", file=sys.stderr)
    return 1
