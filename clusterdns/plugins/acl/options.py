"""The `acl` stanza as frozen rules: per zone list, policies of action, types and networks."""

import functools
import ipaddress
from dataclasses import dataclass

from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import Directive
from clusterdns.dns.mnemonics import type_text
from clusterdns.dns.names import normalize

ACTIONS = ("allow", "block", "filter", "drop")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Policy:
    """`ACTION [type QTYPE...] [net SOURCE...]`; None for types or nets means all of them."""

    action: str
    qtypes: frozenset[int] | None
    nets: tuple[Network, ...] | None

    def matches(self, qtype: int, source: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        """True when this policy covers a query of `qtype` from `source`."""
        if self.qtypes is not None and qtype not in self.qtypes:
            return False
        return self.nets is None or any(source in net for net in self.nets)


@dataclass(frozen=True, slots=True)
class Rule:
    """One `acl` stanza: the zones it applies to and its policies, first match wins."""

    zones: tuple[str, ...]
    policies: tuple[Policy, ...]


def parse(directive: Directive, server_zones: tuple[str, ...]) -> Rule:
    """The rule of `acl [ZONES...] { ... }`; CorefileError (file:line, token) if invalid."""
    zones = tuple(normalize(z) for z in directive.args) or server_zones
    return Rule(zones, tuple(_policy(line) for line in directive.block))


def _policy(line: Directive) -> Policy:
    action = line.name.lower()
    if action not in ACTIONS:
        raise _error(line, f"unexpected token '{line.name}', expected one of {', '.join(ACTIONS)}")
    if line.block:
        raise _error(line, "expected no block")
    qtypes: set[int] | None = None
    nets: list[Network] | None = None
    tokens = list(line.args)
    while tokens:
        section = tokens.pop(0).lower()
        if section not in ("type", "net"):
            raise _error(line, f"unexpected token '{section}', expected 'type' or 'net'")
        values = []
        while tokens and tokens[0].lower() not in ("type", "net"):
            values.append(tokens.pop(0))
        if not values:
            raise _error(line, f"no value in the '{section}' section")
        if section == "type":
            qtypes = _qtypes(line, values, qtypes)
        else:
            nets = _nets(line, values, nets)
    return Policy(action, None if qtypes is None else frozenset(qtypes), _all_or(nets))


def _qtypes(line: Directive, values: list[str], found: set[int] | None) -> set[int] | None:
    if "*" in values:
        return None
    types = set(found or ())
    for value in values:
        number = _type_numbers().get(value.upper())
        if number is None:
            raise _error(line, f"unexpected token '{value}', expected a QTYPE such as A or AAAA")
        types.add(number)
    return types


def _nets(line: Directive, values: list[str], found: list[Network] | None) -> list[Network]:
    nets = list(found or ())
    for value in values:
        if value == "*":
            nets.append(ipaddress.ip_network("0.0.0.0/0"))
            nets.append(ipaddress.ip_network("::/0"))
            continue
        try:
            nets.append(ipaddress.ip_network(value.split("%", 1)[0], strict=False))
        except ValueError:
            raise _error(line, f"illegal CIDR notation '{value}'") from None
    return nets


def _all_or(nets: list[Network] | None) -> tuple[Network, ...] | None:
    return None if nets is None else tuple(nets)


@functools.cache
def _type_numbers() -> dict[str, int]:
    """Type mnemonics to numbers (A → 1), as miekg/dns StringToType has them."""
    return {type_text(n): n for n in range(1, 65536)}


def _error(line: Directive, problem: str) -> CorefileError:
    return CorefileError(line.file, line.line, f"acl: {problem}")
