"""The handler chain of one server block, run in PLUGIN_ORDER."""

from collections.abc import Awaitable, Generator

from clusterdns.dns.records import Answer, Rcode
from clusterdns.plugin import PLUGIN_ORDER, Handler, Next, Request, Response

# Handlers that may need a running task before they first suspend (`asyncio.timeout` asks
# for the current task): the chain yields to the event loop just before them, so a query
# the server started running synchronously moves into a task there (server.dispatch).
# A handler can also say so itself with a true `needs_task` attribute.
NEEDS_TASK = frozenset({"forward"})


async def _end_of_chain(request: Request) -> Response:
    # CoreDNS plugin.NextOrFailure: nothing left to ask is a server failure.
    return Response(plugin="", answer=Answer(Rcode.SERVFAIL))


class _Suspend:
    """An awaitable that gives the loop one turn (what `asyncio.sleep(0)` does, cheaper)."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield


_SUSPEND = _Suspend()


class Chain:
    """Handlers sorted into PLUGIN_ORDER, linked once so a query costs one call per plugin.

    Each link is the next handler's bound `serve` with its `next` filled in: no wrapper
    coroutine per plugin. A query whose handlers never wait completes without suspending.
    """

    def __init__(self, handlers: list[Handler]) -> None:
        order = {name: index for index, name in enumerate(PLUGIN_ORDER)}
        self.handlers = tuple(sorted(handlers, key=lambda h: order.get(h.name, len(order))))
        entry: Next = _end_of_chain
        for handler in reversed(self.handlers):
            entry = _link(handler, entry)
        self._entry = entry
        # Sibling names may share an answer (plugin.Family) only when no handler could tell
        # them apart: each says so with a true `keeps_families` (the kubernetes plugin claims,
        # `errors`, `cache` with the zone disabled, `loadbalance`... pass the claim on).
        self.keeps_families = all(getattr(h, "keeps_families", False) for h in self.handlers)

    async def serve(self, request: Request) -> Response:
        """Run the chain for `request`."""
        return await self._entry(request)

    @property
    def entry(self) -> Next:
        """The first link: calling it runs the chain (one coroutine fewer than `serve`)."""
        return self._entry


class _Link:
    """Calls one handler with the rest of the chain; returns its coroutine, adds none."""

    __slots__ = ("_serve", "_following")

    def __init__(self, handler: Handler, following: Next) -> None:
        self._serve = handler.serve
        self._following = following

    def __call__(self, request: Request) -> Awaitable[Response]:
        return self._serve(request, self._following)


def _link(handler: Handler, following: Next) -> Next:
    if handler.name in NEEDS_TASK or getattr(handler, "needs_task", False):
        return _in_task(handler, following)
    return _Link(handler, following)


def _in_task(handler: Handler, following: Next) -> Next:
    async def call(request: Request) -> Response:
        await _SUSPEND
        return await handler.serve(request, following)

    return call
