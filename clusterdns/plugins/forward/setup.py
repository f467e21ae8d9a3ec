"""`forward FROM TO... { ... }`: parse the stanza, make the handler with the process's metrics."""

from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.plugins.forward.handler import ForwardPlugin
from clusterdns.plugins.forward.metrics import ForwardMetrics
from clusterdns.plugins.forward.options import parse_forward
from clusterdns.plugins.forward.upstream import NetworkExchanger


def setup(directive: Directive, context: SetupContext) -> ForwardPlugin:
    """The `forward` handler for one stanza, its metrics shared by every stanza of the process."""
    config = parse_forward(directive, context.read_file)
    metrics = context.shared.get(
        "forward.metrics", ForwardMetrics, lambda: ForwardMetrics(context.registry)
    )
    return ForwardPlugin(
        config, NetworkExchanger(), context.rng, metrics=metrics, clock=context.clock
    )
