"""`rewrite`: every occurrence in a server block parsed into one ordered rule list."""

from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.plugins.rewrite.handler import RewriteHandler
from clusterdns.plugins.rewrite.rules import parse_rules


def setup(directives: Directive | tuple[Directive, ...], context: SetupContext) -> RewriteHandler:
    """One handler for all `rewrite` directives of a block, rules in Corefile order (CoreDNS)."""
    found = directives if isinstance(directives, tuple) else (directives,)
    return RewriteHandler(parse_rules(found), context.lookup)
