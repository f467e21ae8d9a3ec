"""Health checks: failed probes mark upstreams down, a reply marks them up, all-down fallback."""

import asyncio
from dataclasses import dataclass, field

import dns.rcode
import pytest
from prometheus_client import CollectorRegistry

from clusterdns.dns.records import Rcode
from clusterdns.plugins.forward.health import probe_wire
from clusterdns.plugins.forward.options import HealthCheck
from tests.plugins.forward.conftest import UPSTREAMS, MakeUpstream, make_plugin, sample
from tests.plugins.forward.fakes import FakeExchanger, Seen, next_plugin, reply_of, request

U1, U2, U3 = UPSTREAMS


@pytest.mark.parametrize("max_fails", [1, 2, 3])
async def test_down_after_more_than_max_fails_failed_checks(max_fails: int) -> None:
    registry = CollectorRegistry()
    exchanger = FakeExchanger({U1: "error"})
    plugin = make_plugin(
        exchanger=exchanger, registry=registry, policy="sequential", max_fails=max_fails
    )
    await plugin.serve(request("a.example."), next_plugin)
    assert exchanger.queried() == [U1, U2]
    for round_ in range(1, max_fails + 1):
        assert await plugin.health.check_once() is True
        assert (plugin.health.fails(U1), plugin.health.is_down(U1)) == (round_, False)
    assert await plugin.health.check_once() is True
    assert plugin.health.is_down(U1)
    checks = max_fails + 1
    assert exchanger.queried("NS") == [U1] * checks
    assert sample(registry, "coredns_forward_healthcheck_failures_total", to=str(U1)) == checks
    labels = {"proxy_name": "forward", "to": str(U1)}
    assert sample(registry, "coredns_proxy_healthcheck_failures_total", **labels) == checks

    exchanger.calls.clear()
    await plugin.serve(request("b.example."), next_plugin)
    assert exchanger.queried() == [U2]  # down upstreams are skipped

    exchanger.behaviour[U1] = "answer"
    assert await plugin.health.check_once() is False
    assert (plugin.health.fails(U1), plugin.health.is_down(U1)) == (0, False)
    exchanger.calls.clear()
    await plugin.serve(request("c.example."), next_plugin)
    assert exchanger.queried() == [U1]


async def test_max_fails_zero_never_checks_nor_marks_down() -> None:
    exchanger = FakeExchanger({U1: "error"})
    plugin = make_plugin(exchanger=exchanger, policy="sequential", max_fails=0)
    await plugin.serve(request("a.example."), next_plugin)
    assert await plugin.health.check_once() is False
    assert exchanger.queried("NS") == [] and not plugin.health.is_down(U1)


async def test_all_down_tries_one_upstream_anyway() -> None:
    registry = CollectorRegistry()
    exchanger = FakeExchanger(dict.fromkeys(UPSTREAMS, "error"))
    plugin = make_plugin(exchanger=exchanger, registry=registry, max_fails=1)
    failed = await plugin.serve(request("a.example."), next_plugin)
    assert failed.answer is not None and failed.answer.rcode == Rcode.SERVFAIL
    for _ in range(2):
        await plugin.health.check_once()
    assert all(plugin.health.is_down(u) for u in UPSTREAMS)

    exchanger.calls.clear()
    still = await plugin.serve(request("b.example."), next_plugin)
    assert still.answer is not None and still.answer.rcode == Rcode.SERVFAIL
    assert len(exchanger.queried()) == 1
    assert sample(registry, "coredns_forward_healthcheck_broken_total") == 1

    exchanger.behaviour.clear()  # the upstreams answer again, before any check says so
    answered = await plugin.serve(request("c.example."), next_plugin)
    assert reply_of(answered).rcode() == dns.rcode.NOERROR
    assert sample(registry, "coredns_forward_healthcheck_broken_total") == 2


@dataclass(frozen=True)
class Probe:
    """A health check setting, how the fake answers the probe, and what the fake sees."""

    check: HealthCheck = field(default_factory=HealthCheck)
    behaviour: str = "answer"
    force_tcp: bool = False
    seen: Seen = Seen("udp", ".", "NS", True)
    healthy: bool = True


PROBES = [
    pytest.param(Probe(), id="root-ns-rd"),
    pytest.param(
        Probe(
            HealthCheck(recursion_desired=False, domain="example.org."),
            seen=Seen("udp", "example.org.", "NS", False),
        ),
        id="no-rec-domain",
    ),
    pytest.param(Probe(force_tcp=True, seen=Seen("tcp", ".", "NS", True)), id="force-tcp"),
    # CoreDNS: any reply, whatever its rcode, is a healthy upstream.
    pytest.param(Probe(behaviour="servfail"), id="servfail-is-healthy"),
    pytest.param(Probe(behaviour="refused"), id="refused-is-healthy"),
    pytest.param(
        Probe(HealthCheck(timeout=0.1), behaviour="silent", healthy=False), id="silent-fails"
    ),
]


@pytest.mark.parametrize("case", PROBES)
async def test_probe(loop_upstream: MakeUpstream, case: Probe) -> None:
    fake = await loop_upstream()
    fake.script(case.seen.name, case.behaviour)
    plugin = make_plugin((fake.upstream,), health_check=case.check, force_tcp=case.force_tcp)
    plugin.health.suspect(fake.upstream)
    assert await plugin.health.check_once() is not case.healthy
    assert fake.seen == [case.seen]
    assert plugin.health.fails(fake.upstream) == (0 if case.healthy else 1)


def test_probe_wire_is_a_plain_ns_query() -> None:
    assert probe_wire(0x1234, "example.org.", True) == (
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03org\x00\x00\x02\x00\x01"
    )
    assert probe_wire(1, ".", False)[2:4] == b"\x00\x00"


async def test_checker_task_probes_at_once_then_every_interval() -> None:
    loop = asyncio.get_running_loop()
    naps: asyncio.Queue[tuple[float, asyncio.Future[None]]] = asyncio.Queue()

    async def sleep(seconds: float) -> None:
        wake: asyncio.Future[None] = loop.create_future()
        naps.put_nowait((seconds, wake))
        await wake

    async def next_nap() -> tuple[float, asyncio.Future[None]]:
        return await asyncio.wait_for(naps.get(), 5)

    exchanger = FakeExchanger({U1: "error"})
    plugin = make_plugin(
        exchanger=exchanger,
        sleep=sleep,
        policy="sequential",
        health_check=HealthCheck(interval=0.25),
    )
    await plugin.start()
    await plugin.serve(request("a.example."), next_plugin)  # U1 fails: a suspect
    seconds, wake = await next_nap()
    assert (seconds, plugin.health.fails(U1)) == (0.25, 1)
    wake.set_result(None)
    seconds, wake = await next_nap()
    assert (seconds, plugin.health.fails(U1)) == (0.25, 2)
    assert exchanger.queried("NS") == [U1, U1]
    await plugin.stop()  # cancels the task in its nap
    assert wake.cancelled()
    assert naps.empty()
