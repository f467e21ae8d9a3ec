"""Failed forwards are logged once per kind and period, saying what happened, with a count."""

import logging
import random
import socket
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

from clusterdns.plugins.forward.failures import FailureLog
from clusterdns.plugins.forward.handler import ForwardPlugin
from clusterdns.plugins.forward.metrics import ForwardMetrics
from clusterdns.plugins.forward.options import ForwardConfig, Upstream
from clusterdns.plugins.forward.upstream import NetworkExchanger
from tests.fakes.plugins import FakeClock
from tests.plugins.forward.conftest import MakeUpstream
from tests.plugins.forward.fakes import next_plugin, request


@dataclass(frozen=True)
class Step:
    """At `at` seconds: a failure of `kind` (or None: just close what is due)."""

    at: float
    kind: str | None
    printed: bool = False  # add() says: print this one in full
    summaries: tuple[str, ...] = ()  # lines close_due(at) gives before it


LOG_CASES = [
    pytest.param(
        [
            Step(0, "a", printed=True),
            Step(1, "a"),
            Step(2, "a"),
            Step(10, None, summaries=("a 2",)),
        ],
        id="repeats-counted-then-one-line",
    ),
    pytest.param(
        [Step(0, "a", printed=True), Step(10, None), Step(11, "a", printed=True)],
        id="single-failure-no-summary-new-period",
    ),
    pytest.param(
        [
            Step(0, "a", printed=True),
            Step(1, "b", printed=True),
            Step(2, "b"),
            Step(11, None, summaries=("b 1",)),
        ],
        id="kinds-apart",
    ),
    pytest.param(
        [
            Step(0, "a", printed=True),
            Step(5, "a"),
            Step(9.9, None),
            Step(10, "a", printed=True, summaries=("a 1",)),
        ],
        id="period-from-first-failure",
    ),
]


@pytest.mark.parametrize("steps", LOG_CASES)
def test_failure_log(steps: list[Step]) -> None:
    log = FailureLog(period=10)
    for step in steps:
        closed = log.close_due(step.at)
        assert tuple(f"{s.kind} {s.more}" for s in closed) == step.summaries
        if step.kind is not None:
            assert log.add(step.kind, step.at) == step.printed


def test_kinds_are_bounded() -> None:
    log = FailureLog()
    for index in range(200):
        log.add(f"upstream {index}: refused", 0)
    assert len(log.close_all()) == 1  # everything past the cap counted as "other failures"


def _closed_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()  # nothing listens: queries to it are refused (ICMP port unreachable)
    return port


def _plugin(upstream: Upstream, clock: FakeClock, timeout: float = 2.0) -> ForwardPlugin:
    config = ForwardConfig((upstream,), timeout=timeout)
    metrics = ForwardMetrics(CollectorRegistry())
    return ForwardPlugin(config, NetworkExchanger(), random.Random(1), metrics, clock)


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("clusterdns")]


async def test_refusing_upstream_flood_logs_two_lines(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    upstream = Upstream("127.0.0.1", _closed_port())
    plugin = _plugin(upstream, clock)
    caplog.set_level(logging.WARNING)
    for index in range(200):
        await plugin.serve(request(f"n{index}.example."), next_plugin)
    clock.advance(10)
    await plugin.serve(request("last.example."), next_plugin)  # opens the next period
    assert _lines(caplog) == [
        f"forward: no answer for n0.example.: {upstream} (udp): refused",
        f"forward: 199 more like that in the last 10s: {upstream} (udp): refused",
        f"forward: no answer for last.example.: {upstream} (udp): refused",
    ]
    await plugin.stop()
    assert len(_lines(caplog)) == 3  # one failure in the last period: nothing more to say


async def test_silent_upstream_says_timed_out(
    caplog: pytest.LogCaptureFixture, loop_upstream: MakeUpstream
) -> None:
    fake = await loop_upstream()
    fake.script("q.example.", "silent")
    plugin = _plugin(fake.upstream, FakeClock(), timeout=0.3)
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        await plugin.serve(request("q.example."), next_plugin)
    await plugin.stop()
    assert _lines(caplog) == [
        f"forward: no answer for q.example.: {fake.upstream} (udp): timed out after 0.3s",
        f"forward: 2 more like that in the last 10s: {fake.upstream} (udp): timed out after 0.3s",
    ]
