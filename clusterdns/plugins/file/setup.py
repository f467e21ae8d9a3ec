"""`file`: parse the stanza, load its zones (errors name the zone file's line), make the handler."""

import logging

from clusterdns.corefile.directive import directive_error
from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.plugins.file.handler import (
    FileHandler,
    Sources,
    ZoneFileUnreadable,
    load_zones,
)
from clusterdns.plugins.file.options import parse
from clusterdns.plugins.file.zone import Zone

logger = logging.getLogger(__name__)


def setup(directive: Directive, context: SetupContext) -> FileHandler:
    """Load the zones now: a bad record stops start-up with FILE:LINE and the bad token.

    A file that cannot be read is an error too, unless `reload` will look again (CoreDNS then
    warns and answers SERVFAIL for the zone until the file appears).
    """
    config = parse(directive, context.zones)
    zones: dict[str, Zone | None]
    sources: Sources = {}
    try:
        sources, loaded = load_zones(config, context.read_file)
    except ZoneFileUnreadable as exc:
        if config.reload <= 0:
            raise directive_error(directive, f"cannot read zone file: {exc}") from None
        logger.warning("%s:%d: file: %s; trying again", directive.file, directive.line, exc)
        zones = dict.fromkeys(config.zones)
    else:
        zones = dict(loaded)
    return FileHandler(
        config, zones, sources, context.read_file, context.zone_changed, context.lookup
    )
