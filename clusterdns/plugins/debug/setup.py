"""`debug`: debug-level logging for clusterdns while the Corefile that has it runs."""

import logging

from clusterdns.corefile.directive import expect_args, expect_no_block
from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext

logger = logging.getLogger(__name__)
_ROOT = "clusterdns"  # the logger every module's logger descends from


class DebugLevel:
    """The process's debug switch: on while any started `debug` plugin runs (one per process).

    A reload starts the new plugins before it stops the old ones, so a count, not each
    plugin's memory of the level it found, decides when the level goes back.
    """

    def __init__(self) -> None:
        self.active = 0
        self.previous = logging.NOTSET

    def enable(self) -> None:
        """One more `debug` running: DEBUG from the first."""
        root = logging.getLogger(_ROOT)
        if self.active == 0:
            self.previous = root.level
            root.setLevel(logging.DEBUG)
            logger.debug("plugin/debug: debug logging on")
        self.active += 1

    def disable(self) -> None:
        """One `debug` fewer: the level found at first is restored after the last."""
        self.active -= 1
        if self.active == 0:
            logging.getLogger(_ROOT).setLevel(self.previous)


class DebugPlugin:
    """Puts the `clusterdns` loggers at DEBUG while it runs.

    CoreDNS's debug also stops recovering from panics; clusterdns always answers SERVFAIL and
    logs the traceback instead (the serving loop never crashes), so only the logging half applies.
    """

    name = "debug"

    def __init__(self, level: DebugLevel) -> None:
        self.level = level
        self._on = False

    async def start(self) -> None:
        """Turn debug logging on (process-wide, as in CoreDNS)."""
        if not self._on:
            self._on = True
            self.level.enable()

    async def stop(self) -> None:
        """Give up this plugin's hold on debug logging."""
        if self._on:
            self._on = False
            self.level.disable()


def setup(directive: Directive, context: SetupContext) -> DebugPlugin:
    """The plugin of a `debug` stanza, which takes no arguments or block."""
    expect_args(directive, 0, 0)
    expect_no_block(directive)
    return DebugPlugin(context.shared.get("debug", DebugLevel, DebugLevel))
