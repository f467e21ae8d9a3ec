"""The `forward` stanza as a frozen config: zone, upstreams and knobs (no handler imports)."""

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, replace

from clusterdns.corefile.addresses import parse_key
from clusterdns.corefile.directive import (
    arg_choice,
    arg_duration,
    arg_int,
    check_properties,
    directive_error,
    expect_args,
)
from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import Directive
from clusterdns.dns.mnemonics import HEADER_RCODES
from clusterdns.dns.names import normalize
from clusterdns.errors import ConfigError

DNS_PORT = 53
MAX_UPSTREAMS = 15  # CoreDNS plugin/forward/setup.go `max`
POLICIES = ("random", "round_robin", "sequential")
PROPERTIES = (
    "except",
    "force_tcp",
    "prefer_udp",
    "expire",
    "max_fails",
    "health_check",
    "policy",
    "max_concurrent",
    "next",
)
_TLS_PROPERTIES = ("tls", "tls_servername")


@dataclass(frozen=True, slots=True)
class Upstream:
    """One upstream resolver address."""

    host: str
    port: int = DNS_PORT

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """How upstreams are probed: every `interval` s while failing, `. IN NS` by default."""

    interval: float = 0.5
    recursion_desired: bool = True
    domain: str = "."
    timeout: float = 1.0  # CoreDNS's health check client read timeout


@dataclass(frozen=True, slots=True)
class ForwardConfig:
    """Where to forward: names under `zone` (minus `ignored`), to `upstreams`, within `timeout` s.

    `max_fails` 0 disables health checking; `max_concurrent` 0 means no limit; `next_rcodes`
    are upstream rcodes that hand the query to the next plugin (CoreDNS `next`).
    """

    upstreams: tuple[Upstream, ...]
    zone: str = "."
    timeout: float = 2.0
    ignored: tuple[str, ...] = ()
    force_tcp: bool = False
    expire: float = 10.0
    max_fails: int = 2
    health_check: HealthCheck = HealthCheck()
    policy: str = "random"
    max_concurrent: int = 0
    next_rcodes: tuple[int, ...] = ()


def parse_upstream(text: str) -> Upstream:
    """`HOST`, `HOST:PORT`, `[V6]:PORT`, `V6` or `dns://HOST[:PORT]` as an Upstream."""
    spec = text.strip().removeprefix("dns://")
    host, port = spec, DNS_PORT
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        if rest:
            port = _port(rest.removeprefix(":"), text)
    elif spec.count(":") == 1:
        host, port_text = spec.split(":")
        port = _port(port_text, text)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        # As CoreDNS's forward: addresses only, since a name would need a resolver to find
        # the resolver.
        raise ConfigError(
            f"upstream {text!r}: not an IP address (want IP[:PORT], e.g. 8.8.8.8, "
            "10.0.0.10:5353 or [2001:db8::1]:53; host names are not resolved)"
        ) from None
    return Upstream(str(address), port)


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 65535:
        raise ConfigError(f"upstream {whole!r}: port must be 1..65535")
    return int(text)


def parse_resolv_conf(text: str) -> tuple[Upstream, ...]:
    """The `nameserver` lines of a resolv.conf, as upstreams (zone-scoped IPv6 kept plain)."""
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                found.append(parse_upstream(parts[1].split("%")[0]))
            except ConfigError:
                continue  # resolv.conf may name things we cannot use; the others still serve
    return tuple(found)


def parse_forward(d: Directive, read_file: Callable[[str], str]) -> ForwardConfig:
    """`forward FROM TO... { ... }` as a config; files among TO are read with `read_file`."""
    args = expect_args(d, 2)
    zone = _zones(d, args[0], "FROM")[0]  # CoreDNS too keeps only the first zone of a CIDR
    upstreams = tuple(u for text in args[1:] for u in _expand(d, text, read_file))
    if not upstreams:
        raise directive_error(d, f"no nameservers found in {' '.join(args[1:])}")
    if len(upstreams) > MAX_UPSTREAMS:
        raise directive_error(
            d, f"more than {MAX_UPSTREAMS} upstreams configured: {len(upstreams)}"
        )
    config = ForwardConfig(upstreams, zone)
    for child in d.block:
        if child.name in _TLS_PROPERTIES:
            problem = "DNS-over-TLS is not supported; clusterdns forwards plain DNS only"
            raise directive_error(child, problem, d)
    check_properties(d, PROPERTIES)
    for child in d.block:
        config = _apply(config, child, d)
    return config


