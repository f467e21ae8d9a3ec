"""`k8s_external`: parse the stanza and make the handler (linked to kubernetes afterwards)."""

from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.plugins.k8s_external.handler import ExternalHandler
from clusterdns.plugins.k8s_external.options import parse


def setup(directive: Directive, context: SetupContext) -> ExternalHandler:
    """The handler of one stanza; the block's kubernetes plugin is linked once all are set up."""
    return ExternalHandler(parse(directive, context.zones), directive, context.lookup)
