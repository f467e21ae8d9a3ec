"""One listen address (a port and its bind addresses): its sockets, dispatcher and answer stores."""

import ipaddress
import socket
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

from clusterdns.clock import Clock
from clusterdns.errors import ConfigError
from clusterdns.server.connections import DEFAULT_TCP_LIMITS, TcpLimits
from clusterdns.server.dispatch import Dispatcher, ZoneChain
from clusterdns.server.hotpath import ANSWER_STORE_ENTRIES, AnswerCache
from clusterdns.server.metrics import ServerCounters
from clusterdns.server.tcp import TcpServer
from clusterdns.server.udp import UdpServer


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """What identifies a listener across reloads: the configured port and the bind addresses."""

    port: int
    addresses: tuple[str, ...]


@dataclass
class Listener:
    """The UDP and TCP servers of one listen address, the dispatcher they share, their stores.

    A reload keeps the listener of an address that stays and hands it the new chains
    (`adopt`); CoreDNS keeps its listeners across reloads the same way.
    """

    key: ListenAddress
    dispatcher: Dispatcher
    udp: list[UdpServer] = field(default_factory=list)
    tcp: list[TcpServer] = field(default_factory=list)
    stores: list[AnswerCache] = field(default_factory=list)
    bound: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    async def open(
        cls,
        key: ListenAddress,
        blocks: list[ZoneChain],
        counters: ServerCounters,
        *,
        pre_encode: bool,
        limits: TcpLimits,
        clock: Clock,
    ) -> "Listener":
        """Bind and start a UDP and a TCP socket on every address (ConfigError if it cannot)."""
        listener = cls(key, Dispatcher(blocks, counters=counters, clock=clock))
        port = key.port
        try:
            for address in key.addresses:
                udp_sock, tcp_sock = bind_pair(address, port)
                port = udp_sock.getsockname()[1]  # port 0: every address shares the first pick
                store = AnswerCache(max_entries=ANSWER_STORE_ENTRIES if pre_encode else 0)
                udp = UdpServer(udp_sock, listener.dispatcher, store)
                udp.start()
                listener.udp.append(udp)
                listener.stores.append(store)
                listener.bound.append((address, port))
                tcp = TcpServer(tcp_sock, listener.dispatcher, limits)
                await tcp.start()
                listener.tcp.append(tcp)
        except ConfigError:
            await listener.close()
            raise
        return listener

    @property
    def counters(self) -> ServerCounters:
        """The server's request counters; they outlive reloads with the listener."""
        return self.dispatcher.counters

    def adopt(self, blocks: list[ZoneChain], *, pre_encode: bool, limits: TcpLimits) -> None:
        """Serve a reloaded server's chains, pre-encoding and TCP limits from now on.

        Pre-encoding follows the new Corefile: `acl` added by the reload must see every query
        (and removing it turns it back on). The stored answers are dropped: they carry the old
        chains' hit observers (a removed `log` must stop logging, an added one start).
        """
        self.dispatcher.replace_blocks(blocks)
        for store in self.stores:
            store.max_entries = ANSWER_STORE_ENTRIES if pre_encode else 0
            store.clear()
        for tcp in self.tcp:
            tcp.set_limits(limits)

    def zone_changed(self, scopes: Iterable[Hashable] | None) -> None:
        """Drop pre-encoded replies filed under `scopes` (None: all) in every store."""
        scope_list = None if scopes is None else tuple(scopes)
        for store in self.stores:
            store.invalidate(scope_list)

    async def close(self) -> None:
        """Stop serving on these sockets."""
        for udp in self.udp:
            udp.close()
        for tcp in self.tcp:
            await tcp.close()


def bind_pair(address: str, port: int) -> tuple[socket.socket, socket.socket]:
    """A UDP and a listening TCP socket on the same address and port (port 0: a free one)."""
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    for _ in range(20 if port == 0 else 1):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        tcp = socket.socket(family, socket.SOCK_STREAM)
        try:
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            udp.bind((address, port))
            tcp.bind((address, udp.getsockname()[1]))
            tcp.listen(DEFAULT_TCP_LIMITS.backlog)  # TcpServer.start listens again with its limits
            tcp.setblocking(False)
            return udp, tcp
        except OSError as exc:
            udp.close()
            tcp.close()
            if port != 0:
                raise ConfigError(f"cannot listen on {address} port {port}: {exc}") from None
    raise ConfigError(f"cannot find a free port on {address} for both UDP and TCP")
