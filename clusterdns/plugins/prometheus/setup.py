"""`prometheus [ADDRESS]`: registers /metrics, rendering the process's registry."""

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric

from clusterdns.corefile.directive import expect_args, expect_no_block
from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.server.http import HttpListeners, HttpReply

DEFAULT_ADDRESS = "localhost:9153"


@dataclass(frozen=True, slots=True)
class PrometheusPlugin:
    """Where /metrics is served."""

    address: str = DEFAULT_ADDRESS
    name: str = "prometheus"


def setup(directive: Directive, context: SetupContext) -> PrometheusPlugin:
    """Parse the stanza and route /metrics to the shared registry."""
    args = expect_args(directive, 0, 1)
    expect_no_block(directive)
    plugin = PrometheusPlugin(args[0] if args else DEFAULT_ADDRESS)
    registry = context.registry
    listeners = context.shared.get("http", HttpListeners, HttpListeners)
    exported = WithoutCreated(registry)
    listeners.route(
        plugin.address,
        "/metrics",
        lambda: HttpReply(200, generate_latest(exported), CONTENT_TYPE_LATEST),
    )
    return plugin


class WithoutCreated:
    """`registry` as CoreDNS's exposition shows it: no `*_created` series.

    prometheus_client adds a `_created` timestamp to every counter and histogram it owns;
    Go's client (CoreDNS) writes none in the text format, and dashboards that match
    `coredns_.*` by regex would pick them up as extra series.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        """The registry's families with their `_created` samples left out."""
        for family in self.registry.collect():
            samples = [s for s in family.samples if not s.name.endswith("_created")]
            if len(samples) != len(family.samples):
                copy = Metric(family.name, family.documentation, family.type, family.unit)
                copy.samples = samples
                family = copy
            yield family
