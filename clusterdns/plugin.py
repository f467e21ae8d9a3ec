"""What a plugin is: the request and response values, the handler protocol and the fixed order."""

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Protocol

from clusterdns.dns.message import Query
from clusterdns.dns.records import Answer

# CoreDNS plugin.cfg order: execution order, whatever order the Corefile lists them in.
PLUGIN_ORDER = (
    "reload",
    "ready",
    "health",
    "prometheus",
    "errors",
    "log",
    "loadbalance",
    "cache",
    "kubernetes",
    "loop",
    "forward",
)


@dataclass(frozen=True, slots=True)
class Request:
    """One query as the chain sees it: the decoded message and where it came from."""

    query: Query
    protocol: str  # "udp" or "tcp"
    client: tuple[str, int]


@dataclass(frozen=True, slots=True)
class Response:
    """A handler's reply: a structured answer, or the raw bytes of a foreign reply.

    `cacheable` marks replies that are a pure function of the question under the current zone
    snapshot, which the server may pre-encode and serve again until the data named by `scope`
    changes.
    """

    plugin: str
    answer: Answer | None = None
    wire: bytes | None = None
    cacheable: bool = False
    scope: Hashable = "*"  # the zone data a cacheable answer depends on; "*": unknown


Next = Callable[[Request], Awaitable[Response]]


class Handler(Protocol):
    """A plugin's query handler: answer, or pass the request to `next`."""

    name: str

    async def serve(self, request: Request, next: Next) -> Response:
        """Produce the response to `request`."""
        ...
