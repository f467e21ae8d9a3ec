"""Periodic: checks run every interval, a failing check does not end them, stop ends them."""

import asyncio

from clusterdns.periodic import Periodic


async def test_checks_run_each_interval_and_survive_a_failure() -> None:
    intervals: list[float] = []
    ticks: asyncio.Queue[None] = asyncio.Queue()
    checked: list[int] = []
    third = asyncio.Event()

    async def sleep(seconds: float) -> None:
        intervals.append(seconds)
        await ticks.get()

    async def check() -> None:
        checked.append(len(checked))
        if len(checked) == 1:
            raise OSError("file vanished")
        if len(checked) == 3:
            third.set()

    periodic = Periodic(7.0, check, "test check", sleep)
    periodic.start()
    assert periodic.running
    for _ in range(3):
        ticks.put_nowait(None)
    await asyncio.wait_for(third.wait(), 5)
    await periodic.stop()
    assert not periodic.running
    assert checked == [0, 1, 2] and set(intervals) == {7.0}


async def test_interval_zero_never_starts() -> None:
    async def check() -> None:
        raise AssertionError("must not run")

    periodic = Periodic(0, check, "never")
    periodic.start()
    assert not periodic.running
    await periodic.stop()
