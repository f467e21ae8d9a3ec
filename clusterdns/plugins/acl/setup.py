"""`acl [ZONES...] { ACTION [type QTYPE...] [net SOURCE...] }`: parse, make the handler."""

from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.plugins.acl.handler import AclHandler
from clusterdns.plugins.acl.metrics import AclMetrics
from clusterdns.plugins.acl.options import parse


def setup(directives: tuple[Directive, ...], context: SetupContext) -> AclHandler:
    """One handler for every `acl` stanza of the block, their rules in Corefile order."""
    metrics = context.shared.get("acl.metrics", AclMetrics, lambda: AclMetrics(context.registry))
    return AclHandler([parse(d, context.zones) for d in directives], metrics, context.server)
