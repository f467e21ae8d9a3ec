"""LineWriter: lines reach stdout in order, in batches, and none is lost."""

import asyncio
import io
import sys

import pytest

from clusterdns.plugins.log.writer import FLUSH_LINES, LineWriter, flush_all


class Refusing(io.StringIO):
    """A stdout whose first `refusals` writes fail as a full pipe does."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals

    def write(self, text: str) -> int:
        if self.refusals > 0:
            self.refusals -= 1
            raise BlockingIOError("stdout is full")
        return super().write(text)


def out(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize(
    ("count", "written_at_once"),
    [
        pytest.param(1, 0, id="one-line-waits"),
        pytest.param(FLUSH_LINES - 1, 0, id="below-the-batch-limit-waits"),
        pytest.param(FLUSH_LINES, FLUSH_LINES, id="a-full-batch-is-written-at-once"),
    ],
)
async def test_lines_wait_for_the_batch_then_come_out_in_order(
    capsys: pytest.CaptureFixture[str], count: int, written_at_once: int
) -> None:
    writer = LineWriter(interval=3600)
    for i in range(count):
        writer.write(f"line {i}")
    assert len(out(capsys)) == written_at_once
    writer.flush()
    rest = [f"[INFO] line {i}" for i in range(written_at_once, count)]
    assert out(capsys) == rest
    assert writer.pending == 0


async def test_the_timer_writes_without_a_flush(capsys: pytest.CaptureFixture[str]) -> None:
    writer = LineWriter(interval=0)
    writer.write("soon")
    for _ in range(100):  # call_later(0) runs on one of the next loop iterations
        if writer.pending == 0:
            break
        await asyncio.sleep(0)
    assert out(capsys) == ["[INFO] soon"]


def test_without_a_running_loop_a_line_is_written_at_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    LineWriter().write("direct")
    assert out(capsys) == ["[INFO] direct"]


async def test_a_refused_write_keeps_the_lines_for_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stdout = Refusing(refusals=1)
    monkeypatch.setattr(sys, "stdout", stdout)
    writer = LineWriter(interval=3600)
    writer.write("first")
    writer.flush()
    assert (writer.failures, writer.pending, stdout.getvalue()) == (1, 1, "")
    writer.write("second")
    writer.flush()
    assert stdout.getvalue() == "[INFO] first\n[INFO] second\n"
    assert writer.pending == 0


async def test_exit_writes_every_writer(capsys: pytest.CaptureFixture[str]) -> None:
    one, two = LineWriter(interval=3600), LineWriter(interval=3600)
    one.write("from one")
    two.write("from two")
    flush_all()  # what the interpreter runs at exit
    assert {"[INFO] from one", "[INFO] from two"} <= set(out(capsys))
