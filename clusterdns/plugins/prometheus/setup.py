"""`prometheus [ADDRESS]`: registers /metrics, rendering the process's registry."""

from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

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
    listeners.route(
        plugin.address,
        "/metrics",
        lambda: HttpReply(200, generate_latest(registry), CONTENT_TYPE_LATEST),
    )
    return plugin
