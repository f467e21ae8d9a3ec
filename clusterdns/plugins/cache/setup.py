"""`cache [TTL] [ZONES...] { ... }`: parse the stanza, make the handler."""

from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.plugins.cache.handler import CachePlugin
from clusterdns.plugins.cache.options import parse_cache


def setup(directive: Directive, context: SetupContext) -> CachePlugin:
    """The `cache` handler for one stanza."""
    return CachePlugin(parse_cache(directive, context.zones), context)
