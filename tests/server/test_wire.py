"""The real server on 127.0.0.1 via dnspython: flags, sections, EDNS, truncation, TCP."""

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from clusterdns.app import App
from clusterdns.plugins.kubernetes.handler import KubernetesPlugin
from clusterdns.plugins.kubernetes.source import load_manifests, publish_objects
from tests.conftest import EXAMPLES, Client, listener, plugins
from tests.fakes.upstream import FakeUpstream


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.replies.put_nowait(data)


@contextlib.asynccontextmanager
async def raw_udp(port: int, *payloads: bytes) -> AsyncIterator[_Collector]:
    """Send raw datagrams from one socket; replies collect in the yielded queue."""
    loop = asyncio.get_running_loop()
    transport, collector = await loop.create_datagram_endpoint(
        _Collector, remote_addr=("127.0.0.1", port)
    )
    try:
        for payload in payloads:
            transport.sendto(payload)
        yield collector
    finally:
        transport.close()


def answers(reply: dns.message.Message) -> list[str]:
    return sorted(rrset.to_text() for rrset in reply.answer)


async def test_a_record_flags_and_sections(client: Client) -> None:
    reply = await client.ask("web.demo.svc.cluster.local.")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.AA and reply.flags & dns.flags.RD
    assert not reply.flags & dns.flags.RA
    assert answers(reply) == ["web.demo.svc.cluster.local. 30 IN A 10.96.0.20"]


async def test_question_case_is_preserved_in_question_and_answer(client: Client) -> None:
    for name in ("Web.Demo.SVC.cluster.local.", "WEB.DEMO.SVC.CLUSTER.LOCAL."):  # 2nd: hot path
        reply = await client.ask(name)
        assert reply.question[0].name.to_text() == name
        assert reply.answer[0].name.to_text() == name


async def test_nxdomain_and_nodata_carry_the_soa(client: Client) -> None:
    missing = await client.ask("nope.demo.svc.cluster.local.")
    nodata = await client.ask("web.demo.svc.cluster.local.", "AAAA")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    for reply in (missing, nodata):
        assert reply.flags & dns.flags.AA
        assert [r.rdtype for r in reply.authority] == [dns.rdatatype.SOA]


async def test_edns_is_echoed_and_absent_without_it(client: Client) -> None:
    with_edns = await client.ask("web.demo.svc.cluster.local.", use_edns=0, payload=1232)
    without = await client.ask("web.demo.svc.cluster.local.", use_edns=False)
    assert with_edns.edns == 0 and with_edns.payload == 1232
    assert without.edns == -1


async def test_edns_version_other_than_zero_is_badvers(client: Client) -> None:
    reply = await client.ask("web.demo.svc.cluster.local.", use_edns=1)
    assert reply.rcode() == dns.rcode.BADVERS


async def test_tcp_answers(client: Client) -> None:
    query = dns.message.make_query("_http._tcp.web.demo.svc.cluster.local.", "SRV")
    reply = await client.tcp(query)
    assert answers(reply) == [
        "_http._tcp.web.demo.svc.cluster.local. 30 IN SRV 0 100 80 web.demo.svc.cluster.local."
    ]
    assert [rr.to_text() for rr in reply.additional] == [
        "web.demo.svc.cluster.local. 30 IN A 10.96.0.20"
    ]


async def test_several_pipelined_queries_on_one_tcp_connection(served: App) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.addresses[0][1])
    names = [
        "web.demo.svc.cluster.local.",
        "api.demo.svc.cluster.local.",
        "db.demo.svc.cluster.local.",
    ]
    queries = [dns.message.make_query(name, "A") for name in names]
    writer.write(b"".join(struct.pack("!H", len(w)) + w for w in (q.to_wire() for q in queries)))
    await writer.drain()
    replies = {}
    for _ in names:
        (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 3))
        reply = dns.message.from_wire(await reader.readexactly(length))
        replies[reply.id] = reply
    writer.close()
    assert sorted(replies) == sorted(q.id for q in queries)
    assert all(r.rcode() == dns.rcode.NOERROR and r.answer for r in replies.values())


async def test_tcp_half_frame_then_silence_is_closed_at_idle_timeout(served: App) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.addresses[0][1])
    writer.write(b"\xff\xff" + b"\x00" * 10)  # claims 65535 bytes, sends 10
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), timeout=5) == b""  # closed by the server
    writer.close()


async def test_idle_tcp_connection_is_closed(served: App) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.addresses[0][1])
    assert await asyncio.wait_for(reader.read(), timeout=5) == b""
    writer.close()


