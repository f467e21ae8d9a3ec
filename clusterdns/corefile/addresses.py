"""Server block keys to the zones and ports they serve, and server blocks grouped by port."""

import ipaddress
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from clusterdns.corefile.directive import directive_error, expect_args, expect_no_block
from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import Directive, ServerBlock
from clusterdns.dns.names import normalize
from clusterdns.errors import ConfigError

DEFAULT_PORT = 53
SCHEME = "dns"
TRANSPORT = ("udp", "tcp")

# Go's strconv.Atoi, which CoreDNS uses on the text after the last colon: ASCII digits only.
_PORT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_LABEL = re.compile(r"[a-z0-9_-]{1,63}", re.ASCII)
_PREFIX = re.compile(r"/[0-9]{1,3}", re.ASCII)


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """One zone a server block serves: scheme, normalized zone, port, and socket transports."""

    scheme: str
    zone: str
    port: int
    transport: tuple[str, ...] = TRANSPORT


def parse_key(
    key: str, file: str = "Corefile", line: int = 0, default_port: int = DEFAULT_PORT
) -> tuple[ServerAddress, ...]:
    """The addresses of `[dns://]ZONE[:PORT]`; a CIDR on no octet boundary yields several."""
    if not 0 <= default_port <= 65535:
        raise ConfigError(f"-dns.port must be 0..65535, got {default_port}")
    rest = key
    if "://" in key:
        scheme, rest = key.split("://", 1)
        if scheme.lower() != SCHEME:
            raise CorefileError(
                file,
                line,
                f"server block key '{key}': scheme '{scheme}' is not supported, "
                "expected 'dns://' or none",
            )
    host, port = rest, default_port
    colon = rest.rfind(":")
    if rest.endswith(":"):
        raise CorefileError(file, line, f"server block key '{key}': expected a port after ':'")
    if colon >= 0 and _PORT.fullmatch(rest[colon + 1 :]):
        host, port = rest[:colon], int(rest[colon + 1 :])
        _check_port(port, key, file, line)
    zones = (
        _reverse_zones(host, key, file, line) if "/" in host else (_zone(host, key, file, line),)
    )
    return tuple(ServerAddress(SCHEME, zone, port) for zone in zones)


def block_addresses(
    block: ServerBlock, default_port: int = DEFAULT_PORT
) -> tuple[ServerAddress, ...]:
    """The addresses of every key of `block`, in order."""
    return tuple(
        address
        for key in block.keys
        for address in parse_key(key, block.file, block.line, default_port)
    )


def group_by_port(
    blocks: Iterable[ServerBlock], default_port: int = DEFAULT_PORT
) -> Mapping[int, tuple[tuple[str, ServerBlock], ...]]:
    """The (zone, block) pairs each port serves; a zone on one port twice is an error."""
    by_port: dict[int, list[tuple[str, ServerBlock]]] = {}
    seen: dict[tuple[int, str], ServerBlock] = {}
    for block in blocks:
        for address in block_addresses(block, default_port):
            where = (address.port, address.zone)
            if where in seen:
                first = seen[where]
                raise CorefileError(
                    block.file,
                    block.line,
                    f"cannot serve {SCHEME}://{address.zone}:{address.port} - it is already "
                    f"defined at {first.file}:{first.line}",
                )
            seen[where] = block
            by_port.setdefault(address.port, []).append((address.zone, block))
    return MappingProxyType({port: tuple(pairs) for port, pairs in by_port.items()})


def _check_port(port: int, key: str, file: str, line: int) -> None:
    # Port 0 asks the kernel for a free port, which tests use.
    if not 0 <= port <= 65535:
        raise CorefileError(
            file, line, f"server block key '{key}': port must be 0..65535, got {port}"
        )


def _zone(host: str, key: str, file: str, line: int) -> str:
    if not host:
        raise CorefileError(
            file,
            line,
            f"server block key '{key}': no zone, expected one such as '.' or 'example.org'",
        )
    zone = normalize(host)
    if zone == ".":
        return zone
    labels = zone[:-1].split(".")
    if len(zone) > 255 or not all(_LABEL.fullmatch(label) for label in labels):
        raise CorefileError(
            file, line, f"server block key '{key}': '{host}' is not a valid zone name"
        )
    return zone


def _reverse_zones(host: str, key: str, file: str, line: int) -> tuple[str, ...]:
    """The reverse zones of a CIDR, split on label boundaries as CoreDNS does since 1.8.5."""
    network = _network(host)
    if network is None:
        raise CorefileError(
            file,
            line,
            f"server block key '{key}': '{host}' is not a valid CIDR, expected e.g. '10.0.0.0/8'",
        )
    step = 8 if network.version == 4 else 4  # bits per reverse label: octet or nibble
    boundary = math.ceil(network.prefixlen / step) * step
    subnets = [network] if boundary == network.prefixlen else network.subnets(new_prefix=boundary)
    zones = []
    for subnet in subnets:
        labels = subnet.network_address.reverse_pointer.split(".")
        drop = (subnet.max_prefixlen - subnet.prefixlen) // step
        zones.append(".".join(labels[drop:]) + ".")
    return tuple(zones)


def _network(host: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network of `ADDRESS/BITS` (host bits allowed, as Go's ParseCIDR), or None."""
    # CoreDNS refuses IPv6 CIDRs starting with ':' or '0'; refusing them too keeps a Corefile we
    # accept one that CoreDNS accepts.
    if host.startswith(":") or (host.startswith("0") and ":" in host):
        return None
    if not _PREFIX.fullmatch(host[host.index("/") :]):
        return None  # Python would also take a netmask ("/255.0.0.0"); Go takes bits only
    try:
        return ipaddress.ip_network(host, strict=False)
    except ValueError:
        return None


def bind_addresses(directive: Directive) -> tuple[str, ...]:
    """The addresses a `bind` directive names (IPs only; CoreDNS's interface names are not)."""
    args = expect_args(directive, 1)
    expect_no_block(directive)
    addresses = []
    for text in args:
        try:
            addresses.append(str(ipaddress.ip_address(text)))
        except ValueError:
            raise directive_error(directive, f"want an IP address, got {text!r}") from None
    return tuple(addresses)


def listen_addresses(block: ServerBlock) -> tuple[str, ...]:
    """The addresses the `bind` directives of `block` name (none: every address)."""
    found: tuple[str, ...] = ()
    for directive in block.directives:
        if directive.name == "bind":
            found += bind_addresses(directive)
    return found
