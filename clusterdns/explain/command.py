"""`clusterdns explain NAME [TYPE]` and `clusterdns zone`: flags, exit codes and output.

Exit 0 once the explanation (or zone) is printed, whatever the rcode; 2 for usage errors
(bad flags, an invalid name or type); 1 when the Corefile or the source cannot be read.
"""

import argparse
import asyncio
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from clusterdns.app import GENERATED
from clusterdns.clock import Clock
from clusterdns.errors import ConfigError, KubeAPIError
from clusterdns.explain.explanation import explain
from clusterdns.explain.load import Target, load_target, send_sync
from clusterdns.explain.question import QuestionError, parse_question
from clusterdns.explain.render import to_json, to_text
from clusterdns.explain.zonefile import zone_file
from clusterdns.serve_flags import ServeOptions, add_api_flags, add_upstream_flag, serve_corefile

USAGE_ERROR = 2
SOURCE_ERROR = 1


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: {message} (see --help)\n")


def _source_flags(parser: argparse.ArgumentParser) -> None:
    """The source flags of `clusterdns serve`, and `-conf` for a Corefile's kubernetes stanza."""
    # One PATH per flag (repeatable), unlike serve's: NAME follows and must not be swallowed.
    parser.add_argument(
        "--manifests",
        action="append",
        default=[],
        metavar="PATH",
        help="a YAML/JSON manifest file or folder (repeatable)",
    )
    add_api_flags(parser, "live cluster (read once: one list per resource, no watch)")
    add_upstream_flag(parser)
    parser.add_argument("--ttl", type=int, default=30, help="TTL of cluster records (default 30)")
    parser.add_argument(
        "-conf",
        "--conf",
        dest="conf",
        metavar="COREFILE",
        help="take zones, options and source from this Corefile instead of the flags above",
    )


def build_explain_parser() -> argparse.ArgumentParser:
    """The parser of `clusterdns explain`."""
    parser = _Parser(
        prog="clusterdns explain",
        description="Show the answer clusterdns gives to NAME, which objects produced it, and "
        "why a name does not resolve. Nothing is sent unless --send is given.",
    )
    parser.add_argument(
        "name", metavar="NAME", help="the name asked, e.g. web.demo.svc.cluster.local"
    )
    parser.add_argument("type", metavar="TYPE", nargs="?", default="A", help="default A")
    parser.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    parser.add_argument(
        "--send",
        action="store_true",
        help="actually ask: run the query through the server's chain, upstreams included",
    )
    _source_flags(parser)
    return parser


def build_zone_parser() -> argparse.ArgumentParser:
    """The parser of `clusterdns zone`."""
    parser = _Parser(
        prog="clusterdns zone",
        description="Print every record the kubernetes plugin serves as RFC 1035 zone files "
        "(SOA first, then sorted), one per zone of its stanza.",
    )
    parser.add_argument(
        "--zone",
        action="append",
        default=[],
        metavar="ZONE",
        help="only this zone (repeatable; default: every zone of the stanza)",
    )
    _source_flags(parser)
    return parser


def _corefile(args: argparse.Namespace) -> tuple[str, str]:
    """The Corefile text and its name: `-conf`, or the one `serve` makes from the flags."""
    if args.conf:
        if args.manifests or args.kubeconfig or args.api_server:
            raise _Usage("-conf takes the source from the Corefile: drop --manifests/--kubeconfig")
        try:
            return Path(args.conf).read_text(encoding="utf-8"), args.conf
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{args.conf}: cannot read: {exc}") from None
    options = ServeOptions(
        manifests=tuple(args.manifests),
        kubeconfig=args.kubeconfig,
        context=args.context,
        api_server=args.api_server,
        token_file=args.token_file,
        ca_file=args.ca_file,
        insecure=args.insecure_skip_tls_verify,
        upstreams=tuple(args.upstream),
        ttl=args.ttl,
    )
    return serve_corefile(options), GENERATED


class _Usage(Exception):
    """A usage error found after parsing (exit 2)."""


def _load(
    args: argparse.Namespace, clock: Clock | None, environ: Mapping[str, str] | None
) -> Target:
    text, filename = _corefile(args)
    return load_target(text, filename, clock=clock, environ=environ)


def explain_main(
    argv: Sequence[str], clock: Clock | None = None, environ: Mapping[str, str] | None = None
) -> int:
    """Run `clusterdns explain`; returns the exit status."""
    args = build_explain_parser().parse_args(argv)
    try:
        question = parse_question(args.name, args.type)
        target = _load(args, clock, environ)
        result = asyncio.run(explain(target, question))
        if args.send:
            reply = send_sync(target, question.wire())
            result = replace(result, reply=reply, sent=True, complete=True)
    except (QuestionError, _Usage) as exc:
        return _fail("explain", str(exc), USAGE_ERROR)
    except (ConfigError, KubeAPIError) as exc:
        return _fail("explain", str(exc), SOURCE_ERROR)
    for warning in target.warnings:
        print(f"clusterdns explain: {warning}", file=sys.stderr)
    render = to_json if args.json else to_text
    sys.stdout.write(render(result, target.source))
    return 0


def zone_main(
    argv: Sequence[str], clock: Clock | None = None, environ: Mapping[str, str] | None = None
) -> int:
    """Run `clusterdns zone`; returns the exit status."""
    args = build_zone_parser().parse_args(argv)
    try:
        target = _load(args, clock, environ)
    except _Usage as exc:
        return _fail("zone", str(exc), USAGE_ERROR)
    except (ConfigError, KubeAPIError) as exc:
        return _fail("zone", str(exc), SOURCE_ERROR)
    snapshot, plugin = target.snapshot, target.kubernetes
    if snapshot is None or plugin is None:
        return _fail("zone", "the Corefile has no kubernetes stanza", SOURCE_ERROR)
    zones = plugin.config.zones
    wanted = [z if z.endswith(".") else z + "." for z in (w.lower() for w in args.zone)]
    unknown = [z for z in wanted if z not in zones]
    if unknown:
        return _fail(
            "zone", f"{unknown[0]} is not a zone of the stanza ({', '.join(zones)})", USAGE_ERROR
        )
    for warning in target.warnings:
        print(f"clusterdns zone: {warning}", file=sys.stderr)
    files = [zone_file(snapshot, plugin.config, z, target.source) for z in wanted or zones]
    sys.stdout.write("\n".join(files))
    return 0


def _fail(command: str, message: str, status: int) -> int:
    lines = message.splitlines() or [message]
    more = f" (and {len(lines) - 1} more problems)" if len(lines) > 1 else ""
    print(f"clusterdns {command}: {lines[0]}{more}", file=sys.stderr)
    return status
