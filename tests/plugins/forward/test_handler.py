"""The forward handler: policies, except, max_concurrent, next, transports, broken upstreams."""

import asyncio
from dataclasses import dataclass
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import pytest
from prometheus_client import CollectorRegistry

from clusterdns.dns.records import Rcode
from clusterdns.plugin import Request, Response
from clusterdns.plugins.forward.options import Upstream
from tests.plugins.forward.conftest import UPSTREAMS, MakeUpstream, make_plugin, sample
from tests.plugins.forward.fakes import FakeExchanger, next_plugin, reply_of, request

U1, U2, U3 = UPSTREAMS


@dataclass(frozen=True)
class PolicyCase:
    """Upstreams asked per query under `policy`, some of them failing."""

    policy: str
    failing: tuple[Upstream, ...]
    asked: list[list[Upstream]]


POLICIES = [
    pytest.param(PolicyCase("sequential", (), [[U1], [U1], [U1]]), id="sequential-first"),
    pytest.param(
        PolicyCase("sequential", (U1, U2), [[U1, U2, U3], [U1, U2, U3]]), id="sequential-next"
    ),
    # CoreDNS roundRobin.List bumps its counter first: the first query starts at the second.
    pytest.param(PolicyCase("round_robin", (), [[U2], [U3], [U1], [U2]]), id="round-robin"),
    pytest.param(
        PolicyCase("round_robin", (U1, U2, U3), [[U2, U1, U3], [U3, U1, U2]]),
        id="round-robin-rest-in-order",
    ),
]


@pytest.mark.parametrize("case", POLICIES)
async def test_policy_orders_upstreams(case: PolicyCase) -> None:
    exchanger = FakeExchanger(dict.fromkeys(case.failing, "error"))
    plugin = make_plugin(exchanger=exchanger, policy=case.policy, max_fails=0)
    for expected in case.asked:
        exchanger.calls.clear()
        await plugin.serve(request("example.com."), next_plugin)
        assert exchanger.queried() == expected


async def test_random_policy_uses_the_injected_rng() -> None:
    def firsts(seed: int) -> list[Upstream]:
        plugin = make_plugin(seed=seed)
        return [plugin.upstream_order()[0] for _ in range(30)]

    assert firsts(1) == firsts(1)
    assert firsts(1) != firsts(2)
    assert set(firsts(1)) == set(UPSTREAMS)
    plugin = make_plugin(seed=3)
    assert all(sorted(plugin.upstream_order(), key=str) == list(UPSTREAMS) for _ in range(10))


@pytest.mark.parametrize(
    ("zone", "ignored", "name", "forwarded"),
    [
        pytest.param("example.org.", (), "www.example.org.", True, id="below-from"),
        pytest.param("example.org.", (), "example.org.", True, id="from-itself"),
        pytest.param("example.org.", (), "example.com.", False, id="outside-from"),
        pytest.param("example.org.", (), "badexample.org.", False, id="suffix-not-label"),
        pytest.param(".", ("lab.example.org.",), "lab.example.org.", False, id="except-name"),
        pytest.param(".", ("lab.example.org.",), "a.lab.example.org.", False, id="except-below"),
        pytest.param(".", ("lab.example.org.",), "example.org.", True, id="except-parent"),
        # CoreDNS isAllowedDomain: FROM itself is forwarded even when except names it.
        pytest.param("example.org.", ("example.org.",), "example.org.", True, id="except-from"),
        pytest.param(
            "example.org.", ("example.org.",), "www.example.org.", False, id="except-from-below"
        ),
    ],
)
async def test_names_forwarded_or_passed_on(
    zone: str, ignored: tuple[str, ...], name: str, forwarded: bool
) -> None:
    exchanger = FakeExchanger()
    plugin = make_plugin(exchanger=exchanger, zone=zone, ignored=ignored)
    response = await plugin.serve(request(name), next_plugin)
    assert response.plugin == ("forward" if forwarded else "next")
    assert bool(exchanger.calls) == forwarded


async def test_max_concurrent_refuses_and_counts() -> None:
    registry = CollectorRegistry()
    exchanger = FakeExchanger(dict.fromkeys(UPSTREAMS, "hang"))
    plugin = make_plugin(exchanger=exchanger, registry=registry, max_concurrent=1)
    first = asyncio.create_task(plugin.serve(request("one.example."), next_plugin))
    await exchanger.wait_for_calls(1)
    refused = await plugin.serve(request("two.example."), next_plugin)
    assert refused.answer is not None and refused.answer.rcode == Rcode.REFUSED
    assert sample(registry, "coredns_forward_max_concurrent_rejects_total") == 1
    exchanger.release.set()
    assert reply_of(await first).rcode() == dns.rcode.NOERROR
    again = await plugin.serve(request("three.example."), next_plugin)
    assert again.wire is not None  # the slot was given back
    assert exchanger.queried() == [exchanger.calls[0][0], exchanger.calls[1][0]]


