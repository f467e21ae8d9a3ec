"""`template`: every occurrence in a server block parsed into one handler's ordered templates."""

from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.plugins.template.handler import TemplateHandler
from clusterdns.plugins.template.metrics import TemplateMetrics
from clusterdns.plugins.template.options import parse_templates


def setup(directives: Directive | tuple[Directive, ...], context: SetupContext) -> TemplateHandler:
    """One handler for all `template` directives of a block, in Corefile order (CoreDNS)."""
    found = directives if isinstance(directives, tuple) else (directives,)
    templates = parse_templates(found, context.zones)
    metrics = context.shared.get(
        "template.metrics", TemplateMetrics, lambda: TemplateMetrics(context.registry)
    )
    return TemplateHandler(templates, metrics, context.server, context.lookup)
