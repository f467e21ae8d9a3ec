"""What a plugin is: request and response values, the hooks a server calls, the order."""

import asyncio
import random
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, runtime_checkable

from prometheus_client import CollectorRegistry

from clusterdns.clock import Clock
from clusterdns.dns.message import Query
from clusterdns.dns.records import Answer
from clusterdns.server.connections import TcpLimits

# CoreDNS plugin.cfg order: execution order, whatever order the Corefile lists them in.
PLUGIN_ORDER = (
    "timeouts",
    "reload",
    "nsid",
    "bufsize",
    "debug",
    "ready",
    "health",
    "prometheus",
    "errors",
    "log",
    "local",
    "acl",
    "any",
    "chaos",
    "loadbalance",
    "cache",
    "rewrite",
    "autopath",
    "minimal",
    "template",
    "hosts",
    "k8s_external",
    "kubernetes",
    "file",
    "loop",
    "forward",
    "whoami",
)


@dataclass(frozen=True, slots=True)
class Request:
    """One query as the chain sees it: the decoded message and where it came from."""

    query: Query
    protocol: str  # "udp" or "tcp"
    client: tuple[str, int]


# The scope of a cacheable answer whose dependencies are unknown: any zone change drops it.
EVERYTHING: Hashable = "*"


@dataclass(frozen=True, slots=True)
class Family:
    """A claim that every name one label below `parent` gets the same answer, but `taken` ones.

    The kubernetes plugin makes it for a name error below a Service or a namespace (a random
    subdomain, a Service that does not exist), and for a pod name (`10-244-1-5.ns.pod`): the
    answer says nothing of the first label, or only `data(label)` (the pod's address, the
    one part of the reply that differs), so the server may give it to any sibling name whose
    first label consists of letters, digits and hyphens and is not `taken` (the labels whose
    answer may differ in more), until `scope` changes. It survives only a chain whose every
    handler `keeps_families` (chain.Chain).
    """

    parent: str  # lowercase, absolute: "svc.ns.svc.cluster.local."
    taken: Callable[[str], bool]  # a lowercase label whose answer may differ
    scope: Hashable  # the zone data the claim depends on, as the answer's scope names it
    # The bytes of the reply a sibling's label changes (a pod's address as RDATA); None: none.
    data: Callable[[str], bytes] | None = None
    # Claims of equal `kind` and parent cover the same siblings the same way (an IPv4 and an
    # IPv6 pod name below one namespace do not): a claim of another kind replaces the answers
    # stored under the old one.
    kind: Hashable = None


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
    scope: Hashable = EVERYTHING  # the zone data a cacheable answer depends on
    # Further orderings of `answer` (loadbalance): pre-encoded replies cycle through them.
    rotations: tuple[Answer, ...] = ()
    # Seconds a pre-encoded copy may be served at most (answers holding upstream records).
    ttl: float | None = None
    # bufsize: the EDNS payload the client's query was lowered to; the UDP reply must fit it
    # and its OPT advertises it (CoreDNS rewrites the request's OPT in place).
    udp_size: int | None = None
    drop: bool = False  # acl drop: send no reply at all
    # `answer` already encoded in full for this request's query (by `log`, which needs its
    # size): the server sends these bytes when they fit instead of encoding again.
    encoded: bytes | None = None
    # Called on every hit of the pre-encoded copy, which the plugin no longer sees (the
    # cache plugin's hit counters); None: nothing to count.
    on_hit: Callable[[], None] | None = None
    # Called on every hit of the pre-encoded copy with (query bytes, reply bytes, client,
    # monotonic time the query was read): `log` writes its line for hits it never sees.
    observe: "Callable[[bytes, bytes, tuple[str, int], float], None] | None" = None
    # This answer holds for the question's sibling names too (see Family); None: only for it.
    family: Family | None = None

    def counting_hits(self, on_hit: Callable[[], None]) -> "Response":
        """This response with `on_hit` set: `dataclasses.replace` costs 5 µs per query here."""
        return Response(
            self.plugin,
            self.answer,
            self.wire,
            self.cacheable,
            self.scope,
            self.rotations,
            self.ttl,
            self.udp_size,
            self.drop,
            self.encoded,
            on_hit,
            self.observe,
            self.family,
        )


Next = Callable[[Request], Awaitable[Response]]


