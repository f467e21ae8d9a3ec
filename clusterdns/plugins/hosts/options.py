"""The `hosts` stanza as a frozen config: file, zones, inline lines, ttl, reload, fallthrough."""

from dataclasses import dataclass, replace

from clusterdns.corefile.directive import (
    arg_duration,
    arg_int,
    directive_error,
    expect_args,
    fallthrough_zones,
)
from clusterdns.corefile.parser import Directive
from clusterdns.dns.names import is_subdomain, normalize

DEFAULT_FILE = "/etc/hosts"
DEFAULT_TTL = 3600  # CoreDNS hosts: one hour
DEFAULT_RELOAD = 5.0  # CoreDNS hosts: the file is checked every 5 s
_PROPERTIES = ("ttl", "reload", "no_reverse", "fallthrough", "fallthrough_unsupported")


@dataclass(frozen=True, slots=True)
class InlineLine:
    """One hosts line written inside the stanza, with where it was written."""

    file: str
    line: int
    text: str


@dataclass(frozen=True, slots=True)
class HostsConfig:
    """What a `hosts` stanza says. `fallthrough` () means never; ('.',) means every zone."""

    path: str = DEFAULT_FILE
    zones: tuple[str, ...] = (".",)
    inline: tuple[InlineLine, ...] = ()
    ttl: int = DEFAULT_TTL
    reload: float = DEFAULT_RELOAD  # 0: never re-read
    reverse: bool = True
    fallthrough: tuple[str, ...] = ()
    fallthrough_unsupported: bool = False

    def falls_through(self, name: str) -> bool:
        """True when `name` may go to the next plugin (CoreDNS fall.F.Through)."""
        return any(is_subdomain(name, zone) for zone in self.fallthrough)


def parse(directive: Directive, server_zones: tuple[str, ...]) -> HostsConfig:
    """The config of `hosts [FILE [ZONES...]] { ... }`; CorefileError (file:line) if invalid."""
    args = expect_args(directive, 0)
    path = args[0] if args else DEFAULT_FILE
    zones = tuple(normalize(z) for z in args[1:]) or server_zones
    config = HostsConfig(path=path, zones=zones)
    inline: list[InlineLine] = []
    fallthrough: tuple[str, ...] | None = None
    for option in directive.block:
        name = option.name
        # CoreDNS reads any line that is not a property as an inline hosts entry, as long as
        # no `fallthrough` came before it.
        if name not in _PROPERTIES:
            if fallthrough is not None:
                problem = f"unknown property '{name}' after fallthrough"
                raise directive_error(option, problem, directive)
            if option.block:
                raise directive_error(option, "a hosts line cannot open a block", directive)
            text = " ".join((name, *option.args))
            inline.append(InlineLine(option.file, option.line, text))
            continue
        if option.block:
            raise directive_error(option, "expected no block", directive)
        if name == "ttl":
            expect_args(option, 1, 1, directive)
            config = replace(config, ttl=arg_int(option, 0, 1, 65535, "TTL", directive))
        elif name == "reload":
            expect_args(option, 1, 1, directive)
            config = replace(config, reload=arg_duration(option, 0, 0.0, None, "reload", directive))
        elif name == "no_reverse":
            expect_args(option, 0, 0, directive)
            config = replace(config, reverse=False)
        elif name == "fallthrough":
            fallthrough = fallthrough_zones(option)
        else:  # fallthrough_unsupported
            expect_args(option, 0, 0, directive)
            config = replace(config, fallthrough_unsupported=True)
    if config.fallthrough_unsupported and fallthrough is None:
        raise directive_error(directive, "fallthrough_unsupported requires fallthrough")
    return replace(config, inline=tuple(inline), fallthrough=fallthrough or ())
