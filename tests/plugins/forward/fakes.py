"""Fakes for forward tests: a resolver in the test's own loop, a scripted exchanger, queries."""

import asyncio
import struct
from collections.abc import Awaitable
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from clusterdns.dns.message import decode_query
from clusterdns.errors import UpstreamError
from clusterdns.plugin import Request, Response
from clusterdns.plugins.forward.options import Upstream
from clusterdns.plugins.forward.upstream import Transport

# How a fake answers one name: answer (an A record), servfail, refused, nxdomain, silent,
# hold (answer once `release` is set), wrong-id, wrong-name, truncate (TC over UDP, 100 A
# records over TCP), no-opt (an answer without OPT even to an EDNS query).
BEHAVIOURS = (
    "no-opt",
    "answer",
    "servfail",
    "refused",
    "nxdomain",
    "silent",
    "hold",
    "wrong-id",
    "wrong-name",
    "truncate",
)


@dataclass(frozen=True)
class Seen:
    """One query a fake received."""

    transport: str
    name: str
    qtype: str
    recursion_desired: bool


def reply_to(wire: bytes, behaviour: str, transport: str, address: str) -> bytes | None:
    """The reply `behaviour` gives to `wire`, or None for silence."""
    query = dns.message.from_wire(wire)
    question = query.question[0]
    if behaviour == "silent":
        return None
    response = dns.message.make_response(query)
    response.flags |= dns.flags.RA
    rcodes = {"servfail": dns.rcode.SERVFAIL, "refused": dns.rcode.REFUSED}
    if behaviour in (*rcodes, "nxdomain"):
        response.set_rcode(rcodes.get(behaviour, dns.rcode.NXDOMAIN))
        return response.to_wire()
    if behaviour == "wrong-id":
        response.id = (query.id + 1) % 65536
    if behaviour == "wrong-name":
        response.question[0] = dns.rrset.RRset(
            dns.name.from_text("evil.example."), dns.rdataclass.IN, question.rdtype
        )
    if behaviour == "no-opt":
        response.use_edns(False)
    addresses = [address]
    if behaviour == "truncate":
        if transport == "udp":
            response.flags |= dns.flags.TC
            return response.to_wire()
        addresses = [f"192.0.2.{i}" for i in range(1, 101)]
    if question.rdtype == dns.rdatatype.A:
        response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", *addresses))
    return response.to_wire()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, fake: "LoopUpstream") -> None:
        self.fake = fake
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram endpoint's

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.fake.spawn(self._answer(data, addr))

    async def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self.fake.reply(data, "udp")
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


class LoopUpstream:
    """A scripted resolver on 127.0.0.1 (UDP, and TCP unless `tcp` is False) in this loop."""

    def __init__(self, address: str = "192.0.2.1", tcp: bool = True) -> None:
        self.address = address
        self.tcp = tcp
        self.scripts: dict[str, str] = {}
        self.seen: list[Seen] = []
        self.release = asyncio.Event()
        self.arrived = asyncio.Event()
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> "LoopUpstream":
        """Bind UDP and TCP on one free port (the UDP pick may be taken for TCP: retry)."""
        loop = asyncio.get_running_loop()
        for _ in range(50):
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=("127.0.0.1", 0)
            )
            self._udp = transport
            self.port = transport.get_extra_info("sockname")[1]
            if not self.tcp:
                return self
            try:
                self._server = await asyncio.start_server(self._stream, "127.0.0.1", self.port)
                return self
            except OSError:
                transport.close()
        raise OSError("no free port for both UDP and TCP")

    @property
    def upstream(self) -> Upstream:
        """This fake as the plugin's upstream."""
        return Upstream("127.0.0.1", self.port)

    def script(self, name: str, behaviour: str) -> None:
        """Answer `name` (absolute, lowercase) as `behaviour` says."""
        assert behaviour in BEHAVIOURS, behaviour
        self.scripts[name] = behaviour

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run `coro` as a task this fake cancels on close."""
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def reply(self, data: bytes, transport: str) -> bytes | None:
        """Record the query and produce the scripted reply (after `release` for hold)."""
        query = dns.message.from_wire(data)
        question = query.question[0]
        name = question.name.to_text().lower()
        rd = bool(query.flags & dns.flags.RD)
        self.seen.append(Seen(transport, name, dns.rdatatype.to_text(question.rdtype), rd))
        self.arrived.set()
        behaviour = self.scripts.get(name, "answer")
        if behaviour == "hold":
            await self.release.wait()
            behaviour = "answer"
        return reply_to(data, behaviour, transport, self.address)

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            reply = await self.reply(await reader.readexactly(length), "tcp")
            if reply is not None:
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
                await reader.read()  # the client closes first
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away: nothing to answer
        finally:
            writer.close()

    def transports(self) -> list[str]:
        """The transport of every query seen, in order."""
        return [seen.transport for seen in self.seen]

    async def close(self) -> None:
        """Stop listening and cancel pending replies."""
        for task in list(self._tasks):
            task.cancel()
        if self._udp is not None:
            self._udp.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@dataclass
class FakeExchanger:
    """An in-memory Exchanger: each upstream answers, fails at once, or hangs, as scripted."""

    behaviour: dict[Upstream, str] = field(default_factory=dict)  # answer, error, hang, nxdomain
    calls: list[tuple[Upstream, Transport, str, str]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def exchange(
        self, wire: bytes, upstream: Upstream, transport: Transport = "udp"
    ) -> bytes:
        """The scripted outcome of one exchange."""
        query = decode_query(wire)
        self.calls.append(
            (
                upstream,
                transport,
                query.name,
                dns.rdatatype.to_text(dns.rdatatype.RdataType.make(query.qtype)),
            )
        )
        async with self.changed:
            self.changed.notify_all()
        behaviour = self.behaviour.get(upstream, "answer")
        if behaviour == "error":
            raise UpstreamError(f"{upstream}: refused")
        if behaviour == "hang":
            await self.release.wait()
            behaviour = "answer"
        reply = reply_to(wire, behaviour, transport, "192.0.2.1")
        assert reply is not None
        return reply

    async def wait_for_calls(self, count: int) -> None:
        """Return once `count` exchanges have begun (fails the test after 5 s)."""

        async def reached() -> None:
            async with self.changed:
                await self.changed.wait_for(lambda: len(self.calls) >= count)

        await asyncio.wait_for(reached(), 5)

    def queried(self, qtype: str = "A") -> list[Upstream]:
        """The upstreams asked questions of type `qtype` (NS: health probes), in order."""
        return [upstream for upstream, _, _, asked in self.calls if asked == qtype]


def request(
    name: str,
    qtype: str = "A",
    protocol: str = "udp",
    edns: int = -1,
    want_dnssec: bool = False,
    payload: int = 1232,
) -> Request:
    """A decoded query for `name` as the chain would pass it (EDNS version `edns`, -1: none)."""
    message = dns.message.make_query(
        name, qtype, use_edns=edns, want_dnssec=want_dnssec, payload=payload
    )
    wire = message.to_wire()
    return Request(decode_query(wire), protocol, ("127.0.0.1", 5300))


async def next_plugin(request: Request) -> Response:
    """The rest of the chain: answers with a marker response."""
    return Response("next")


def reply_of(response: Response) -> dns.message.Message:
    """The forwarded reply in `response`."""
    assert response.wire is not None, response
    return dns.message.from_wire(response.wire)
