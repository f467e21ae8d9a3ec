"""`errors [stdout] { stacktrace; consolidate DURATION REGEXP [LEVEL] [show_first] }`."""

from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.plugins.errors.handler import ErrorsHandler
from clusterdns.plugins.errors.options import parse


def setup(directive: Directive, context: SetupContext) -> ErrorsHandler:
    """Parse the stanza and make the handler (a Lifecycle: it closes windows on time)."""
    return ErrorsHandler(parse(directive), context.clock)
