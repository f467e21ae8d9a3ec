"""`log [NAMES...] [FORMAT] { ... }`: parse the stanza, make the handler."""

from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.plugins.log.handler import LogHandler
from clusterdns.plugins.log.options import parse


def setup(directive: Directive, context: SetupContext) -> LogHandler:
    """Parse the stanza and make the handler."""
    return LogHandler(parse(directive), context.clock)