async def test_max_concurrent_zero_is_unlimited() -> None:
    exchanger = FakeExchanger(dict.fromkeys(UPSTREAMS, "hang"))
    plugin = make_plugin(exchanger=exchanger)
    tasks = [
        asyncio.create_task(plugin.serve(request(f"q{i}.example."), next_plugin)) for i in range(5)
    ]
    await exchanger.wait_for_calls(5)
    exchanger.release.set()
    assert all(response.wire is not None for response in await asyncio.gather(*tasks))


@pytest.mark.parametrize(
    ("following", "expected"),
    [
        pytest.param(Response("forward"), "forward-next", id="next-forward-answers"),
        pytest.param(Response(""), "ours", id="end-of-chain-keeps-reply"),
    ],
)
async def test_next_rcode_hands_over_to_the_next_forward(
    following: Response, expected: str
) -> None:
    asked: list[Request] = []

    async def after(req: Request) -> Response:
        asked.append(req)
        return following

    plugin = make_plugin(
        exchanger=FakeExchanger(dict.fromkeys(UPSTREAMS, "nxdomain")), next_rcodes=(3,)
    )
    response = await plugin.serve(request("gone.example."), after)
    assert len(asked) == 1
    if expected == "ours":
        assert reply_of(response).rcode() == dns.rcode.NXDOMAIN
    else:
        assert response is following


async def test_other_rcodes_do_not_call_next() -> None:
    plugin = make_plugin(exchanger=FakeExchanger(), next_rcodes=(3,))
    response = await plugin.serve(request("here.example."), next_plugin)
    assert response.plugin == "forward" and reply_of(response).rcode() == dns.rcode.NOERROR


@pytest.mark.parametrize(
    ("options", "protocol", "name", "transports"),
    [
        pytest.param({}, "udp", "www.example.", ["udp"], id="udp-client"),
        # prefer_udp is always on: a TCP client's query goes over UDP first too.
        pytest.param({}, "tcp", "www.example.", ["udp"], id="tcp-client-prefer-udp"),
        pytest.param({}, "tcp", "big.example.", ["udp", "tcp"], id="truncated-retried-tcp"),
        pytest.param({"force_tcp": True}, "udp", "www.example.", ["tcp"], id="force-tcp"),
        pytest.param({"force_tcp": True}, "udp", "big.example.", ["tcp"], id="force-tcp-big"),
    ],
)
async def test_transports(
    loop_upstream: MakeUpstream,
    options: dict[str, Any],
    protocol: str,
    name: str,
    transports: list[str],
) -> None:
    fake = await loop_upstream()
    fake.script("big.example.", "truncate")
    plugin = make_plugin((fake.upstream,), **options)
    reply = reply_of(await plugin.serve(request(name, protocol=protocol), next_plugin))
    assert fake.transports() == transports
    assert not reply.flags & dns.flags.TC
    assert len(reply.answer[0]) == (100 if name == "big.example." else 1)


@dataclass(frozen=True)
class Broken:
    """An upstream behaviour and what the client gets within the deadline."""

    behaviour: str
    rcode: str = "SERVFAIL"  # the relayed reply's rcode, else the plugin's own SERVFAIL
    relayed: bool = False
    transports: tuple[str, ...] = ("udp",)  # as the fake saw them
    requests: int = 1  # coredns_forward_requests_total: exchanges begun
    responses: tuple[tuple[str, int], ...] = ()  # (rcode label, coredns_forward_responses_total)
    tcp: bool = True  # the fake listens on TCP
    force_tcp: bool = False


BROKEN = [
    pytest.param(
        Broken("answer", rcode="NOERROR", relayed=True, responses=(("NOERROR", 1),)), id="answer"
    ),
    pytest.param(Broken("silent"), id="silent"),
    pytest.param(Broken("hold"), id="slow"),
    pytest.param(Broken("servfail", relayed=True, responses=(("SERVFAIL", 1),)), id="servfail"),
    pytest.param(
        Broken("refused", rcode="REFUSED", relayed=True, responses=(("REFUSED", 1),)),
        id="refused",
    ),
    pytest.param(Broken("wrong-id"), id="lying-id"),
    pytest.param(Broken("wrong-name"), id="lying-name"),
    pytest.param(
        Broken(
            "truncate",
            rcode="NOERROR",
            relayed=True,
            transports=("udp", "tcp"),
            requests=2,
            responses=(("NOERROR", 2),),
        ),
        id="truncated",
    ),
    pytest.param(
        Broken("truncate", requests=2, responses=(("NOERROR", 1),), tcp=False),
        id="truncated-tcp-refused",
    ),
    pytest.param(
        Broken("answer", transports=(), tcp=False, force_tcp=True), id="force-tcp-refused"
    ),
]
TIMEOUT = 0.3


