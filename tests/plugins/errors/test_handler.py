"""The `errors` handler: exceptions become one log line and a SERVFAIL; consolidation windows."""

import asyncio
import logging
import re
from collections.abc import Iterator

import pytest

from clusterdns.dns.records import Answer, Rcode
from clusterdns.errors import UpstreamError
from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.errors.consolidate import Consolidate, go_duration
from clusterdns.plugins.errors.handler import ErrorsHandler, Sleep
from clusterdns.plugins.errors.options import ErrorsConfig
from tests.plugins.errors.conftest import FakeClock, build_request

LOGGER = "clusterdns.plugins.errors.handler"
TIMEOUT = "read udp 10.0.0.1:53->8.8.8.8:53: i/o timeout"
OK = Response("kubernetes", answer=Answer(Rcode.NOERROR), cacheable=True)


def raising(exc: BaseException) -> Next:
    """A `next` that raises `exc`."""

    async def serve(request: Request) -> Response:
        raise exc

    return serve


async def answering(request: Request) -> Response:
    """A `next` that answers."""
    return OK


def consolidate(
    window: float, pattern: str, level: int = logging.ERROR, first: bool = False
) -> Consolidate:
    """One consolidate line."""
    return Consolidate(window, re.compile(pattern), level, first)


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    """(level, message) of every record the handler logged."""
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == LOGGER]


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at t=1000."""
    return FakeClock()


@pytest.fixture(autouse=True)
def capture(caplog: pytest.LogCaptureFixture) -> None:
    """Capture the handler's records from DEBUG up."""
    caplog.set_level(logging.DEBUG, logger=LOGGER)


