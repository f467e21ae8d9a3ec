"""The `autopath` handler: walks a pod's search path on the server, answers in one round trip."""

import logging
from collections.abc import Mapping
from dataclasses import replace

from prometheus_client import Counter

from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import Directive
from clusterdns.dns.message import answer_records, make_query
from clusterdns.dns.names import labels_below, longest_zone
from clusterdns.dns.records import CLASS_IN, Answer, Rcode
from clusterdns.dns.wire import Section, walk
from clusterdns.errors import WireError
from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.autopath.options import AutopathConfig
from clusterdns.plugins.autopath.search import (
    base_name,
    continues,
    expand,
    kubernetes_search,
    with_alias,
)
from clusterdns.plugins.kubernetes.handler import KubernetesPlugin

logger = logging.getLogger(__name__)


class AutopathHandler:
    """Server-side search path completion (CoreDNS plugin/autopath)."""

    name = "autopath"

    def __init__(
        self,
        config: AutopathConfig,
        directive: Directive,
        host_search: tuple[str, ...],
        success: Counter,
    ) -> None:
        self.config = config
        self._directive = directive
        self._host_search = host_search
        self._success = success
        self.kubernetes: KubernetesPlugin | None = None

    def link(self, plugins: Mapping[str, object]) -> None:
        """Find `@PLUGIN` in the block; only kubernetes provides search paths (AutoPather)."""
        wanted = self.config.plugin
        if not wanted:
            return
        d = self._directive
        found = plugins.get(wanted)
        if found is None:
            # CoreDNS: a missing plugin leaves autopath without a search path, silently.
            logger.warning("%s:%d: autopath: no %s plugin in this block", d.file, d.line, wanted)
            return
        if not isinstance(found, KubernetesPlugin):
            problem = f"autopath: {wanted} does not implement the AutoPather interface"
            raise CorefileError(d.file, d.line, problem)
        if found.config.pods != "verified":
            logger.warning(
                "%s:%d: autopath: @kubernetes needs `pods verified` to know a client's "
                "namespace; without it nothing is autopathed (as in CoreDNS)",
                d.file,
                d.line,
            )
        self.kubernetes = found

    async def serve(self, request: Request, next: Next) -> Response:
        """Walk the search path when `request` is the first expansion of a name, else pass on."""
        query = request.query
        if query.qclass != CLASS_IN or longest_zone(query.name, self.config.zones) is None:
            return await next(request)
        search = self._search(request)
        base = base_name(query.name, search[0]) if search else None
        if base is None:
            return self._personal(query.name, await next(request))
        first: Response | None = None
        for index, domain in enumerate(search):
            attempt = request
            if index:
                try:
                    expanded = make_query(expand(base, domain), query.qtype, query)
                except WireError:
                    continue  # the expansion is longer than a name may be: not a candidate
                attempt = replace(request, query=expanded)
            response = await next(attempt)
            first = first or response
            if continues(_rcode(response)):
                continue
            if index == 0:
                return response  # the name as asked exists: the same answer for every client
            found = _as_answer(response)
            if found is None:
                break  # records this server cannot re-encode: let the client walk on its own
            self._success.inc()
            return Response(self.name, answer=with_alias(found, query.name), cacheable=False)
        if first is None:
            return await next(request)
        return replace(first, cacheable=False)

    def _search(self, request: Request) -> tuple[str, ...]:
        if not self.config.plugin:
            return self.config.search
        kubernetes = self.kubernetes
        if kubernetes is None:
            return ()
        found = kubernetes_search(
            kubernetes.config,
            kubernetes.holder.current.pod_ips,
            self._host_search,
            request.client[0],
            request.query.name,
        )
        return found or ()

    def _personal(self, qname: str, response: Response) -> Response:
        """Keep a name error for `x.<ns>.svc.<zone>` out of the pre-encoded answers: for a pod
        of namespace <ns> that name is a first expansion, and its answer is autopath's."""
        kubernetes = self.kubernetes
        if kubernetes is None or not response.cacheable or _rcode(response) != Rcode.NXDOMAIN:
            return response
        zone = longest_zone(qname, kubernetes.config.zones)
        if zone is None:
            return response
        labels = labels_below(qname, zone)
        if len(labels) >= 3 and labels[-1] == "svc":
            return replace(response, cacheable=False)
        return response


def _rcode(response: Response) -> int:
    if response.answer is not None:
        return response.answer.rcode
    wire = response.wire
    return wire[3] & 0x0F if wire is not None and len(wire) >= 4 else Rcode.SERVFAIL


def _as_answer(response: Response) -> Answer | None:
    """The reply as an Answer; None if the bytes hold answer records we cannot carry."""
    if response.answer is not None:
        return response.answer
    wire = response.wire
    if wire is None:
        return None
    try:
        expected = len(walk(wire).section(Section.ANSWER))
    except WireError:
        return None
    rcode, records = answer_records(wire)
    if len(records) != expected:
        return None
    return Answer(rcode, records, recursion_available=bool(wire[3] & 0x80))
