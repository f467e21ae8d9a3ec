"""Hosts-file text to an immutable lookup table: names to addresses, addresses to names."""

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from clusterdns.corefile.lexer import CorefileError
from clusterdns.dns.names import longest_zone, normalize


def _empty() -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class HostsTable:
    """One parsed hosts source. Addresses are canonical strings; names lowercase absolute."""

    v4: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)
    v6: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)
    wild4: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)  # keyed by "*.rest."
    wild6: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)
    names: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)  # address → names (PTR)

    def entries(self) -> int:
        """How many (name, address) pairs it holds, counted as CoreDNS's Map.Len does."""
        maps = (self.v4, self.v6, self.wild4, self.wild6, self.names)
        return sum(len(values) for mapping in maps for values in mapping.values())

    def addresses(self, name: str, v6: bool) -> tuple[str, ...]:
        """The addresses of `name` of one family: exact entries first, else a wildcard's."""
        exact = (self.v6 if v6 else self.v4).get(name)
        if exact is not None:
            return exact
        first, dot, rest = name.partition(".")
        if not dot or not rest or first == "*":
            return ()
        return (self.wild6 if v6 else self.wild4).get("*." + rest, ())


EMPTY_TABLE = HostsTable()


def parse_hosts(
    lines: Iterable[tuple[str, int, str]], origins: tuple[str, ...], reverse: bool
) -> HostsTable:
    """Parse (file, line, text) hosts lines: `ADDRESS NAME [NAME...]`, `#` comments.

    A bad address, or an address with no name, is a CorefileError naming FILE:LINE and the
    token (CoreDNS skips such lines silently; an error at load is what clusterdns promises).
    Names outside `origins` are left out, as CoreDNS does.
    """
    maps: dict[str, dict[str, list[str]]] = {k: {} for k in ("v4", "v6", "w4", "w6", "names")}
    for file, number, raw in lines:
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        address = _address(fields[0], file, number)
        if len(fields) < 2:
            raise CorefileError(file, number, f"hosts: address '{fields[0]}' has no host name")
        v6 = address.version == 6
        text = str(address)
        for word in fields[1:]:
            name = normalize(word)
            if longest_zone(name, origins) is None:
                continue
            if name.startswith("*."):
                _add(maps["w6" if v6 else "w4"], name, text)
                continue  # wildcards get no PTR, as in CoreDNS
            _add(maps["v6" if v6 else "v4"], name, text)
            if reverse:
                _add(maps["names"], text, name)
    frozen = {k: MappingProxyType({n: tuple(v) for n, v in m.items()}) for k, m in maps.items()}
    return HostsTable(frozen["v4"], frozen["v6"], frozen["w4"], frozen["w6"], frozen["names"])


def file_lines(text: str, file: str) -> list[tuple[str, int, str]]:
    """The (file, line, text) triples of a whole file's text."""
    return [(file, number, line) for number, line in enumerate(text.splitlines(), 1)]


def _address(word: str, file: str, line: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    # A zone index (fe80::1%eth0) is dropped, as CoreDNS's parseIP does.
    try:
        address = ipaddress.ip_address(word.split("%", 1)[0])
    except ValueError:
        raise CorefileError(
            file, line, f"hosts: bad address '{word}', expected an IPv4 or IPv6 address"
        ) from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # Go's net.IP.To4: ::ffff:a.b.c.d is an IPv4 address
    return address


def _add(mapping: dict[str, list[str]], key: str, value: str) -> None:
    values = mapping.setdefault(key, [])
    if value not in values:
        values.append(value)
