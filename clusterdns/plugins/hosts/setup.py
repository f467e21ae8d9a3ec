"""`hosts [FILE [ZONES...]] { ... }`: parse the stanza, read the file once, make the handler."""

from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.plugins.hosts.handler import HostsHandler, read_hosts_file
from clusterdns.plugins.hosts.metrics import HostsMetrics
from clusterdns.plugins.hosts.options import parse
from clusterdns.plugins.hosts.table import parse_hosts


def setup(directive: Directive, context: SetupContext) -> HostsHandler:
    """The handler of a `hosts` stanza; bad inline or file lines are a FILE:LINE error."""
    config = parse(directive, context.zones)
    lines = [(line.file, line.line, line.text) for line in config.inline]
    inline = parse_hosts(lines, config.zones, config.reverse)
    metrics = context.shared.get(
        "hosts.metrics", HostsMetrics, lambda: HostsMetrics(context.registry)
    )
    # Read once at load, so a bad line stops start-up (or a reload) with its FILE:LINE.
    first = read_hosts_file(config.path)
    return HostsHandler(config, inline, first, context.clock, metrics, context.zone_changed)
