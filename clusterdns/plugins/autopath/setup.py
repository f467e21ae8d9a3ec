"""`autopath`: parse the stanza, read the host's search list, make the handler."""

from clusterdns.corefile.parser import Directive
from clusterdns.errors import ConfigError
from clusterdns.plugin import SetupContext
from clusterdns.plugins.autopath.handler import AutopathHandler
from clusterdns.plugins.autopath.metrics import AutopathMetrics
from clusterdns.plugins.autopath.options import parse, resolv_search

RESOLV_CONF = "/etc/resolv.conf"


def setup(directive: Directive, context: SetupContext) -> AutopathHandler:
    """The handler of one stanza; `@PLUGIN` is linked once the whole block is set up.

    With `@kubernetes`, the path ends with this host's own search domains, read from
    /etc/resolv.conf as CoreDNS's kubernetes plugin reads them (none if it cannot be read).
    """
    config = parse(directive, context.zones, context.read_file)
    host_search: tuple[str, ...] = ()
    if config.plugin:
        try:
            host_search = resolv_search(context.read_file(RESOLV_CONF))
        except (OSError, ConfigError):
            host_search = ()
    metrics = context.shared.get(
        "autopath.metrics", AutopathMetrics, lambda: AutopathMetrics(context.registry)
    )
    return AutopathHandler(config, directive, host_search, metrics.success.labels(context.server))
