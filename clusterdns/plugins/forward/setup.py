"""Configuration of the `forward` plugin: the zone it serves and the upstreams it asks."""

import ipaddress
from dataclasses import dataclass

from clusterdns.dns.names import normalize
from clusterdns.errors import ConfigError

DNS_PORT = 53


@dataclass(frozen=True, slots=True)
class Upstream:
    """One upstream resolver address."""

    host: str
    port: int = DNS_PORT

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ForwardConfig:
    """Where to forward: names under `zone`, to `upstreams`, answered within `timeout` seconds."""

    upstreams: tuple[Upstream, ...]
    zone: str = "."
    timeout: float = 2.0


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
        raise ConfigError(f"upstream {text!r}: not an IP address (want HOST[:PORT])") from None
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


def make_config(
    upstreams: tuple[Upstream, ...], zone: str = ".", timeout: float = 2.0
) -> ForwardConfig:
    """A forward config; at least one upstream is required."""
    if not upstreams:
        raise ConfigError("forward: no upstream resolvers (give --upstream or a resolv.conf)")
    return ForwardConfig(upstreams, normalize(zone), timeout)
