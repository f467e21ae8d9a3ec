"""The `kubernetes` handler: answers from the current zone snapshot, or passes the query on."""

from clusterdns.dns.records import CLASS_IN, Rcode
from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.kubernetes.answer import answer, answer_scope
from clusterdns.plugins.kubernetes.setup import KubernetesConfig
from clusterdns.plugins.kubernetes.snapshot import SnapshotHolder


class KubernetesHandler:
    """Reads `holder.current` once per query and answers for the configured zones."""

    name = "kubernetes"

    def __init__(self, config: KubernetesConfig, holder: SnapshotHolder) -> None:
        self.config = config
        self.holder = holder

    async def serve(self, request: Request, next: Next) -> Response:
        """Answer names in our zones; everything else (and fallthrough) goes to `next`."""
        query = request.query
        if query.qclass != CLASS_IN:
            return await next(request)
        result = answer(self.holder.current, self.config, query.name, query.qtype)
        if result is None:
            return await next(request)
        # A SERVFAIL before the first sync must not outlive it in the pre-encoded answers.
        return Response(
            self.name,
            answer=result,
            cacheable=result.rcode != Rcode.SERVFAIL,
            scope=answer_scope(self.config, query.name),
        )
