"""`bufsize [SIZE]`: parse the stanza and make the handler."""

from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.plugins.bufsize.handler import BufsizeHandler
from clusterdns.plugins.bufsize.options import parse


def setup(directive: Directive, context: SetupContext) -> BufsizeHandler:
    """The handler of a `bufsize` stanza (default 1232, 512..4096)."""
    return BufsizeHandler(parse(directive).size)
