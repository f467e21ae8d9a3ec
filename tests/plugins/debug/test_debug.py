"""`debug`: DEBUG logging while any `debug` runs, across a reload's overlap."""

import logging

import pytest

from clusterdns.corefile.lexer import CorefileError
from clusterdns.plugins.debug.setup import setup
from tests.fakes.plugins import FakeClock, context, stanza


async def test_debug_level_survives_a_reload_overlap_and_is_restored() -> None:
    root = logging.getLogger("clusterdns")
    before = root.level
    ctx = context(FakeClock())  # one Shared, as one process has
    old, new = setup(stanza("debug"), ctx), setup(stanza("debug"), ctx)
    await old.start()
    assert root.level == logging.DEBUG
    await new.start()  # a reload starts the new plugins first ...
    await old.stop()  # ... then stops the old ones: still debugging
    assert root.level == logging.DEBUG
    await new.stop()
    assert root.level == before


def test_debug_takes_no_arguments() -> None:
    with pytest.raises(CorefileError, match="^Corefile:2: debug: expected no arguments"):
        setup(stanza("debug on"), context(FakeClock()))
