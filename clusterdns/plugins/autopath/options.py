"""The `autopath [ZONES...] RESOLV-CONF` stanza as a frozen config."""

from collections.abc import Callable
from dataclasses import dataclass

from clusterdns.corefile.directive import directive_error, expect_args, expect_no_block
from clusterdns.corefile.parser import Directive
from clusterdns.dns.names import normalize
from clusterdns.errors import ConfigError


@dataclass(frozen=True, slots=True)
class AutopathConfig:
    """Zones, and where the search path comes from: a plugin (`@kubernetes`) or a file's list.

    `search` ends with "" (the name as asked), as CoreDNS's searchpath does.
    """

    zones: tuple[str, ...]
    plugin: str = ""
    search: tuple[str, ...] = ()


def resolv_search(text: str) -> tuple[str, ...]:
    """The domains of the last `search` (or `domain`) line of a resolv.conf, normalized."""
    found: tuple[str, ...] = ()
    for line in text.splitlines():
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(words) > 1 and words[0] in ("search", "domain"):
            found = tuple(normalize(word) for word in words[1:])
    return found


def parse(
    directive: Directive, server_zones: tuple[str, ...], read_file: Callable[[str], str]
) -> AutopathConfig:
    """The config of one stanza; a RESOLV-CONF file is read now (CorefileError if unreadable)."""
    args = expect_args(directive, 1, None)
    expect_no_block(directive)
    zones = tuple(normalize(zone) for zone in args[:-1]) or server_zones
    source = args[-1]
    if source.startswith("@"):
        if len(source) == 1:
            raise directive_error(directive, "expected a plugin name after '@', got '@'")
        return AutopathConfig(zones, plugin=source[1:])
    try:
        text = read_file(source)
    except (OSError, ConfigError) as exc:
        raise directive_error(directive, f"failed to read '{source}': {exc}") from None
    return AutopathConfig(zones, search=(*resolv_search(text), ""))
