"""`reload [INTERVAL] [JITTER]`: poll the Corefile's checksum; a change asks the app to reload."""

import asyncio
import hashlib
import logging

from clusterdns.corefile.directive import (
    arg_duration,
    directive_error,
    expect_args,
    expect_no_block,
)
from clusterdns.corefile.parser import Directive
from clusterdns.plugin import Reloader, SetupContext

logger = logging.getLogger(__name__)


class ReloadPlugin:
    """A lifecycle task that polls the Corefile every INTERVAL ± JITTER."""

    name = "reload"

    def __init__(
        self, interval: float, jitter: float, reloader: Reloader, context: SetupContext
    ) -> None:
        self.interval = interval
        self.jitter = jitter
        self.reloader = reloader
        self.rng = context.rng
        self.checksum = ""
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    async def start(self) -> None:
        """Remember the running Corefile's checksum and start polling."""
        if self.reloader.read is None:
            return
        self.checksum = _checksum(self.reloader.read())
        self._task = asyncio.get_running_loop().create_task(self._poll())

    async def stop(self) -> None:
        """Stop polling (a reload stops the old plugin instances, this one among them).

        The reload that stops this instance usually runs inside its own poll task, which
        cannot cancel itself mid-reload: it is told to end when that reload returns, so only
        the new instance polls afterwards (one failure counted and logged once, not twice).
        """
        self._stopped = True
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def check_once(self) -> bool:
        """Reload if the Corefile changed; True when a reload was tried."""
        if self._stopped or self.reloader.read is None or self.reloader.apply is None:
            return False
        try:
            text = self.reloader.read()
        except OSError as exc:
            logger.error("plugin/reload: cannot read the Corefile: %s", exc)
            return False
        checksum = _checksum(text)
        if checksum == self.checksum:
            return False
        logger.info("plugin/reload: Corefile changed (SHA512 %s...), reloading", checksum[:12])
        self.checksum = checksum
        await self.reloader.apply(text)
        return True

    async def _poll(self) -> None:
        while not self._stopped:
            await self.reloader.sleep(self.interval + self.rng.uniform(-self.jitter, self.jitter))
            await self.check_once()


def _checksum(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest()


def setup(directive: Directive, context: SetupContext) -> ReloadPlugin:
    """CoreDNS defaults: 30s, jitter 15s; interval at least 2s, jitter at most half of it."""
    args = expect_args(directive, 0, 2)
    expect_no_block(directive)
    interval = arg_duration(directive, 0, 2.0, None, "interval") if args else 30.0
    jitter = arg_duration(directive, 1, 1.0, None, "jitter") if len(args) > 1 else interval / 2
    if jitter > interval / 2:
        raise directive_error(directive, f"jitter must be at most half the interval, got {jitter}")
    reloader = context.shared.get("reload", Reloader, Reloader)
    return ReloadPlugin(interval, jitter, reloader, context)
