"""Reload as CoreDNS does it: listeners follow the Corefile's addresses, chains pair by address."""

import asyncio
import logging
import socket
from pathlib import Path

import pytest

from clusterdns.app import App
from clusterdns.plugin import Reloader, Shared
from tests.conftest import Client, listener
from tests.fakes.ports import free_port


def hosts_block(port: int, address: str, extra: str = "") -> str:
    """A server block on `port` answering name.test with `address` from inline hosts."""
    return (
        f".:{port} {{\n    bind 127.0.0.1\n{extra}    hosts {{\n"
        f"        {address} name.test\n        reload 0\n    }}\n}}\n"
    )


async def address_on(port: int, name: str = "name.test.") -> list[str]:
    reply = await Client(port).ask(name)
    return [rr.to_text() for rr in reply.answer]


async def refused(port: int) -> bool:
    """True when nothing listens on TCP `port` any more (a refused connection is immediate)."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return True
    writer.close()
    await writer.wait_closed()
    return False


async def test_swapping_two_server_blocks_keeps_each_port_on_its_own_chain() -> None:
    one, two = free_port(), free_port()
    app = App(hosts_block(one, "10.0.0.1") + hosts_block(two, "10.0.0.2"), "Corefile")
    await app.start()
    try:
        assert await app.reload(hosts_block(two, "10.0.0.2") + hosts_block(one, "10.0.0.1"))
        assert await address_on(one) == ["name.test. 3600 IN A 10.0.0.1"]
        assert await address_on(two) == ["name.test. 3600 IN A 10.0.0.2"]
    finally:
        await app.stop()


async def test_a_changed_port_is_listened_on_and_the_old_one_closed() -> None:
    old, new = free_port(), free_port()
    app = App(hosts_block(old, "10.0.0.1"), "Corefile")
    await app.start()
    try:
        assert await app.reload(hosts_block(new, "10.0.0.3"))
        assert await address_on(new) == ["name.test. 3600 IN A 10.0.0.3"]
        assert await refused(old)
        assert [port for _, port in app.addresses] == [new]
        assert app.collector.reload_failures == 0
    finally:
        await app.stop()


async def test_a_port_that_cannot_be_bound_keeps_the_running_servers() -> None:
    port = free_port()
    app = App(hosts_block(port, "10.0.0.1"), "Corefile")
    await app.start()
    try:
        # Another process holds the new port: bind fails, the reload is refused.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind(("127.0.0.1", 0))
            busy = taken.getsockname()[1]
            assert not await app.reload(hosts_block(busy, "10.0.0.9"))
        assert app.collector.reload_failures == 1
        assert await address_on(port) == ["name.test. 3600 IN A 10.0.0.1"]
    finally:
        await app.stop()


@pytest.mark.parametrize(
    ("before", "after", "logged"),
    [
        pytest.param("", "    log\n", 3, id="log-added-logs-hits-too"),
        pytest.param("    log\n", "", 0, id="log-removed-stops-logging-hits"),
    ],
)
async def test_log_added_or_removed_by_reload(
    before: str,
    after: str,
    logged: int,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()
    app = App(hosts_block(port, "10.0.0.1", before), "Corefile")
    await app.start()
    caplog.set_level(logging.INFO, logger="clusterdns.plugins.log")
    try:
        for _ in range(3):  # answers stored under the old Corefile must not outlive it
            assert await address_on(port) == ["name.test. 3600 IN A 10.0.0.1"]
        assert await app.reload(hosts_block(port, "10.0.0.1", after))
        caplog.clear()
        capsys.readouterr()  # the lines before the reload were flushed by the old chain's stop
        hits = listener(app).stores[0].hits
        for _ in range(3):  # stored on the second sighting, served pre-encoded on the third
            assert await address_on(port) == ["name.test. 3600 IN A 10.0.0.1"]
    finally:
        await app.stop()
    # Stopping the server wrote the query log lines still queued.
    out = capsys.readouterr().out.splitlines()
    lines = [line for line in out if line.startswith("[INFO] ")]
    assert len(lines) == logged
    # The repeat is served pre-encoded either way; `log` still writes its line.
    assert listener(app).stores[0].hits - hits == 1
    # Apart from port, id and duration, the hit's line is the chain's line.
    assert len({" ".join(line.split()[4:-1]) for line in lines}) == min(logged, 1)


class Ticks:
    """A `sleep` for the reload poll that returns only when the test ticks."""

    def __init__(self) -> None:
        self.sleepers: dict[asyncio.Task[object], asyncio.Future[None]] = {}
        self.changed = asyncio.Condition()

    async def sleep(self, seconds: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        async with self.changed:
            self.sleepers[task] = wake
            self.changed.notify_all()
        await wake

    async def tick(self) -> int:
        """Wake every poll asleep now; wait until each sleeps again or ends. How many woke."""
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: bool(self.sleepers)), 10)
            woken, self.sleepers = self.sleepers, {}
            for wake in woken.values():
                wake.set_result(None)

            def settled() -> bool:
                return all(task in self.sleepers or task.done() for task in woken)

            await asyncio.wait_for(self.changed.wait_for(settled), 10)
        return len(woken)


async def test_a_bad_corefile_after_a_good_reload_is_counted_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    path = tmp_path / "Corefile"
    text = hosts_block(port, "10.0.0.1", "    reload 2s\n")
    path.write_text(text)
    ticks = Ticks()
    shared = Shared()
    shared.get("reload", Reloader, lambda: Reloader(sleep=ticks.sleep))
    app = App(text, str(path), shared=shared)
    await app.start()
    try:
        path.write_text(text.replace("10.0.0.1", "10.0.0.2"))
        assert await ticks.tick() == 1  # the poll reloads from inside its own task
        assert await address_on(port) == ["name.test. 3600 IN A 10.0.0.2"]
        path.write_text(text.replace("reload 0", "reload -1s"))
        caplog.set_level(logging.ERROR, logger="clusterdns.app")
        assert await ticks.tick() == 1  # only the new poll is left
        assert await ticks.tick() == 1  # the same bad file is not retried
    finally:
        await app.stop()
    assert app.collector.reload_failures == 1
    errors = [r.getMessage() for r in caplog.records if "keeping the running" in r.getMessage()]
    assert len(errors) == 1 and "reload" in errors[0]
