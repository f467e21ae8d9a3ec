"""bufsize, any, acl, whoami, minimal, local, debug running beside kubernetes (fake API)."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import pytest

from clusterdns.app import App
from tests.conftest import Client
from tests.fakes.kube_api import FakeKubeAPI
from tests.fakes.upstream import FakeUpstream
from tests.integration.test_corefile import api, start, wait_ready

__all__ = ["api"]

KUBERNETES = "kubernetes.default.svc.cluster.local."
BIG = "".join(f"        10.0.{i // 250}.{i % 250 + 1} big.test\n" for i in range(120))


def corefile(upstream: FakeUpstream) -> str:
    return (
        ".:0 {\n    bind 127.0.0.1\n    debug\n    bufsize 1232\n    any\n    minimal\n    local\n"
        "    acl {\n        drop type MX\n        block type TXT net 127.0.0.1\n"
        "        filter type NAPTR\n    }\n"
        f"    hosts {{\n{BIG}        reload 0\n        fallthrough\n    }}\n"
        "    kubernetes cluster.local {\n        ttl 30\n    }\n"
        f"    forward . {upstream.address}\n}}\n"
        "whoami.test:0 {\n    bind 127.0.0.1\n    whoami\n}\n"
    )


async def exchange(port: int, *queries: bytes) -> list[bytes]:
    """Send `queries` from one UDP socket; the first reply's bytes (the rest stay unread)."""
    loop = asyncio.get_running_loop()
    replies: asyncio.Queue[bytes] = asyncio.Queue()

    class Collect(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            replies.put_nowait(data)

    transport, _ = await loop.create_datagram_endpoint(Collect, remote_addr=("127.0.0.1", port))
    try:
        for query in queries:
            transport.sendto(query)
        return [await asyncio.wait_for(replies.get(), 5)]
    finally:
        transport.close()


@pytest.fixture
async def app(api: FakeKubeAPI, upstream: FakeUpstream, tmp_path: Path) -> AsyncIterator[App]:
    running = await start(corefile(upstream), api, tmp_path)
    await wait_ready(running)
    yield running
    await running.stop()


@pytest.mark.parametrize(
    ("options", "limit", "advertised"),
    [
        pytest.param({"use_edns": 0, "payload": 4096}, 1232, 1232, id="edns-4096-lowered"),
        pytest.param({"use_edns": 0, "payload": 1000}, 1000, 1000, id="smaller-kept"),
        pytest.param({}, 512, None, id="no-edns-512"),
    ],
)
async def test_bufsize_limits_the_udp_reply_and_its_opt(
    app: App, options: dict[str, object], limit: int, advertised: int | None
) -> None:
    client = Client(app.addresses[0][1])
    query = dns.message.make_query("big.test.", "A", **options)  # type: ignore[arg-type]
    (wire,) = await exchange(client.port, query.to_wire())
    reply = dns.message.from_wire(wire)
    assert len(wire) <= limit
    assert reply.flags & dns.flags.TC  # 120 addresses never fit
    assert (reply.payload if reply.edns >= 0 else None) == advertised
    full = await client.tcp(query)  # over TCP the whole answer comes back
    assert len(full.answer[0]) == 120


async def test_any_answers_hinfo_and_kubernetes_still_answers(app: App) -> None:
    client = Client(app.addresses[0][1])
    reply = await client.ask(KUBERNETES, "ANY")
    assert [rrset.to_text() for rrset in reply.answer] == [
        f'{KUBERNETES} 8482 IN HINFO "ANY obsoleted" "See RFC 8482"'
    ]
    plain = await client.ask(KUBERNETES, "A")
    assert [rrset.to_text() for rrset in plain.answer] == [f"{KUBERNETES} 30 IN A 10.96.0.1"]


async def test_acl_blocks_filters_and_drops(app: App, upstream: FakeUpstream) -> None:
    client = Client(app.addresses[0][1])
    blocked = await client.ask("example.com.", "TXT")
    assert blocked.rcode() == dns.rcode.REFUSED
    filtered = await client.ask("example.com.", "NAPTR")
    assert filtered.rcode() == dns.rcode.NOERROR and not filtered.answer
    # Dropped: the MX query gets nothing, so the first reply on the socket is the A one's.
    mx = dns.message.make_query(KUBERNETES, "MX")
    a = dns.message.make_query(KUBERNETES, "A")
    (first,) = await exchange(client.port, mx.to_wire(), a.to_wire())
    assert dns.message.from_wire(first).id == a.id
    assert upstream.seen() == []  # nothing blocked, filtered or dropped went upstream
    samples = app.registry.get_sample_value
    labels = {"server": app.servers[0].counters.server, "zone": ".", "view": ""}
    assert samples("coredns_acl_dropped_requests_total", labels) == 1
    assert samples("coredns_acl_blocked_requests_total", labels) == 1
    assert samples("coredns_acl_filtered_requests_total", labels) == 1


async def test_whoami_tells_the_client_its_address(app: App) -> None:
    client = Client(app.addresses[0][1])
    reply = await client.ask("whoami.test.", "A")
    records = [rr for rrset in reply.additional for rr in rrset]
    assert [r.to_text() for r in records][0] == "127.0.0.1"
    assert reply.additional[1].name.to_text() == "_udp.whoami.test."


async def test_minimal_drops_additional_records(app: App, api: FakeKubeAPI) -> None:
    client = Client(app.addresses[0][1])
    reply = await client.ask(f"_http._tcp.{KUBERNETES}", "SRV")
    assert reply.answer and not reply.additional  # kubernetes adds the target's A; minimal not


async def test_local_answers_localhost_without_asking_upstream(
    app: App, upstream: FakeUpstream
) -> None:
    client = Client(app.addresses[0][1])
    reply = await client.ask("localhost.", "A")
    assert [rrset.to_text() for rrset in reply.answer] == ["localhost. 604800 IN A 127.0.0.1"]
    ptr = await client.ask("1.0.0.127.in-addr.arpa.", "PTR")
    assert [rrset.to_text() for rrset in ptr.answer] == [
        "1.0.0.127.in-addr.arpa. 604800 IN PTR localhost."
    ]
    assert upstream.seen() == []
