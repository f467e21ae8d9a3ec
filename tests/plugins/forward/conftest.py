"""Forward test fixtures: loop upstreams closed after each test, plugins and metric samples."""

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from clusterdns.plugins.forward.handler import ForwardPlugin
from clusterdns.plugins.forward.health import Sleep
from clusterdns.plugins.forward.metrics import ForwardMetrics
from clusterdns.plugins.forward.options import ForwardConfig, HealthCheck, Upstream
from clusterdns.plugins.forward.upstream import Exchanger, NetworkExchanger
from tests.plugins.forward.fakes import LoopUpstream

MakeUpstream = Callable[..., Awaitable[LoopUpstream]]
UPSTREAMS = (Upstream("10.0.0.1"), Upstream("10.0.0.2"), Upstream("10.0.0.3"))


@pytest.fixture
async def loop_upstream() -> AsyncIterator[MakeUpstream]:
    """Makes started LoopUpstreams; closes them after the test."""
    made: list[LoopUpstream] = []

    async def make(address: str = "192.0.2.1", tcp: bool = True) -> LoopUpstream:
        fake = await LoopUpstream(address, tcp).start()
        made.append(fake)
        return fake

    yield make
    for fake in made:
        await fake.close()


def make_plugin(
    upstreams: tuple[Upstream, ...] = UPSTREAMS,
    exchanger: Exchanger | None = None,
    registry: CollectorRegistry | None = None,
    seed: int = 7,
    sleep: Sleep | None = None,
    **options: Any,  # ForwardConfig fields
) -> ForwardPlugin:
    """A plugin over `upstreams` with `options` as ForwardConfig fields."""
    config = replace(ForwardConfig(upstreams), **options)
    metrics = ForwardMetrics(registry or CollectorRegistry())
    return ForwardPlugin(
        config,
        exchanger or NetworkExchanger(),
        random.Random(seed),
        metrics,
        sleep=sleep or asyncio.sleep,
    )


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """A sample's value, 0 when it was never set."""
    return registry.get_sample_value(name, labels) or 0.0


FAST_CHECKS = HealthCheck(interval=0.5, timeout=0.2)
