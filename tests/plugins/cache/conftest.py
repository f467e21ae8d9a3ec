"""Helpers for the cache tests: a fake clock, a scripted `next`, queries and replies."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
from prometheus_client import CollectorRegistry

from clusterdns.corefile.parser import Directive, parse_corefile
from clusterdns.dns.message import Query, decode_query
from clusterdns.plugin import Next, Request, Response, SetupContext, Shared
from clusterdns.plugins.cache.handler import CachePlugin
from clusterdns.plugins.cache.setup import setup
from tests.fakes.plugins import FakeClock as FakeClock  # re-exported for the tests

SERVER = "dns://:53"


def stanza(text: str, keys: str = ".:53") -> Directive:
    """The first directive of a server block holding `text` (which starts on line 2)."""
    return parse_corefile(f"{keys} {{\n{text}\n}}\n").blocks[0].directives[0]


def context(
    clock: FakeClock,
    zones: tuple[str, ...] = (".",),
    registry: CollectorRegistry | None = None,
    shared: Shared | None = None,
) -> SetupContext:
    """A setup context with a fresh registry, the fake clock and no files."""
    return SetupContext(
        zones=zones,
        registry=registry or CollectorRegistry(),
        clock=clock,
        rng=random.Random(0),
        read_file=lambda path: "",
        shared=shared or Shared(),
        server=SERVER,
    )


class Cache:
    """A cache plugin set up from a Corefile stanza, with the registry it counts in."""

    def __init__(
        self,
        text: str,
        clock: FakeClock,
        keys: str = ".:53",
        zones: tuple[str, ...] = (".",),
        registry: CollectorRegistry | None = None,
        shared: Shared | None = None,
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self.plugin: CachePlugin = setup(
            stanza(text, keys), context(clock, zones, self.registry, shared)
        )

    async def ask(self, request: Request, next: Next) -> Response:
        """Serve `request` with `next` behind the cache."""
        return await self.plugin.serve(request, next)

    def metric(self, name: str, **labels: str) -> float:
        """A sample of this cache's series (0 when it was never touched)."""
        base = {"server": SERVER, "zones": self.plugin.config.zones_label, "view": ""}
        value = self.registry.get_sample_value(name, {**base, **labels})
        return 0.0 if value is None else value


def request(
    name: str,
    qtype: str = "A",
    ident: int = 1,
    edns: bool = False,
    do: bool = False,
    cd: bool = False,
    ad: bool = False,
) -> Request:
    """A request decoded from real query bytes made by dnspython."""
    message = dns.message.make_query(
        name, qtype, use_edns=0 if edns or do else None, want_dnssec=do
    )
    message.id = ident
    if cd:
        message.flags |= dns.flags.CD
    if ad:
        message.flags |= dns.flags.AD
    return Request(decode_query(message.to_wire()), "udp", ("127.0.0.1", 5353))


def rrset(line: str) -> dns.rrset.RRset:
    """An RRset from a zone-file line `name ttl IN TYPE data`."""
    name, ttl, rdclass, rdtype, *data = line.split()
    return dns.rrset.from_text(name, int(ttl), rdclass, rdtype, " ".join(data))


def reply(
    query: Query,
    answer: Iterable[str] = (),
    authority: Iterable[str] = (),
    rcode: dns.rcode.Rcode = dns.rcode.NOERROR,
    flags: int = dns.flags.RA,
    name: str | None = None,
) -> bytes:
    """A wire reply to `query` built by dnspython, records given as zone-file lines."""
    message = dns.message.from_wire(query.wire)
    if name is not None:
        # A reply to another question, as a confused or spoofing upstream might send.
        ident, message = message.id, dns.message.make_query(name, message.question[0].rdtype)
        message.id = ident
    response = dns.message.make_response(message)
    response.flags |= flags
    response.set_rcode(rcode)
    response.answer.extend(rrset(line) for line in answer)
    response.authority.extend(rrset(line) for line in authority)
    return response.to_wire()


Script = Callable[[Query], Response]


def wire_of(
    answer: Iterable[str] = (),
    authority: Iterable[str] = (),
    rcode: dns.rcode.Rcode = dns.rcode.NOERROR,
    flags: int = dns.flags.RA,
    name: str | None = None,
) -> Script:
    """A script step answering with a wire reply, as the forward plugin does."""
    lines, auth = tuple(answer), tuple(authority)

    def step(query: Query) -> Response:
        return Response("forward", wire=reply(query, lines, auth, rcode, flags, name))

    return step


class Scripted:
    """A scripted `next`: each call takes the next step (the last repeats) and is counted."""

    def __init__(self, *steps: Script | Response | Exception) -> None:
        self.steps = steps
        self.requests: list[Request] = []
        self.called = asyncio.Event()

    @property
    def calls(self) -> int:
        """How many times the chain behind the cache was asked."""
        return len(self.requests)

    async def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        self.called.set()
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, Response):
            return step
        return step(request.query)


def parse(response: Response) -> dns.message.Message:
    """The wire of `response` parsed by dnspython."""
    assert response.wire is not None
    return dns.message.from_wire(response.wire)


def ttls(response: Response) -> list[int]:
    """The TTL of every RRset in every section of a wire or structured response."""
    if response.answer is not None:
        answer = response.answer
        return [r.ttl for r in answer.answer + answer.authority + answer.additional]
    message = parse(response)
    return [rrset.ttl for section in message.sections[1:] for rrset in section]