@runtime_checkable
class Handler(Protocol):
    """A plugin's query handler: answer, or pass the request to `next`."""

    name: str

    async def serve(self, request: Request, next: Next) -> Response:
        """Produce the response to `request`."""
        ...


@runtime_checkable
class Lifecycle(Protocol):
    """A plugin with work outside queries (listeners, watches, timers): started and stopped."""

    async def start(self) -> None:
        """Begin; called once the server's sockets are bound."""
        ...

    async def stop(self) -> None:
        """End; must return promptly."""
        ...


@runtime_checkable
class ReadyReporter(Protocol):
    """A plugin the `ready` plugin asks: True once it can answer (CoreDNS ready.Readiness)."""

    def ready(self) -> bool:
        """True when ready."""
        ...


@runtime_checkable
class ReadyDescriber(Protocol):
    """A ready reporter that can say what it waits for, or sum up what it serves."""

    def describe_ready(self) -> str:
        """One line: the wait while not ready, a short summary once ready."""
        ...


@runtime_checkable
class AwaitsReady(Protocol):
    """A plugin a reload waits for before swapping it in (CoreDNS waits for the first sync)."""

    async def wait_ready(self) -> None:
        """Return once the plugin can answer."""
        ...


@runtime_checkable
class Aimed(Protocol):
    """A plugin that needs the address its server was bound to (`loop` probes it)."""

    def aim(self, address: tuple[str, int]) -> None:
        """Take the first address bound for the server's port."""
        ...


@runtime_checkable
class Lameduck(Protocol):
    """A plugin asking to keep answering for a while after SIGTERM (`health { lameduck }`)."""

    @property
    def lameduck(self) -> float:
        """Seconds to keep answering."""
        ...


@runtime_checkable
class TcpTuning(Protocol):
    """A plugin that changes its server's TCP connection limits (`timeouts`)."""

    def tune_tcp(self, limits: TcpLimits) -> TcpLimits:
        """`limits` as this plugin sets them."""
        ...


@runtime_checkable
class Linked(Protocol):
    """A plugin that uses another plugin of its server block (CoreDNS: a Handler lookup in
    OnStartup), linked once every plugin of the block is set up."""

    def link(self, plugins: Mapping[str, object]) -> None:
        """Take what it needs from the block's plugins, by directive; CorefileError if absent."""
        ...


ZoneChange = Callable[[Iterable[Hashable] | None], None]
T = TypeVar("T")


class Shared:
    """Objects there is one of per process (metric families, HTTP listeners), made on first use.

    Several server blocks may each set up `cache` or `prometheus :9153`; their setups share
    one metrics object and one listener through here instead of through module globals.
    """

    def __init__(self) -> None:
        self._objects: dict[str, object] = {}

    def get(self, key: str, kind: type[T], factory: Callable[[], T]) -> T:
        """The object stored under `key`, made by `factory` the first time."""
        if key not in self._objects:
            self._objects[key] = factory()
        found = self._objects[key]
        if not isinstance(found, kind):
            raise TypeError(f"shared {key!r} is a {type(found).__name__}, not {kind.__name__}")
        return found


@dataclass
class Reloader:
    """How a reload happens: where the Corefile is read, what applies a new text (one a process).

    The app fills `read` and `apply` in; the `reload` plugin only decides when.
    """

    read: Callable[[], str] | None = None
    apply: Callable[[str], Awaitable[bool]] | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # tests pass a controlled one


@dataclass(frozen=True)
class SetupContext:
    """What a setup function may use besides its stanza: never the global state of the process.

    `zones` are the normalized zones of the server block. `read_file` reads a file (e.g.
    /etc/resolv.conf) so setups stay testable; `environ` replaces os.environ. `zone_changed`
    tells the server that answers filed under these scopes (None: all) are stale.
    """

    zones: tuple[str, ...]
    registry: CollectorRegistry
    clock: Clock
    rng: random.Random
    read_file: Callable[[str], str]
    shared: Shared = field(default_factory=Shared)
    environ: Mapping[str, str] = field(default_factory=dict)
    zone_changed: ZoneChange = field(default=lambda scopes: None)
    server: str = "dns://:53"
    listen: tuple[str, ...] = ()  # the block's `bind` addresses; () means every interface
    # Runs a request through this server from the top, routed by zone: how the kubernetes
    # plugin resolves an ExternalName's target through cache and forward (CoreDNS upstream).
    lookup: "Next | None" = None
