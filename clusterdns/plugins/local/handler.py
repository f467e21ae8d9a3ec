"""The `local` handler: local names are answered here and never leave the server."""

from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.local.answer import answer, is_localhost_form
from clusterdns.plugins.local.metrics import LocalMetrics


class LocalHandler:
    """Answers localhost and loopback reverse names; passes everything else on."""

    name = "local"

    def __init__(self, prefix: bool, metrics: LocalMetrics) -> None:
        self.prefix = prefix
        self.metrics = metrics

    async def serve(self, request: Request, next: Next) -> Response:
        """The local answer, or the next plugin's for any other name."""
        query = request.query
        found = answer(query.name, query.qtype, self.prefix)
        if found is None:
            return await next(request)
        if is_localhost_form(query.name, self.prefix):
            self.metrics.localhost.inc()
            return Response(self.name, answer=found)  # counted per query: not pre-encoded
        return Response(self.name, answer=found, cacheable=True, scope=self.name)
