"""One listen address: sockets that answer over UDP and TCP, pre-encoding as told, a clean close."""

import asyncio
import socket
from dataclasses import dataclass

import dns.message
import pytest

from clusterdns.chain import Chain
from clusterdns.clock import SystemClock
from clusterdns.dns.records import Address, Answer, Rcode, Record, RType
from clusterdns.errors import ConfigError
from clusterdns.plugin import Next, Request, Response
from clusterdns.server.connections import TcpLimits
from clusterdns.server.dispatch import ZoneChain
from clusterdns.server.listener import ListenAddress, Listener
from clusterdns.server.metrics import ServerCounters
from tests.conftest import Client

NAME = "name.test."


@dataclass
class Fixed:
    """A handler answering every question with one A record, cacheable under scope `name`."""

    address: str
    name: str = "fixed"

    async def serve(self, request: Request, next: Next) -> Response:
        record = Record(request.query.name, RType.A, 60, Address(self.address))
        answer = Answer(Rcode.NOERROR, (record,), authoritative=True)
        return Response(self.name, answer=answer, cacheable=True, scope=self.name)


def blocks(address: str) -> list[ZoneChain]:
    """One block for the root zone whose chain is a `Fixed` handler."""
    return [ZoneChain((".",), Chain([Fixed(address)]))]


async def opened(pre_encode: bool = True, limits: TcpLimits | None = None) -> Listener:
    """A listener on 127.0.0.1, a free port, answering 10.0.0.1."""
    key = ListenAddress(0, ("127.0.0.1",))
    return await Listener.open(
        key,
        blocks("10.0.0.1"),
        ServerCounters("dns://127.0.0.1:0"),
        pre_encode=pre_encode,
        limits=limits or TcpLimits(),
        clock=SystemClock(),
    )


async def asked(listener: Listener, tcp: bool = False) -> list[str]:
    """The answer section a client gets for NAME, as zone-file lines."""
    client = Client(listener.bound[0][1])
    query = dns.message.make_query(NAME, "A")
    reply = await (client.tcp(query) if tcp else client.udp(query))
    return [rrset.to_text() for rrset in reply.answer]


async def test_answers_over_udp_and_tcp_then_closes() -> None:
    listener = await opened()
    port = listener.bound[0][1]
    try:
        assert await asked(listener) == [f"{NAME} 60 IN A 10.0.0.1"]
        assert await asked(listener, tcp=True) == [f"{NAME} 60 IN A 10.0.0.1"]
    finally:
        await listener.close()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


@pytest.mark.parametrize(
    ("before", "after", "from_store"),
    [
        pytest.param(True, True, 1, id="stays-on"),
        pytest.param(True, False, 0, id="turned-off"),  # e.g. `log` added by a reload
        pytest.param(False, True, 1, id="turned-on"),  # e.g. `log` removed by a reload
    ],
)
async def test_adopt_switches_pre_encoding_and_chains(
    before: bool, after: bool, from_store: int
) -> None:
    listener = await opened(pre_encode=before)
    try:
        listener.adopt(blocks("10.0.0.2"), pre_encode=after, limits=TcpLimits(max_queries=2))
        (store,) = listener.stores
        hits = store.hits
        for _ in range(3):  # stored on the second sighting, replayed on the third
            assert await asked(listener) == [f"{NAME} 60 IN A 10.0.0.2"]
        assert store.hits - hits == from_store
        assert listener.tcp[0].limits.max_queries == 2
    finally:
        await listener.close()


async def test_zone_changed_drops_what_was_pre_encoded() -> None:
    listener = await opened()
    try:
        for _ in range(3):
            await asked(listener)
        (store,) = listener.stores
        assert store.hits == 1  # pre-encoded before the change
        listener.zone_changed(["fixed"])
        hits = store.hits
        await asked(listener)
        assert store.hits == hits  # recomputed through the chain, not replayed
    finally:
        await listener.close()


async def test_a_busy_port_is_a_config_error_naming_it() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1 port {port}"):
            await Listener.open(
                ListenAddress(port, ("127.0.0.1",)),
                blocks("10.0.0.1"),
                ServerCounters("dns://127.0.0.1:0"),
                pre_encode=True,
                limits=TcpLimits(),
                clock=SystemClock(),
            )
