"""The `acl` handler: the first rule whose zone and policy match decides; default allow."""

import functools
import ipaddress
import logging

from clusterdns.dns.names import longest_zone
from clusterdns.dns.records import Answer, Rcode
from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.acl.metrics import AclMetrics
from clusterdns.plugins.acl.options import Rule

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4096)
def _source(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The client's address, parsed once per address seen (a zone index is dropped)."""
    return ipaddress.ip_address(host.split("%", 1)[0])


class AclHandler:
    """Evaluates the block's `acl` rules in Corefile order for every query."""

    name = "acl"

    def __init__(self, rules: list[Rule], metrics: AclMetrics, server: str) -> None:
        self.rules = rules
        self.metrics = metrics
        self.server = server

    async def serve(self, request: Request, next: Next) -> Response:
        """Allow (pass on), block (REFUSED), filter (empty NOERROR) or drop (no reply)."""
        decided = self.decide(request)
        if decided is None:
            self.metrics.allowed.labels(self.server, "").inc()
            return await next(request)
        action, zone = decided
        if action == "drop":
            self.metrics.dropped.labels(self.server, zone, "").inc()
            return Response(self.name, drop=True)
        if action == "block":
            self.metrics.blocked.labels(self.server, zone, "").inc()
            return Response(self.name, answer=Answer(Rcode.REFUSED))
        self.metrics.filtered.labels(self.server, zone, "").inc()
        return Response(self.name, answer=Answer(Rcode.NOERROR))

    def decide(self, request: Request) -> tuple[str, str] | None:
        """(action, zone) of the first block/filter/drop that matches; None to allow."""
        name, qtype = request.query.name, request.query.qtype
        try:
            source = _source(request.client[0])
        except ValueError:
            logger.error("plugin/acl: blocking a query from unparsable address %s", request.client)
            return "block", "."
        for rule in self.rules:
            zone = longest_zone(name, rule.zones)
            if zone is None:
                continue
            for policy in rule.policies:
                if policy.matches(qtype, source):
                    if policy.action == "allow":
                        return None
                    return policy.action, zone
        return None
