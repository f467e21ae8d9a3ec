"""The answer `explain` shows is byte for byte what the running server sends (answer tables)."""

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest

from clusterdns.app import App
from clusterdns.dns.message import answer_records
from clusterdns.explain.explanation import explain
from clusterdns.explain.load import load_target, send_sync
from clusterdns.explain.question import parse_question
from clusterdns.serve_flags import ServeOptions, serve_app, serve_corefile
from tests.explain.test_reasons import MANIFESTS
from tests.fakes.plugins import FakeClock
from tests.fakes.upstream import FakeUpstream
from tests.plugins.kubernetes.test_answer import (
    APEX,
    CLUSTER_IP,
    EXTERNAL,
    HEADLESS,
    PODS,
    REVERSE,
    SRV,
    Case,
)

NOW = 1_700_000_000.0


def options(upstream: FakeUpstream) -> ServeOptions:
    return ServeOptions(
        manifests=MANIFESTS,
        dns_addrs=("127.0.0.1",),
        dns_port=0,
        upstreams=(upstream.address,),
    )


@pytest.fixture
async def server(upstream: FakeUpstream) -> AsyncIterator[App]:
    """`serve` over the answer tables' manifests, its SOA serial fixed by a FakeClock."""
    # The upstream has nothing for the ExternalName target: the reply is the CNAME alone.
    upstream.script("docs.example.com.", "servfail")
    app = serve_app(options(upstream), clock=FakeClock(NOW))
    await app.start()
    yield app
    await app.stop()


async def ask_tcp(app: App, wire: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", app.addresses[0][1])
    writer.write(struct.pack("!H", len(wire)) + wire)
    (length,) = struct.unpack("!H", await reader.readexactly(2))
    reply = await reader.readexactly(length)
    writer.close()
    await writer.wait_closed()
    return reply


@pytest.mark.parametrize("case", APEX + CLUSTER_IP + SRV + HEADLESS + EXTERNAL + REVERSE + PODS)
async def test_explain_shows_the_bytes_the_server_sends(
    case: Case, server: App, upstream: FakeUpstream
) -> None:
    corefile = serve_corefile(options(upstream))
    target = load_target(corefile, "serve flags", clock=FakeClock(NOW), environ={})
    question = parse_question(case.name, case.qtype)
    shown = await explain(target, question)
    assert shown.reply is not None
    assert shown.reply == await ask_tcp(server, question.wire())
    assert shown.answer is not None and shown.answer.rcode.name == case.rcode


def test_send_asks_the_upstream_through_the_chain(upstream: FakeUpstream) -> None:
    target = load_target(serve_corefile(options(upstream)), "serve flags", environ={})
    question = parse_question("docs.demo.svc.cluster.local", "A")
    reply = send_sync(target, question.wire())
    assert reply is not None
    rcode, records = answer_records(reply)
    assert [r.zone_line() for r in records] == [
        "docs.demo.svc.cluster.local. 30 IN CNAME docs.example.com.",
        "docs.example.com. 30 IN A 192.0.2.1",  # the upstream's 60, capped by `cache 30`
    ]
    assert [s.name for s in upstream.seen()] == ["docs.example.com."]
    assert rcode.name == "NOERROR"
