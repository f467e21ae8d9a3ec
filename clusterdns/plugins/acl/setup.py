"""`acl [ZONES...] { ACTION [type QTYPE...] [net SOURCE...] }`: parse, make the handler."""

from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.plugins.acl.handler import AclHandler
from clusterdns.plugins.acl.metrics import AclMetrics
from clusterdns.plugins.acl.options import parse


def setup(directive: Directive, context: SetupContext) -> AclHandler:
    """The handler of one `acl` stanza; later stanzas of the block are merged into it."""
    metrics = context.shared.get("acl.metrics", AclMetrics, lambda: AclMetrics(context.registry))
    return AclHandler([parse(directive, context.zones)], metrics, context.server)
