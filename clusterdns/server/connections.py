"""TCP connection limits and the table that enforces them: who may connect, whom to close."""

from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from clusterdns.errors import ConfigError


@dataclass(frozen=True, slots=True)
class TcpLimits:
    """How long a TCP connection may idle or stall, and how many may be open.

    The timeouts are CoreDNS's server defaults (read 3s for the first query, idle 10s between
    queries, write 5s), and `max_queries` is its `maxtcpqueries` (-1: unlimited); the Corefile's
    `timeouts` plugin sets them as CoreDNS's does. CoreDNS does not cap plain TCP connections;
    RFC 7766 §6.2.3 lets a server cap them per client address (loosely, as many clients may
    share one address behind NAT) and §6.2.2 prefers closing idle connections when resources
    run low, which is what the table below does.
    """

    idle_timeout: float = 10.0
    write_timeout: float = 5.0
    read_timeout: float = 3.0
    max_queries: int = -1
    max_connections: int = 1000
    max_per_client: int = 100
    # Above asyncio's default of 100: an unpaced burst of connects must not be dropped by the
    # kernel before we get to accept it (the kernel still caps it at net.core.somaxconn).
    backlog: int = 1024

    def __post_init__(self) -> None:
        for name in ("idle_timeout", "write_timeout", "max_connections", "max_per_client"):
            if not getattr(self, name) > 0:
                flag = "--tcp-" + name.replace("_", "-")
                raise ConfigError(f"{flag}: must be more than 0, got {getattr(self, name)}")
        if self.read_timeout <= 0:
            raise ConfigError(f"TCP read timeout must be more than 0, got {self.read_timeout}")
        if self.max_queries == 0 or self.max_queries < -1:
            raise ConfigError(f"maxtcpqueries must be -1 or more than 0, got {self.max_queries}")
        if self.backlog < 1:
            raise ConfigError(f"TCP listen backlog must be at least 1, got {self.backlog}")


DEFAULT_TCP_LIMITS = TcpLimits()


class Tracked(Hashable, Protocol):
    """What the table needs to know about a connection."""

    @property
    def busy(self) -> bool:
        """True while it has queries in flight or replies it could not write yet."""
        ...


C = TypeVar("C", bound=Tracked)


class ConnectionTable(Generic[C]):
    """Open connections in order of last activity, overall and per client address."""

    def __init__(self, limits: TcpLimits) -> None:
        self.limits = limits
        # dicts keep insertion order: re-inserting on activity makes the first entry the
        # least recently active one, found in O(1) when nothing is busy.
        self._all: dict[C, str] = {}
        self._by_client: dict[str, dict[C, None]] = {}

    def __len__(self) -> int:
        return len(self._all)

    def __iter__(self) -> Iterator[C]:
        return iter(list(self._all))  # a copy: callers close connections while iterating

    def count(self, client: str) -> int:
        """How many connections `client` has open."""
        return len(self._by_client.get(client, ()))

    def admit(self, conn: C, client: str) -> list[C] | None:
        """Add `conn` from `client`; the idle connections to close to make room for it.

        None (and `conn` not added) when the limits are reached and nothing is idle.
        """
        victims: list[C] = []
        if self.count(client) >= self.limits.max_per_client:
            victim = _oldest_idle(self._by_client[client], ())
            if victim is None:
                return None
            victims.append(victim)
        if len(self._all) - len(victims) >= self.limits.max_connections:
            victim = _oldest_idle(self._all, victims)
            if victim is None:
                return None
            victims.append(victim)
        for victim in victims:
            self.remove(victim)
        self._all[conn] = client
        self._by_client.setdefault(client, {})[conn] = None
        return victims

    def touch(self, conn: C) -> None:
        """Mark `conn` as the most recently active."""
        client = self._all.pop(conn, None)
        if client is None:
            return
        self._all[conn] = client
        mine = self._by_client[client]
        del mine[conn]
        mine[conn] = None

    def remove(self, conn: C) -> None:
        """Forget `conn` (closed); a no-op when it is not in the table."""
        client = self._all.pop(conn, None)
        if client is None:
            return
        mine = self._by_client[client]
        del mine[conn]
        if not mine:
            del self._by_client[client]


def _oldest_idle(conns: Mapping[C, object], skip: Sequence[C]) -> C | None:
    for conn in conns:
        if not conn.busy and conn not in skip:
            return conn
    return None