def _apply(config: ForwardConfig, p: Directive, d: Directive) -> ForwardConfig:
    """`config` changed by the property `p` of stanza `d`."""
    if p.name == "except":
        ignored = tuple(z for text in expect_args(p, 1, parent=d) for z in _zones(p, text, "name"))
        return replace(config, ignored=config.ignored + ignored)
    if p.name in ("force_tcp", "prefer_udp"):
        expect_args(p, 0, 0, parent=d)
        # UDP first with a TCP retry on truncation is always on: prefer_udp is the default.
        return replace(config, force_tcp=True) if p.name == "force_tcp" else config
    if p.name == "expire":
        expect_args(p, 1, 1, parent=d)
        return replace(config, expire=arg_duration(p, 0, what="duration", parent=d))
    if p.name == "max_fails":
        expect_args(p, 1, 1, parent=d)
        return replace(config, max_fails=arg_int(p, 0, 0, 2**32 - 1, parent=d))
    if p.name == "health_check":
        return replace(config, health_check=_health_check(p, d))
    if p.name == "policy":
        expect_args(p, 1, 1, parent=d)
        return replace(config, policy=arg_choice(p, 0, POLICIES, parent=d))
    if p.name == "max_concurrent":
        expect_args(p, 1, 1, parent=d)
        return replace(config, max_concurrent=arg_int(p, 0, 0, 2**31 - 1, parent=d))
    # check_properties has left only `next`
    rcodes = []
    for text in expect_args(p, 1, parent=d):
        if text.upper() not in HEADER_RCODES:
            allowed = ", ".join(HEADER_RCODES)
            raise directive_error(p, f"'{text}' is not an rcode, expected one of {allowed}", d)
        rcodes.append(HEADER_RCODES.index(text.upper()))
    return replace(config, next_rcodes=tuple(rcodes))


def _health_check(p: Directive, d: Directive) -> HealthCheck:
    """`health_check DURATION [no_rec] [domain FQDN]`."""
    args = expect_args(p, 1, parent=d)
    # CoreDNS takes 0 too, which would re-check a failing upstream in a busy loop.
    check = HealthCheck(interval=arg_duration(p, 0, lo=0.001, what="interval", parent=d))
    rest = list(args[1:])
    while rest:
        option = rest.pop(0)
        if option == "no_rec":
            check = replace(check, recursion_desired=False)
        elif option == "domain" and rest:
            check = replace(check, domain=_domain(p, d, rest.pop(0)))
        elif option == "domain":
            raise directive_error(p, "expected a name after 'domain'", d)
        else:
            problem = f"unknown option '{option}', expected no_rec or domain FQDN"
            raise directive_error(p, problem, d)
    return check


def _domain(p: Directive, d: Directive, text: str) -> str:
    name = normalize(text)
    labels = name.rstrip(".").split(".") if name != "." else []
    if len(name) > 255 or not all(0 < len(label) < 64 and label.isascii() for label in labels):
        raise directive_error(p, f"invalid domain name '{text}'", d)
    return name


def _zones(d: Directive, text: str, what: str) -> tuple[str, ...]:
    """The zones `text` names: a domain, or a CIDR's reverse zones (CoreDNS plugin.Host)."""
    try:
        return tuple(address.zone for address in parse_key(text, d.file, d.line))
    except (CorefileError, ConfigError):
        raise directive_error(d, f"{what} '{text}' is not a domain name or CIDR") from None


def _expand(d: Directive, text: str, read_file: Callable[[str], str]) -> tuple[Upstream, ...]:
    """One TO: an address, `dns://` address, or a resolv.conf-style file's nameservers."""
    scheme, sep, rest = text.partition("://")
    if sep and scheme.lower() != "dns":
        raise directive_error(
            d, f"'{scheme}' is not supported as a destination protocol: {text} (use dns:// or none)"
        )
    spec = rest if sep else text
    try:
        return (parse_upstream(spec),)
    except ConfigError as exc:
        if sep or not _may_be_file(spec):
            raise directive_error(d, str(exc)) from None
    try:
        content = read_file(spec)
    except (OSError, UnicodeDecodeError, ConfigError) as exc:  # app's reader raises ConfigError
        problem = f"'{text}' is not an IP address, nor a readable file: {exc}"
        raise directive_error(d, problem) from None
    return parse_resolv_conf(content)


def _may_be_file(spec: str) -> bool:
    """False for text that can only be a mistyped address: an IP with a bad port."""
    host = spec[1:].partition("]")[0] if spec.startswith("[") else spec.rpartition(":")[0]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False