async def test_answers_pass_through_untouched(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    handler = ErrorsHandler(ErrorsConfig(), clock)
    assert await handler.serve(build_request(), answering) is OK
    assert lines(caplog) == []


@pytest.mark.parametrize(
    ("exc", "qtype", "message", "traced", "stacktrace"),
    [
        pytest.param(
            UpstreamError(TIMEOUT), "A", f"2 example.org. A: {TIMEOUT}", False, False, id="ours"
        ),
        pytest.param(
            UpstreamError(TIMEOUT), "A", f"2 example.org. A: {TIMEOUT}", True, True, id="stacktrace"
        ),
        pytest.param(
            RuntimeError("boom"),
            "AAAA",
            "2 example.org. AAAA: RuntimeError: boom",
            True,
            False,
            id="bug-with-traceback",
        ),
        pytest.param(KeyError(), "SRV", "2 example.org. SRV: KeyError", True, False, id="no-text"),
        pytest.param(
            UpstreamError(),
            "TYPE65280",
            "2 example.org. TYPE65280: UpstreamError",
            False,
            False,
            id="unknown-type",
        ),
    ],
)
async def test_exception_is_logged_once_and_answered_servfail(
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    exc: Exception,
    qtype: str,
    message: str,
    traced: bool,
    stacktrace: bool,
) -> None:
    handler = ErrorsHandler(ErrorsConfig(stacktrace=stacktrace), clock)
    response = await handler.serve(build_request(qtype=qtype), raising(exc))
    assert response == Response("errors", answer=Answer(Rcode.SERVFAIL))
    assert lines(caplog) == [("ERROR", f"plugin/errors: {message}")]
    assert (caplog.records[0].exc_info is not None) is traced


async def test_cancellation_passes_through(clock: FakeClock) -> None:
    handler = ErrorsHandler(ErrorsConfig(), clock)
    with pytest.raises(asyncio.CancelledError):
        await handler.serve(build_request(), raising(asyncio.CancelledError()))


async def test_consolidates_matching_errors_until_the_window_ends(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    config = ErrorsConfig((consolidate(30.0, "^read udp .* i/o timeout$", logging.WARNING),))
    handler = ErrorsHandler(config, clock)
    for second in (0.0, 10.0, 10.0):
        clock.advance(second)
        await handler.serve(build_request(), raising(UpstreamError(TIMEOUT)))
    await handler.serve(build_request(), raising(UpstreamError("refused")))
    assert lines(caplog) == [("ERROR", "plugin/errors: 2 example.org. A: refused")]
    handler.flush(clock.now + 9.999)  # 29.999 s after the first: still open
    assert len(lines(caplog)) == 1
    handler.flush(clock.now + 10.0)
    expected = "plugin/errors: 3 errors like '^read udp .* i/o timeout$' occurred in last 30s"
    assert lines(caplog)[1:] == [("WARNING", expected)]
    handler.flush(clock.now + 100)
    assert len(lines(caplog)) == 2


async def test_an_error_after_the_window_closes_it_and_opens_another(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    handler = ErrorsHandler(ErrorsConfig((consolidate(5.0, "timeout"),)), clock)
    await handler.serve(build_request(), raising(UpstreamError(TIMEOUT)))
    clock.advance(6.0)
    await handler.serve(build_request(), raising(UpstreamError(TIMEOUT)))
    assert lines(caplog) == [
        ("ERROR", "plugin/errors: 1 errors like 'timeout' occurred in last 5s")
    ]
    clock.advance(5.0)
    handler.flush()
    assert len(lines(caplog)) == 2


async def test_the_first_matching_pattern_counts_the_error(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    config = ErrorsConfig((consolidate(1.0, "udp"), consolidate(2.0, "timeout")))
    handler = ErrorsHandler(config, clock)
    await handler.serve(build_request(), raising(UpstreamError(TIMEOUT)))
    await handler.serve(build_request(), raising(UpstreamError("tcp timeout")))
    clock.advance(2.0)
    handler.flush()
    assert sorted(lines(caplog)) == [
        ("ERROR", "plugin/errors: 1 errors like 'timeout' occurred in last 2s"),
        ("ERROR", "plugin/errors: 1 errors like 'udp' occurred in last 1s"),
    ]


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        pytest.param(1, [f"2 example.org. A: {TIMEOUT}"], id="one-error-no-summary"),
        pytest.param(
            3,
            [f"2 example.org. A: {TIMEOUT}", "3 errors like 'timeout$' occurred in last 30s"],
            id="first-then-summary",
        ),
    ],
)
async def test_show_first(
    clock: FakeClock, caplog: pytest.LogCaptureFixture, count: int, expected: list[str]
) -> None:
    handler = ErrorsHandler(ErrorsConfig((consolidate(30.0, "timeout$", 20, True),)), clock)
    for _ in range(count):
        await handler.serve(build_request(), raising(UpstreamError(TIMEOUT)))
    clock.advance(30.0)
    handler.flush()
    assert lines(caplog) == [("INFO", f"plugin/errors: {text}") for text in expected]


async def test_zero_window_logs_at_once(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    handler = ErrorsHandler(ErrorsConfig((consolidate(0.0, "timeout"),)), clock)
    await handler.serve(build_request(), raising(UpstreamError(TIMEOUT)))
    assert lines(caplog) == [
        ("ERROR", "plugin/errors: 1 errors like 'timeout' occurred in last 0s")
    ]


async def test_stop_logs_open_windows(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    handler = ErrorsHandler(ErrorsConfig((consolidate(60.0, "timeout"),)), clock)
    await handler.start()
    await handler.serve(build_request(), raising(UpstreamError(TIMEOUT)))
    await handler.stop()
    assert lines(caplog) == [
        ("ERROR", "plugin/errors: 1 errors like 'timeout' occurred in last 1m0s")
    ]


class Notify(logging.Handler):
    """Sets an event on every record."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.logged = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        """Wake the test."""
        self.logged.set()


@pytest.fixture
def notify() -> Iterator[Notify]:
    """An event set when the handler logs."""
    watcher = Notify()
    logging.getLogger(LOGGER).addHandler(watcher)
    yield watcher
    logging.getLogger(LOGGER).removeHandler(watcher)


async def test_timer_closes_windows_on_time(
    clock: FakeClock, caplog: pytest.LogCaptureFixture, notify: Notify
) -> None:
    naps: list[float] = []

    async def sleep(seconds: float) -> None:
        naps.append(seconds)
        clock.advance(seconds)

    fake_sleep: Sleep = sleep
    config = ErrorsConfig((consolidate(300.0, "timeout"), consolidate(30.0, "refused")))
    handler = ErrorsHandler(config, clock, fake_sleep)
    await handler.start()
    try:
        await handler.serve(build_request(), raising(UpstreamError(TIMEOUT)))
        await asyncio.wait_for(notify.logged.wait(), 5.0)
    finally:
        await handler.stop()
    # Naps never exceed the shortest window, so a window opened meanwhile closes on time.
    assert naps == [30.0] * 10
    assert lines(caplog) == [
        ("ERROR", "plugin/errors: 1 errors like 'timeout' occurred in last 5m0s")
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0.0, "0s", id="zero"),
        pytest.param(30.0, "30s", id="seconds"),
        pytest.param(300.0, "5m0s", id="minutes"),
        pytest.param(90.0, "1m30s", id="minutes-seconds"),
        pytest.param(3600.0, "1h0m0s", id="hour"),
        pytest.param(1.5, "1.5s", id="fraction"),
        pytest.param(0.25, "250ms", id="millis"),
        pytest.param(0.0000015, "1.5\u00b5s", id="micros"),
        pytest.param(0.000000003, "3ns", id="nanos"),
        pytest.param(-2.0, "-2s", id="negative"),
    ],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
