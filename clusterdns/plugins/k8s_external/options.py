"""The `k8s_external [ZONES...] { apex, ttl, headless, fallthrough }` stanza as a frozen config."""

from dataclasses import dataclass, replace

from clusterdns.corefile.directive import (
    arg_int,
    directive_error,
    expect_args,
    expect_no_block,
    fallthrough_zones,
)
from clusterdns.corefile.parser import Directive
from clusterdns.dns.names import is_subdomain, normalize

PROPERTIES = ("apex", "ttl", "headless", "fallthrough")


@dataclass(frozen=True, slots=True)
class ExternalConfig:
    """What the stanza says (CoreDNS defaults: apex `dns`, ttl 5, no headless, no fallthrough)."""

    zones: tuple[str, ...]
    apex: str = "dns"
    ttl: int = 5
    headless: bool = False
    fallthrough: tuple[str, ...] = ()

    def falls_through(self, name: str) -> bool:
        """True when NXDOMAIN for `name` goes to the next plugin instead."""
        return any(is_subdomain(name, zone) for zone in self.fallthrough)


def parse(directive: Directive, server_zones: tuple[str, ...]) -> ExternalConfig:
    """The config of one `k8s_external` stanza; CorefileError naming FILE:LINE if invalid."""
    zones = tuple(normalize(zone) for zone in directive.args) or server_zones
    for zone in zones:
        if not any(is_subdomain(zone, block) for block in server_zones):
            # Queries for it would never reach this block: say so instead of never answering.
            raise directive_error(directive, f"zone {zone} is not in the server block's zones")
    config = ExternalConfig(zones)
    for option in directive.block:
        expect_no_block(option, directive)
        if option.name == "apex":
            (label,) = expect_args(option, 1, 1, directive)
            if "." in label.strip(".") or not label.strip(".") or len(label) > 63:
                problem = f"apex must be one DNS label such as dns, got '{label}'"
                raise directive_error(option, problem, directive)
            config = replace(config, apex=label.strip(".").lower())
        elif option.name == "ttl":
            expect_args(option, 1, 1, directive)
            config = replace(config, ttl=arg_int(option, 0, 0, 3600, "ttl", directive))
        elif option.name == "headless":
            expect_args(option, 0, 0, directive)
            config = replace(config, headless=True)
        elif option.name == "fallthrough":
            config = replace(config, fallthrough=fallthrough_zones(option))
        else:
            expected = ", ".join(PROPERTIES)
            problem = f"unknown property '{option.name}', expected one of: {expected}"
            raise directive_error(option, problem, directive)
    return config
