"""`whoami`: no arguments; make the handler."""

from clusterdns.corefile.directive import expect_args, expect_no_block
from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.plugins.whoami.handler import WhoamiHandler


def setup(directive: Directive, context: SetupContext) -> WhoamiHandler:
    """The handler of a `whoami` stanza, which takes no arguments or block."""
    expect_args(directive, 0, 0)
    expect_no_block(directive)
    return WhoamiHandler()
