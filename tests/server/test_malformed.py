"""Bad wire input: dropped or answered with the rcode RFC 1035/6891 ask for, never a crash."""

import asyncio
import random
import struct

import dns.message
import dns.rcode
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clusterdns.app import App
from clusterdns.chain import Chain
from clusterdns.server.dispatch import Dispatcher, ZoneChain
from tests.conftest import listener
from tests.server.test_wire import raw_udp

QUESTION = b"\x03web\x04demo\x03svc\x07cluster\x05local\x00\x00\x01\x00\x01"
OPT = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"


def header(
    ident: int = 0x1234, flags: int = 0x0100, qd: int = 1, an: int = 0, ar: int = 0
) -> bytes:
    return struct.pack("!HHHHHH", ident, flags, qd, an, 0, ar)


CASES = [
    pytest.param(header(qd=2) + QUESTION + QUESTION, dns.rcode.FORMERR, id="two-questions"),
    pytest.param(header(qd=0), dns.rcode.FORMERR, id="no-question"),
    pytest.param(header() + QUESTION[:10], dns.rcode.FORMERR, id="truncated-name"),
    pytest.param(header() + QUESTION[:-2], dns.rcode.FORMERR, id="truncated-type-class"),
    pytest.param(
        header() + b"\xc0\x0c\x00\x01\x00\x01", dns.rcode.FORMERR, id="pointer-in-question"
    ),
    pytest.param(header(ar=2) + QUESTION + OPT + OPT, dns.rcode.FORMERR, id="two-opts"),
    pytest.param(
        header(ar=1) + QUESTION + OPT[:-2] + b"\x00\x05", dns.rcode.FORMERR, id="opt-rdata-overrun"
    ),
    pytest.param(
        header(ar=1) + QUESTION + OPT[:-2] + b"\x00\x03abc", dns.rcode.FORMERR, id="bad-option"
    ),
    pytest.param(header() + QUESTION + b"junk", dns.rcode.FORMERR, id="trailing-bytes"),
    pytest.param(header(an=1) + QUESTION, dns.rcode.FORMERR, id="answer-in-query"),
    pytest.param(header(flags=0x2000) + QUESTION, dns.rcode.NOTIMP, id="opcode-notify"),
    pytest.param(header(flags=0x2800) + QUESTION, dns.rcode.NOTIMP, id="opcode-update"),
    pytest.param(header() + QUESTION[:-1] + b"\x03", dns.rcode.REFUSED, id="class-chaos"),
]


@pytest.mark.parametrize(("payload", "rcode"), CASES)
async def test_malformed_queries_get_their_rcode(served: App, payload: bytes, rcode: int) -> None:
    async with raw_udp(served.addresses[0][1], payload) as collector:
        reply = dns.message.from_wire(await asyncio.wait_for(collector.replies.get(), 3))
    assert reply.id == 0x1234
    assert reply.rcode() == rcode


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x12\x34\x01", id="short-header"),
        pytest.param(header(flags=0x8100) + QUESTION, id="a-response"),
    ],
)
async def test_unreadable_or_response_messages_are_dropped(served: App, payload: bytes) -> None:
    valid = dns.message.make_query("web.demo.svc.cluster.local.", "A")
    async with raw_udp(served.addresses[0][1], payload, valid.to_wire()) as collector:
        reply = dns.message.from_wire(await asyncio.wait_for(collector.replies.get(), 3))
        assert reply.id == valid.id  # the only reply is to the valid query
        assert collector.replies.empty()


async def test_random_bytes_never_stop_the_server(served: App) -> None:
    rng = random.Random(20261121)
    garbage = [rng.randbytes(rng.randrange(0, 600)) for _ in range(300)]
    garbage += [header() + rng.randbytes(rng.randrange(0, 60)) for _ in range(300)]
    valid = dns.message.make_query("web.demo.svc.cluster.local.", "A")
    wanted = valid.id.to_bytes(2, "big")
    async with raw_udp(served.addresses[0][1], *garbage) as collector:
        # The kernel may drop datagrams of a burst this size; ask again until answered.
        for _ in range(20):
            collector.transport.sendto(valid.to_wire())
            try:
                while (raw := await asyncio.wait_for(collector.replies.get(), 0.5))[:2] != wanted:
                    pass
                break
            except TimeoutError:
                continue
        else:
            pytest.fail("no answer to a valid query after the garbage")
    assert dns.message.from_wire(raw).rcode() == dns.rcode.NOERROR
    assert listener(served).dispatcher.counters.panics == 0


_DISPATCHER = Dispatcher([ZoneChain((".",), Chain([]))])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.builds(lambda b: header() + b, st.binary(max_size=80)))
def test_dispatch_of_any_bytes_returns_nothing_or_a_reply(data: bytes) -> None:
    reply = asyncio.run(_DISPATCHER.handle(data, "udp", ("127.0.0.1", 1)))
    if reply is not None:
        parsed = dns.message.from_wire(reply)
        assert parsed.id == int.from_bytes(data[:2], "big")
    assert _DISPATCHER.counters.panics == 0
