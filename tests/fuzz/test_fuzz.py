"""A small fuzz run on every push: abusive packets over UDP and TCP crash nothing, break no rule.

`python -m bench.fuzz` runs the same fuzzer at a million packets against `clusterdns serve`.
"""

import asyncio
import random
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dns.message
import dns.rcode
import pytest

from clusterdns.app import App
from tests.conftest import Client, listener
from tests.fuzz.fuzzer import KINDS, FuzzResult, check_reply, packets, run_tcp, run_udp

Runner = Callable[[int, Iterator[tuple[str, bytes]]], FuzzResult]


@dataclass(frozen=True)
class Run:
    """One transport's fuzz run."""

    runner: Runner
    count: int
    seed: int


RUNS = [
    pytest.param(Run(run_udp, 4_000, 1), id="udp-4000-packets"),
    pytest.param(Run(run_tcp, 1_000, 2), id="tcp-1000-frames"),
]


@pytest.mark.parametrize("run", RUNS)
async def test_fuzzed_packets_break_no_rule(served: App, client: Client, run: Run) -> None:
    port = served.addresses[0][1]
    result = await asyncio.to_thread(run.runner, port, packets(random.Random(run.seed), run.count))
    assert result.violations == []
    assert sum(result.sent.values()) == run.count
    assert set(result.sent) == set(KINDS)
    assert result.replies["qr-set"] == 0
    assert result.rcodes["compression-loop/FORMERR"] > 0
    assert result.rcodes["valid/NOERROR"] > 0
    assert listener(served).dispatcher.counters.panics == 0
    # Still serving, both ways.
    for ask in (client.udp, client.tcp):
        reply = await ask(dns.message.make_query("web.demo.svc.cluster.local.", "A"))
        assert reply.rcode() == dns.rcode.NOERROR
        assert [rr.to_text() for rr in reply.answer] == [
            "web.demo.svc.cluster.local. 30 IN A 10.96.0.20"
        ]


def _reply(kind: str, qr_query: bool = False, rcode: int = 0, size: int = 12) -> bytes:
    ident = (0x8000 if qr_query else 0) | (list(KINDS).index(kind) << 11) | 7
    return struct.pack("!HHHHHH", ident, 0x8000 | rcode, 0, 0, 0, 0) + bytes(size - 12)


@pytest.mark.parametrize(
    ("reply", "transport", "broken"),
    [
        pytest.param(_reply("valid"), "udp", "", id="plain-reply-ok"),
        pytest.param(
            _reply("qr-set", qr_query=True), "udp", "answered a packet with QR=1", id="qr"
        ),
        pytest.param(_reply("compression-loop", rcode=1), "tcp", "", id="loop-formerr-ok"),
        pytest.param(_reply("compression-loop"), "udp", "not FORMERR", id="loop-noerror"),
        pytest.param(_reply("valid", size=5000), "udp", "exceeds 4096", id="udp-too-big"),
        pytest.param(_reply("valid", size=5000), "tcp", "", id="tcp-big-ok"),
        pytest.param(b"\x00\x01", "udp", "has no header", id="no-header"),
    ],
)
def test_reply_rules(reply: bytes, transport: str, broken: str) -> None:
    result = FuzzResult()
    check_reply(result, reply, transport)
    assert [v for v in result.violations if broken and broken in v] == result.violations
    assert bool(result.violations) == bool(broken)
