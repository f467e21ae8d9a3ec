"""`minimal`: no arguments; make the handler."""

from clusterdns.corefile.directive import expect_args, expect_no_block
from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.plugins.minimal.handler import MinimalHandler


def setup(directive: Directive, context: SetupContext) -> MinimalHandler:
    """The handler of a `minimal` stanza, which takes no arguments or block."""
    expect_args(directive, 0, 0)
    expect_no_block(directive)
    return MinimalHandler()