@pytest.mark.parametrize("case", BROKEN)
async def test_broken_upstream_gives_servfail_within_the_deadline(
    loop_upstream: MakeUpstream, case: Broken
) -> None:
    fake = await loop_upstream(tcp=case.tcp)
    fake.script("q.example.", case.behaviour)
    registry = CollectorRegistry()
    plugin = make_plugin(
        (fake.upstream,), registry=registry, timeout=TIMEOUT, force_tcp=case.force_tcp
    )
    query = request("q.example.")
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await plugin.serve(query, next_plugin)
    assert loop.time() - started < TIMEOUT + 0.5
    fake.release.set()  # a slow reply arriving now is not used
    if case.relayed:
        reply = reply_of(response)
        assert dns.rcode.to_text(reply.rcode()) == case.rcode
        assert reply.id == query.query.id
    else:
        assert response.answer is not None and response.answer.rcode == Rcode.SERVFAIL
    assert tuple(fake.transports()) == case.transports
    to = str(fake.upstream)
    assert sample(registry, "coredns_forward_requests_total", to=to) == case.requests
    for rcode in ("NOERROR", "SERVFAIL", "REFUSED"):
        expected = dict(case.responses).get(rcode, 0)
        labels = {"to": to, "rcode": rcode}
        assert sample(registry, "coredns_forward_responses_total", **labels) == expected
        assert (
            sample(registry, "coredns_forward_request_duration_seconds_count", **labels) == expected
        )
        assert (
            sample(
                registry,
                "coredns_proxy_request_duration_seconds_count",
                proxy_name="forward",
                **labels,
            )
            == expected
        )


async def test_silent_first_upstream_leaves_time_for_the_second(
    loop_upstream: MakeUpstream,
) -> None:
    silent, good = await loop_upstream("192.0.2.1"), await loop_upstream("192.0.2.2")
    silent.script("q.example.", "silent")
    plugin = make_plugin((silent.upstream, good.upstream), timeout=TIMEOUT, policy="sequential")
    reply = reply_of(await plugin.serve(request("q.example."), next_plugin))
    assert [rrset.to_text() for rrset in reply.answer] == ["q.example. 60 IN A 192.0.2.2"]
    assert silent.transports() == good.transports() == ["udp"]


async def test_each_exchange_is_a_connection_cache_miss(loop_upstream: MakeUpstream) -> None:
    fake = await loop_upstream()
    fake.script("big.example.", "truncate")
    registry = CollectorRegistry()
    plugin = make_plugin((fake.upstream,), registry=registry)
    await plugin.serve(request("big.example."), next_plugin)
    to = str(fake.upstream)
    for proto in ("udp", "tcp"):
        assert sample(registry, "coredns_forward_conn_cache_misses_total", to=to, proto=proto) == 1
        labels = {"proxy_name": "forward", "to": to, "proto": proto}
        assert sample(registry, "coredns_proxy_conn_cache_misses_total", **labels) == 1
    assert sample(registry, "coredns_proxy_conn_cache_hits_total", **labels) == 0


@dataclass(frozen=True)
class EdnsCase:
    """A client query's EDNS, the upstream's behaviour, and the OPT the client gets back."""

    behaviour: str
    edns: int = 0  # the client's EDNS version; -1: no EDNS
    want_dnssec: bool = False
    payload: int = 1232  # the client's advertised UDP size
    opt: bool = True  # the relayed reply carries an OPT
    do: bool = False
    size: int = 1232  # the payload size the relayed OPT states: ours, 512..4096


EDNS = [
    pytest.param(EdnsCase("no-opt"), id="upstream-drops-opt-added"),
    pytest.param(EdnsCase("no-opt", want_dnssec=True, do=True), id="added-opt-echoes-do"),
    pytest.param(EdnsCase("answer"), id="upstream-opt-kept-with-our-size"),
    pytest.param(EdnsCase("no-opt", payload=65000, size=4096), id="added-opt-size-capped"),
    pytest.param(EdnsCase("answer", payload=100, size=512), id="upstream-opt-size-floored"),
    pytest.param(EdnsCase("nxdomain"), id="upstream-opt-kept-nxdomain"),
    pytest.param(EdnsCase("no-opt", edns=-1, opt=False), id="no-edns-no-opt"),
    pytest.param(EdnsCase("answer", edns=-1, opt=False), id="no-edns-upstream-no-opt"),
]


@pytest.mark.parametrize("case", EDNS)
async def test_an_edns_query_always_gets_an_opt_back(
    loop_upstream: MakeUpstream, case: EdnsCase
) -> None:
    # CoreDNS request.SizeAndDo: every reply to an EDNS query carries an OPT.
    fake = await loop_upstream()
    fake.script("q.example.", case.behaviour)
    plugin = make_plugin((fake.upstream,))
    query = request(
        "q.example.", edns=case.edns, want_dnssec=case.want_dnssec, payload=case.payload
    )
    reply = reply_of(await plugin.serve(query, next_plugin))
    assert reply.id == query.query.id
    assert (reply.edns == 0) is case.opt
    if case.opt:
        assert reply.payload == case.size
        assert bool(reply.ednsflags & dns.flags.DO) is case.do
    if case.behaviour != "nxdomain":
        assert [rrset.to_text() for rrset in reply.answer] == ["q.example. 60 IN A 192.0.2.1"]
