"""OffLoop: work made in a worker thread, one run per key, one run at a time."""

import asyncio
import threading

import pytest

from clusterdns.offloop import OffLoop

WAIT = 5.0  # a safety net only: every wait below ends on an event


class Blocked:
    """Work that waits for `gate`, counting its runs and the threads they ran in."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.gate = threading.Event()
        self.started = threading.Event()
        self.runs = 0
        self.threads: list[int] = []

    def __call__(self) -> str:
        self.runs += 1
        self.threads.append(threading.get_ident())
        self.started.set()
        if not self.gate.wait(WAIT):
            raise TimeoutError("gate never opened")
        return self.value


async def test_concurrent_askers_share_one_run_in_another_thread() -> None:
    offloop: OffLoop[str, str] = OffLoop()
    work = Blocked("built")
    kept: list[str] = []
    first = asyncio.ensure_future(offloop.make("key", work, kept.append))
    second = asyncio.ensure_future(offloop.make("key", work, kept.append))
    await asyncio.to_thread(work.started.wait, WAIT)
    assert not first.done() and not second.done()  # the loop runs while the work waits
    work.gate.set()
    assert list(await asyncio.wait_for(asyncio.gather(first, second), WAIT)) == ["built", "built"]
    assert work.runs == 1 and kept == ["built"]
    assert work.threads != [threading.get_ident()]
    assert len(offloop) == 0


async def test_done_runs_before_any_waiter_resumes() -> None:
    offloop: OffLoop[str, str] = OffLoop()
    kept: list[str] = []
    work = Blocked("built")
    work.gate.set()

    async def ask() -> list[str]:
        await offloop.make("key", work, kept.append)
        return list(kept)  # what the waiter sees the moment it resumes

    assert await asyncio.wait_for(ask(), WAIT) == ["built"]


async def test_a_cancelled_waiter_does_not_stop_the_run_others_await() -> None:
    offloop: OffLoop[str, str] = OffLoop()
    work = Blocked("built")
    leaving = asyncio.ensure_future(offloop.make("key", work))
    staying = asyncio.ensure_future(offloop.make("key", work))
    await asyncio.to_thread(work.started.wait, WAIT)
    leaving.cancel()
    work.gate.set()
    assert await asyncio.wait_for(staying, WAIT) == "built"
    assert leaving.cancelled() and work.runs == 1


async def test_a_failing_run_fails_every_waiter_and_the_next_ask_runs_again() -> None:
    offloop: OffLoop[str, str] = OffLoop()
    attempts: list[int] = []

    def failing() -> str:
        attempts.append(1)
        raise ValueError("broken")

    results = await asyncio.wait_for(
        asyncio.gather(
            offloop.make("key", failing), offloop.make("key", failing), return_exceptions=True
        ),
        WAIT,
    )
    assert [type(r) for r in results] == [ValueError, ValueError]
    assert len(attempts) == 1
    with pytest.raises(ValueError, match="broken"):
        await asyncio.wait_for(offloop.make("key", failing), WAIT)
    assert len(attempts) == 2


async def test_runs_go_one_at_a_time() -> None:
    offloop: OffLoop[str, str] = OffLoop()
    first, second = Blocked("a"), Blocked("b")
    second.gate.set()
    a = asyncio.ensure_future(offloop.make("a", first))
    b = asyncio.ensure_future(offloop.make("b", second))
    await asyncio.to_thread(first.started.wait, WAIT)
    # "b" is queued, not handed to a thread, while "a" runs: nothing to wait for here.
    assert not second.started.is_set() and len(offloop) == 2
    first.gate.set()
    assert list(await asyncio.wait_for(asyncio.gather(a, b), WAIT)) == ["a", "b"]


async def test_forget_starts_a_new_run_and_lets_the_old_one_finish() -> None:
    offloop: OffLoop[str, str] = OffLoop()
    old, new = Blocked("old"), Blocked("new")
    new.gate.set()
    waiting = asyncio.ensure_future(offloop.make("key", old))
    await asyncio.to_thread(old.started.wait, WAIT)
    offloop.forget()
    fresh = asyncio.ensure_future(offloop.make("key", new))
    old.gate.set()
    assert list(await asyncio.wait_for(asyncio.gather(waiting, fresh), WAIT)) == ["old", "new"]


async def test_a_run_not_started_takes_the_fresher_work_so_the_backlog_never_grows() -> None:
    """Zone changes faster than builds: each key keeps at most one run waiting, the newest."""
    offloop: OffLoop[str, str] = OffLoop()
    running = Blocked("first zone")
    kept: list[str] = []
    first = asyncio.ensure_future(offloop.make("key", running, kept.append))
    await asyncio.to_thread(running.started.wait, WAIT)
    offloop.forget()  # a new zone: later askers want a build of it
    second = asyncio.ensure_future(offloop.make("key", lambda: "second zone", kept.append))
    offloop.forget()  # another one before that build could start
    third = asyncio.ensure_future(offloop.make("key", lambda: "third zone", kept.append))
    running.gate.set()
    results = await asyncio.wait_for(asyncio.gather(first, second, third), WAIT)
    assert list(results) == ["first zone", "third zone", "third zone"]
    assert kept == ["first zone", "third zone"]
