"""The `cache` stanza as a frozen config (CoreDNS plugin/cache/setup.go); no handler imports."""

import re
from dataclasses import dataclass, replace

from clusterdns.corefile.addresses import parse_key
from clusterdns.corefile.directive import (
    arg_choice,
    arg_duration,
    arg_int,
    check_properties,
    directive_error,
    expect_args,
    expect_no_block,
)
from clusterdns.corefile.parser import Directive
from clusterdns.errors import ConfigError

MAX_TTL = 2**31 - 1  # RFC 2181 8
MAX_CAPACITY = 2**31 - 1
MAX_SERVFAIL = 300.0  # RFC 2308 7.1: SERVFAIL may not be cached for more than five minutes
PROPERTIES = ("success", "denial", "prefetch", "serve_stale", "servfail", "disable", "keepttl")
CACHE_TYPES = ("success", "denial")
STALE_MODES = ("immediate", "verify")
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)  # what Go's strconv.Atoi takes


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """What a `cache` stanza says, with CoreDNS's defaults; durations are in seconds."""

    zones: tuple[str, ...] = (".",)
    success_capacity: int = 9984
    success_ttl: int = 3600
    success_min_ttl: int = 5
    denial_capacity: int = 9984
    denial_ttl: int = 1800
    denial_min_ttl: int = 5
    servfail_ttl: float = 5.0  # 0: SERVFAIL is not cached
    prefetch: int = 0  # hits that make an entry popular; 0: no prefetching
    prefetch_window: float = 60.0  # the longest gap between those hits
    prefetch_percentage: int = 10  # prefetch once this share of the TTL is left
    serve_stale: float = 0.0  # how long past expiry an entry may still be served; 0: never
    verify_stale: bool = False  # ask upstream before serving a stale entry
    disable_success: tuple[str, ...] = ()
    disable_denial: tuple[str, ...] = ()
    keepttl: bool = False

    @property
    def zones_label(self) -> str:
        """The `zones` metric label: the zones joined by commas, as CoreDNS does."""
        return ",".join(self.zones)


def parse_cache(directive: Directive, zones: tuple[str, ...]) -> CacheConfig:
    """The config of `cache [TTL] [ZONES...] { ... }`; `zones` are the server block's."""
    check_properties(directive, PROPERTIES)
    args = directive.args
    config = CacheConfig()
    if args and _INTEGER.fullmatch(args[0]):
        # CoreDNS reserves 0 and below; a first argument that is a number is the TTL.
        ttl = arg_int(directive, 0, 1, MAX_TTL, "TTL")
        config = replace(config, success_ttl=ttl, denial_ttl=ttl)
        args = args[1:]
    own = tuple(zone for arg in args for zone in _zones(directive, arg))
    config = replace(config, zones=own or zones)
    for option in directive.block:
        expect_no_block(option, directive)
        config = _OPTIONS[option.name](config, option, directive)
    return config


def _zones(directive: Directive, text: str, parent: Directive | None = None) -> tuple[str, ...]:
    """The zones `text` names: a domain or a CIDR, optionally with dns:// and a port."""
    try:
        return tuple(address.zone for address in parse_key(text, directive.file, directive.line))
    except ConfigError:
        raise directive_error(directive, f"'{text}' is not a valid zone", parent) from None


def _success(config: CacheConfig, option: Directive, parent: Directive) -> CacheConfig:
    capacity, ttl, min_ttl = _capacity_ttls(
        option, parent, config.success_ttl, config.success_min_ttl
    )
    return replace(config, success_capacity=capacity, success_ttl=ttl, success_min_ttl=min_ttl)


def _denial(config: CacheConfig, option: Directive, parent: Directive) -> CacheConfig:
    capacity, ttl, min_ttl = _capacity_ttls(
        option, parent, config.denial_ttl, config.denial_min_ttl
    )
    return replace(config, denial_capacity=capacity, denial_ttl=ttl, denial_min_ttl=min_ttl)


def _capacity_ttls(
    option: Directive, parent: Directive, ttl: int, min_ttl: int
) -> tuple[int, int, int]:
    """`CAPACITY [TTL [MINTTL]]`, with the current TTLs for the ones left out."""
    args = expect_args(option, 1, 3, parent)
    capacity = arg_int(option, 0, 1, MAX_CAPACITY, "CAPACITY", parent)
    if len(args) > 1:
        ttl = arg_int(option, 1, 1, MAX_TTL, "TTL", parent)
    if len(args) > 2:
        min_ttl = arg_int(option, 2, 0, MAX_TTL, "MINTTL", parent)
    return capacity, ttl, min_ttl


def _prefetch(config: CacheConfig, option: Directive, parent: Directive) -> CacheConfig:
    args = expect_args(option, 1, 3, parent)
    config = replace(config, prefetch=arg_int(option, 0, 0, MAX_CAPACITY, "AMOUNT", parent))
    if len(args) > 1:
        config = replace(
            config, prefetch_window=arg_duration(option, 1, what="DURATION", parent=parent)
        )
    if len(args) > 2:
        text = args[2]
        number = text[:-1]
        if not text.endswith("%") or not _INTEGER.fullmatch(number):
            problem = f"PERCENTAGE must be a whole number and '%' such as 10%, got '{text}'"
            raise directive_error(option, problem, parent)
        if not 10 <= int(number) <= 90:
            raise directive_error(option, f"PERCENTAGE must be 10%..90%, got {text}", parent)
        config = replace(config, prefetch_percentage=int(number))
    return config


def _serve_stale(config: CacheConfig, option: Directive, parent: Directive) -> CacheConfig:
    args = expect_args(option, 0, 2, parent)
    up_to = arg_duration(option, 0, what="DURATION", parent=parent) if args else 3600.0
    verify = False
    if len(args) > 1:
        # CoreDNS lowercases the mode before checking it.
        lowered = replace(option, args=(args[0], args[1].lower()))
        verify = arg_choice(lowered, 1, STALE_MODES, "REFRESH_MODE", parent) == "verify"
    return replace(config, serve_stale=up_to, verify_stale=verify)


def _servfail(config: CacheConfig, option: Directive, parent: Directive) -> CacheConfig:
    expect_args(option, 1, 1, parent)
    ttl = arg_duration(option, 0, 0.0, MAX_SERVFAIL, "DURATION", parent)
    return replace(config, servfail_ttl=ttl)


def _disable(config: CacheConfig, option: Directive, parent: Directive) -> CacheConfig:
    args = expect_args(option, 1, None, parent)
    which = arg_choice(option, 0, CACHE_TYPES, "cache type", parent)
    zones = tuple(zone for arg in args[1:] for zone in _zones(option, arg, parent)) or (".",)
    # Several `disable` lines for one type add up (CoreDNS keeps only the last).
    if which == "success":
        return replace(config, disable_success=_union(config.disable_success, zones))
    return replace(config, disable_denial=_union(config.disable_denial, zones))


def _keepttl(config: CacheConfig, option: Directive, parent: Directive) -> CacheConfig:
    expect_args(option, 0, 0, parent)
    return replace(config, keepttl=True)


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return first + tuple(zone for zone in second if zone not in first)


_OPTIONS = {
    "success": _success,
    "denial": _denial,
    "prefetch": _prefetch,
    "serve_stale": _serve_stale,
    "servfail": _servfail,
    "disable": _disable,
    "keepttl": _keepttl,
}
