"""`local`: parse the stanza and make the handler."""

from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.plugins.local.handler import LocalHandler
from clusterdns.plugins.local.metrics import LocalMetrics
from clusterdns.plugins.local.options import parse


def setup(directive: Directive, context: SetupContext) -> LocalHandler:
    """The handler of a `local` stanza."""
    config = parse(directive)
    metrics = context.shared.get(
        "local.metrics", LocalMetrics, lambda: LocalMetrics(context.registry)
    )
    return LocalHandler(config.localhost_prefix, metrics)
