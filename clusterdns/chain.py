"""The handler chain of one server block, run in PLUGIN_ORDER."""

from clusterdns.dns.records import Answer, Rcode
from clusterdns.plugin import PLUGIN_ORDER, Handler, Next, Request, Response


async def _end_of_chain(request: Request) -> Response:
    # CoreDNS plugin.NextOrFailure: nothing left to ask is a server failure.
    return Response(plugin="", answer=Answer(Rcode.SERVFAIL))


class Chain:
    """Handlers sorted into PLUGIN_ORDER, linked once so a query costs one call per plugin."""

    def __init__(self, handlers: list[Handler]) -> None:
        order = {name: index for index, name in enumerate(PLUGIN_ORDER)}
        self.handlers = tuple(sorted(handlers, key=lambda h: order.get(h.name, len(order))))
        entry: Next = _end_of_chain
        for handler in reversed(self.handlers):
            entry = _link(handler, entry)
        self._entry = entry

    async def serve(self, request: Request) -> Response:
        """Run the chain for `request`."""
        return await self._entry(request)


def _link(handler: Handler, following: Next) -> Next:
    async def call(request: Request) -> Response:
        return await handler.serve(request, following)

    return call
