"""The `file DBFILE [ZONES...] { reload, reload_by_mtime, fallthrough }` stanza as a config."""

from dataclasses import dataclass, replace

from clusterdns.corefile.directive import (
    arg_duration,
    directive_error,
    expect_args,
    fallthrough_zones,
)
from clusterdns.corefile.parser import Directive
from clusterdns.dns.names import is_subdomain, normalize

PROPERTIES = ("reload", "reload_by_mtime", "fallthrough")
DEFAULT_RELOAD = 60.0  # CoreDNS: one minute


@dataclass(frozen=True, slots=True)
class FileConfig:
    """The zone file, the zones read from it, how often it is checked (0: never), fallthrough.

    `by_mtime`: reload on any change of the file, not only on a new SOA serial.
    """

    path: str
    zones: tuple[str, ...]
    reload: float = DEFAULT_RELOAD
    by_mtime: bool = False
    fallthrough: tuple[str, ...] = ()

    def falls_through(self, name: str) -> bool:
        """True when a name error for `name` goes to the next plugin."""
        return any(is_subdomain(name, zone) for zone in self.fallthrough)


def parse(directive: Directive, server_zones: tuple[str, ...]) -> FileConfig:
    """The config of one stanza; CorefileError naming FILE:LINE and the bad token if invalid."""
    args = expect_args(directive, 1, None)
    zones = tuple(normalize(zone) for zone in args[1:]) or server_zones
    for zone in zones:
        if not any(is_subdomain(zone, block) for block in server_zones):
            # Queries for it would never reach this block: say so instead of never answering.
            raise directive_error(directive, f"zone {zone} is not in the server block's zones")
    config = FileConfig(args[0], zones)
    for option in directive.block:
        if option.block:
            raise directive_error(option, "expected no block", directive)
        if option.name == "reload":
            expect_args(option, 1, 1, directive)
            seconds = arg_duration(option, 0, 0.0, None, "reload interval", directive)
            config = replace(config, reload=seconds)
        elif option.name == "reload_by_mtime":
            expect_args(option, 0, 0, directive)
            config = replace(config, by_mtime=True)
        elif option.name == "fallthrough":
            config = replace(config, fallthrough=fallthrough_zones(option))
        else:
            expected = ", ".join(PROPERTIES)
            problem = f"unknown property '{option.name}', expected one of: {expected}"
            raise directive_error(option, problem, directive)
    return config
