"""Upstream health: failed checks per upstream, and the task that probes failing upstreams.

As in CoreDNS (plugin/pkg/proxy/health.go, plugin/pkg/up): a query error makes an upstream a
suspect; suspects are probed at once and then every `interval` until one probe succeeds. Each
failed probe adds one to the upstream's fails and a success resets them; an upstream is down
while it has more than `max_fails` fails. Any reply, whatever its rcode, is a success.
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping

from clusterdns.dns.message import encode_query
from clusterdns.dns.records import RType
from clusterdns.errors import UpstreamError
from clusterdns.plugins.forward.metrics import UpstreamMetrics
from clusterdns.plugins.forward.options import HealthCheck, Upstream
from clusterdns.plugins.forward.upstream import Exchanger, Transport

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


def probe_wire(ident: int, domain: str, recursion_desired: bool) -> bytes:
    """A `DOMAIN IN NS` query, RD set or clear (domain: normalized, ASCII labels)."""
    return encode_query(domain, RType.NS, ident, 0x0100 if recursion_desired else 0)


class HealthChecker:
    """Fails per upstream, and the background task that probes suspects until they answer."""

    def __init__(
        self,
        config: HealthCheck,
        max_fails: int,
        exchanger: Exchanger,
        transport: Transport,
        metrics: Mapping[Upstream, UpstreamMetrics],
        rng: random.Random,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.config = config
        self.max_fails = max_fails
        self._exchanger = exchanger
        self._transport = transport
        self._metrics = metrics
        self._rng = rng
        self._sleep = sleep
        self._fails = dict.fromkeys(metrics, 0)
        self._suspects: dict[Upstream, None] = {}  # insertion-ordered set
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def fails(self, upstream: Upstream) -> int:
        """Consecutive failed probes of `upstream`."""
        return self._fails[upstream]

    def is_down(self, upstream: Upstream) -> bool:
        """True while `upstream` has more than max_fails failed probes (never if max_fails 0)."""
        return self.max_fails > 0 and self._fails[upstream] > self.max_fails

    def suspect(self, upstream: Upstream) -> None:
        """A query to `upstream` failed: probe it (nothing when health checking is off)."""
        if self.max_fails > 0:
            self._suspects[upstream] = None
            self._wake.set()

    async def check_once(self) -> bool:
        """Probe every suspect once, concurrently; True while any still fails."""
        suspects = list(self._suspects)
        results = await asyncio.gather(*(self._probe(upstream) for upstream in suspects))
        for upstream, healthy in zip(suspects, results, strict=True):
            if healthy:
                self._fails[upstream] = 0
                self._suspects.pop(upstream, None)
            else:
                self._fails[upstream] += 1
                self._metrics[upstream].health_check_failed()
        return bool(self._suspects)

    async def _probe(self, upstream: Upstream) -> bool:
        wire = probe_wire(
            self._rng.randrange(1 << 16), self.config.domain, self.config.recursion_desired
        )
        try:
            async with asyncio.timeout(self.config.timeout):
                await self._exchanger.exchange(wire, upstream, self._transport)
        except (TimeoutError, UpstreamError) as exc:
            logger.debug("forward: health check of %s failed: %s", upstream, exc or "timeout")
            return False
        return True

    async def start(self) -> None:
        """Start the probing task."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="forward-health")

    async def stop(self) -> None:
        """Stop the probing task."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:
                try:
                    failing = await self.check_once()
                except Exception:  # a broken exchanger must not end health checking for good
                    logger.exception("forward: health check round failed")
                    failing = True
                if not failing:
                    break
                await self._sleep(self.config.interval)