async def test_hot_path_serves_repeats_and_swap_invalidates(served: App, client: Client) -> None:
    for _ in range(2):  # pre-encoded on its second sighting
        await client.ask("api.demo.svc.cluster.local.")
    hits = listener(served).stores[0].hits
    again = await client.ask("API.demo.svc.cluster.local.")
    assert listener(served).stores[0].hits == hits + 1
    assert answers(again) == ["API.demo.svc.cluster.local. 30 IN A 10.96.0.30"]
    plugin = plugins(served, "kubernetes")[0]
    assert isinstance(plugin, KubernetesPlugin)
    objects = [o for o in load_manifests([str(EXAMPLES)]) if getattr(o, "name", "") != "api"]
    publish_objects(plugin.store, plugin.holder, objects, serial=2)
    gone = await client.ask("api.demo.svc.cluster.local.")
    assert gone.rcode() == dns.rcode.NXDOMAIN


async def test_names_outside_the_cluster_are_forwarded(
    client: Client, upstream: FakeUpstream
) -> None:
    upstream.script("example.com.", "answer", ("192.0.2.44",))
    reply = await client.ask("Example.COM.")
    assert answers(reply) == ["Example.COM. 30 IN A 192.0.2.44"]  # `cache 30` caps the TTL
    assert reply.flags & dns.flags.RA and not reply.flags & dns.flags.AA
    assert upstream.seen()[-1].name == "example.com."


async def test_unknown_reverse_names_fall_through_to_the_upstream(
    client: Client, upstream: FakeUpstream
) -> None:
    await client.ask("8.8.8.8.in-addr.arpa.", "PTR")
    assert upstream.wait_for(1)[-1].name == "8.8.8.8.in-addr.arpa."


async def test_truncated_upstream_reply_is_retried_over_tcp(
    client: Client, upstream: FakeUpstream
) -> None:
    upstream.script("big.example.", "truncate")
    reply = await client.tcp(dns.message.make_query("big.example.", "A"))
    assert len(reply.answer[0]) == 100
    assert [s.protocol for s in upstream.seen()] == ["udp", "tcp"]
    query = dns.message.make_query("big.example.", "A").to_wire()
    async with raw_udp(client.port, query) as collector:
        raw = await asyncio.wait_for(collector.replies.get(), 3)
    assert len(raw) <= 512
    assert dns.message.from_wire(raw, ignore_trailing=True).flags & dns.flags.TC


@pytest.mark.parametrize("behaviour", ["servfail", "silent", "wrong-id", "wrong-name"])
async def test_broken_upstreams_give_servfail_within_the_deadline(
    client: Client, upstream: FakeUpstream, behaviour: str
) -> None:
    upstream.script("broken.example.", behaviour)
    loop = asyncio.get_running_loop()
    started = loop.time()
    reply = await client.udp(dns.message.make_query("broken.example.", "A"), wait=5)
    assert reply.rcode() == dns.rcode.SERVFAIL
    assert loop.time() - started < 2.8


async def test_external_names_are_chased_through_the_chain(
    client: Client, upstream: FakeUpstream
) -> None:
    upstream.script("docs.example.com.", "answer", ("192.0.2.80",))
    reply = await client.ask("docs.demo.svc.cluster.local.")
    assert [rr.to_text() for rr in reply.answer] == [
        "docs.demo.svc.cluster.local. 30 IN CNAME docs.example.com.",
        "docs.example.com. 30 IN A 192.0.2.80",  # through `cache 30`, as CoreDNS's lookup
    ]
    assert upstream.seen()[-1].name == "docs.example.com."


async def test_external_names_inside_the_zone_are_chased_in_the_zone(client: Client) -> None:
    reply = await client.ask("web-alias.demo.svc.cluster.local.")
    assert [rr.to_text() for rr in reply.answer] == [
        "web-alias.demo.svc.cluster.local. 30 IN CNAME web.demo.svc.cluster.local.",
        "web.demo.svc.cluster.local. 30 IN A 10.96.0.20",
    ]


async def test_an_unresolvable_external_target_still_gives_the_cname(
    client: Client, upstream: FakeUpstream
) -> None:
    upstream.script("docs.example.com.", "servfail")
    reply = await client.ask("docs.demo.svc.cluster.local.")
    assert [rr.to_text() for rr in reply.answer] == [
        "docs.demo.svc.cluster.local. 30 IN CNAME docs.example.com."
    ]


async def test_loadbalanced_answers_rotate_even_when_pre_encoded(
    served: App, client: Client
) -> None:
    orders = []
    for _ in range(6):
        reply = await client.ask("db.demo.svc.cluster.local.")
        orders.append(tuple(rr.address for rr in reply.answer[0]))
    assert len(set(orders)) == 3  # three endpoints, three orders, in turn
    assert orders[:3] == orders[3:]
    assert listener(served).stores[0].hits >= 4


async def test_zone_transfers_are_refused(client: Client) -> None:
    reply = await client.tcp(dns.message.make_query("cluster.local.", "AXFR"))
    assert reply.rcode() == dns.rcode.REFUSED
