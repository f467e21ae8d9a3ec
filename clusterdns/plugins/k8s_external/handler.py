"""The `k8s_external` handler: answers from the kubernetes plugin's current snapshot."""

from collections.abc import Mapping
from dataclasses import replace

from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import Directive
from clusterdns.dns.message import answer_records, make_query
from clusterdns.dns.records import CLASS_IN, ZONE_TRANSFERS, Answer, Rcode, Record
from clusterdns.plugin import EVERYTHING, Next, Request, Response
from clusterdns.plugins.k8s_external.answer import Reply, answer, external_index
from clusterdns.plugins.k8s_external.options import ExternalConfig
from clusterdns.plugins.kubernetes.handler import KubernetesPlugin
from clusterdns.plugins.kubernetes.objects import Service
from clusterdns.plugins.kubernetes.snapshot import ZoneSnapshot


class ExternalHandler:
    """Serves the k8s_external zones; linked to the block's kubernetes plugin at setup."""

    name = "k8s_external"

    def __init__(self, config: ExternalConfig, directive: Directive, lookup: Next | None) -> None:
        self.config = config
        self._directive = directive
        self._lookup = lookup
        self.kubernetes: KubernetesPlugin | None = None
        self._index: tuple[ZoneSnapshot | None, dict[str, tuple[Service, ...]]] = (None, {})

    def link(self, plugins: Mapping[str, object]) -> None:
        """Find the kubernetes plugin of the same server block (CoreDNS: error if absent)."""
        found = plugins.get("kubernetes")
        if not isinstance(found, KubernetesPlugin):
            d = self._directive
            raise CorefileError(d.file, d.line, "k8s_external: kubernetes plugin not loaded")
        self.kubernetes = found

    async def serve(self, request: Request, next: Next) -> Response:
        """Answer names in our zones from the snapshot; others go to `next`."""
        query = request.query
        kubernetes = self.kubernetes
        if kubernetes is None or query.qclass != CLASS_IN:
            return await next(request)
        if query.qtype in ZONE_TRANSFERS:
            return Response(self.name, answer=Answer(Rcode.REFUSED))
        snapshot = kubernetes.holder.current
        reply = answer(
            snapshot,
            kubernetes.config,
            self.config,
            query.name,
            query.qtype,
            lambda: self._reverse_index(snapshot),
        )
        if reply is None:
            return await next(request)
        if reply.lookups:
            return await self._resolve(request, next, reply)
        # The SOA serial moves with every snapshot: any zone change drops these (EVERYTHING).
        cacheable = reply.answer.rcode != Rcode.SERVFAIL
        return Response(self.name, answer=reply.answer, cacheable=cacheable, scope=EVERYTHING)

    async def _resolve(self, request: Request, next: Next, reply: Reply) -> Response:
        """Append each ingress hostname's records, looked up through the whole server as
        CoreDNS's upstream.Lookup does; a failed lookup leaves the CNAME alone."""
        records: list[Record] = list(reply.answer.answer)
        lookup = self._lookup or next
        for host in reply.lookups:
            query = make_query(host, request.query.qtype, request.query)
            found = await lookup(replace(request, query=query))
            if found.answer is not None:
                records.extend(found.answer.answer)
            elif found.wire is not None:
                records.extend(answer_records(found.wire)[1])
        ttl = min(record.ttl for record in records)
        result = replace(reply.answer, answer=tuple(records))
        return Response(self.name, answer=result, cacheable=ttl > 0, scope=EVERYTHING, ttl=ttl)

    def _reverse_index(self, snapshot: ZoneSnapshot) -> dict[str, tuple[Service, ...]]:
        built_for, index = self._index
        if built_for is not snapshot:
            index = external_index(snapshot)
            self._index = (snapshot, index)
        return index
