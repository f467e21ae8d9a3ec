"""The `log` handler: the lines it writes, which queries it logs, and what it leaves alone."""

import logging
from collections.abc import Iterator
from dataclasses import replace

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from clusterdns.dns.records import Address, Answer, Rcode, Record, RType, Soa
from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.log.handler import LogHandler
from clusterdns.plugins.log.options import parse
from clusterdns.plugins.log.writer import flush_all
from tests.plugins.log.conftest import FakeClock, build_request, stanza

LOGGER = "clusterdns.plugins.log"
ADDRESS = Record("example.org.", RType.A, 30, Address("10.0.0.7"))
SOA = Record(
    "example.org.", RType.SOA, 30, Soa("ns.example.org.", "hm.example.org.", 1, 2, 3, 4, 30)
)
FOUND = Response("kubernetes", answer=Answer(Rcode.NOERROR, (ADDRESS,), authoritative=True))
NXDOMAIN = Response("kubernetes", answer=Answer(Rcode.NXDOMAIN, authority=(SOA,)))
NODATA = Response("kubernetes", answer=Answer(Rcode.NOERROR, authority=(SOA,)))
SERVFAIL = Response("forward", answer=Answer(Rcode.SERVFAIL, recursion_available=True))


def answering(clock: FakeClock, response: Response, seconds: float = 0.000123) -> Next:
    """A `next` that takes `seconds` on `clock` and answers `response`."""

    async def serve(request: Request) -> Response:
        clock.advance(seconds)
        return response

    return serve


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The query log lines written to stdout so far, each an INFO line."""
    flush_all()
    written = capsys.readouterr().out.splitlines()
    assert all(line.startswith("[INFO] ") for line in written)
    return [line.removeprefix("[INFO] ") for line in written]


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at t=1000."""
    return FakeClock()


@pytest.fixture(autouse=True)
def capture(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Capture the query log at INFO."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    yield


def forwarded(rcode: int = 0, ra: bool = True) -> Response:
    """A foreign reply to `example.org. A` (EDNS, one A record), as `forward` returns it."""
    query = dns.message.make_query("example.org.", "A", use_edns=0, payload=1232)
    query.id = 28631
    reply = dns.message.make_response(query)
    if ra:
        reply.flags |= dns.flags.RA
    reply.set_rcode(dns.rcode.Rcode(rcode))
    reply.answer.append(dns.rrset.from_text("example.org.", 300, "IN", "A", "93.184.215.14"))
    return Response("forward", wire=reply.to_wire())


@pytest.mark.parametrize(
    ("request_", "response", "line"),
    [
        pytest.param(
            build_request(),
            FOUND,
            # 29 = 12 header + 13 name + 4; 45 = 29 + one A record owned by a 2-byte pointer.
            '127.0.0.1:40212 - 28631 "A IN example.org. udp 29 false 512" '
            "NOERROR qr,aa,rd 45 0.000123s",
            id="structured",
        ),
        pytest.param(
            build_request(client=("::1", 50759), ident=29008, use_edns=0, payload=4096),
            forwarded(),
            '[::1]:50759 - 29008 "A IN example.org. udp 40 false 4096" '
            "NOERROR qr,rd,ra 56 0.000123s",
            id="wire-ipv6-edns",
        ),
        pytest.param(
            build_request(protocol="tcp", want_dnssec=True),
            NXDOMAIN,
            # 82 = 29 + SOA (2 + 10 + 5 + 5 + 20) + OPT 11.
            '127.0.0.1:40212 - 28631 "A IN example.org. tcp 40 true 65535" '
            "NXDOMAIN qr,rd 82 0.000123s",
            id="tcp-do-nxdomain",
        ),
        pytest.param(
            build_request(qtype="TYPE65280", use_edns=0, payload=100),
            forwarded(16, ra=False),
            '127.0.0.1:40212 - 28631 "TYPE65280 IN example.org. udp 40 false 512" '
            "BADSIG qr,rd 56 0.000123s",
            id="unknown-type-small-payload-extended-rcode",
        ),
        pytest.param(
            build_request("Example.ORG.", "AAAA", rdclass="CH"),
            SERVFAIL,
            '127.0.0.1:40212 - 28631 "AAAA CH example.org. udp 29 false 512" '
            "SERVFAIL qr,rd,ra 29 0.000123s",
            id="lowercase-name-class",
        ),
    ],
)
async def test_common_log_format(
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    request_: Request,
    response: Response,
    line: str,
) -> None:
    handler = LogHandler(parse(stanza("log")), clock)
    served = await handler.serve(request_, answering(clock, response))
    # The same response, carrying the bytes the log line measured for the server to reuse.
    assert replace(served, encoded=None) == response
    assert served.encoded is None or len(served.encoded) == int(line.split()[-2])
    assert lines(capsys) == [line]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param(
            'log . "{proto} Request: {name} {type} {>id}"',
            "udp Request: example.org. A 28631",
            id="custom",
        ),
        pytest.param(
            "log . {combined}",
            '127.0.0.1:40212 - 28631 "A IN example.org. udp 29 false 512" '
            'NOERROR qr,aa,rd 45 0.000123s "0"',
            id="combined",
        ),
        pytest.param(
            'log . "{local} {/pod} {>opcode} {X} {rcode}"', "- - 0 {X} NOERROR", id="no-values"
        ),
    ],
)
async def test_formats(
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    text: str,
    line: str,
) -> None:
    handler = LogHandler(parse(stanza(text)), clock)
    await handler.serve(build_request(), answering(clock, FOUND))
    assert lines(capsys) == [line]


@pytest.mark.parametrize(
    ("text", "name", "logged"),
    [
        pytest.param("log", "anything.test.", True, id="root"),
        pytest.param("log example.org", "example.org.", True, id="apex"),
        pytest.param("log example.org", "www.Example.org.", True, id="below"),
        pytest.param("log example.org", "badexample.org.", False, id="suffix-is-not-below"),
        pytest.param("log example.org other.org", "a.other.org.", True, id="second-name"),
        pytest.param("log example.org other.org {combined}", "x.net.", False, id="outside"),
    ],
)
async def test_names(
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    text: str,
    name: str,
    logged: bool,
) -> None:
    handler = LogHandler(parse(stanza(text)), clock)
    served = await handler.serve(build_request(name), answering(clock, FOUND))
    assert replace(served, encoded=None) == FOUND
    assert len(lines(capsys)) == int(logged)


@pytest.mark.parametrize(
    ("classes", "response", "logged"),
    [
        pytest.param("all", SERVFAIL, True, id="all"),
        pytest.param("success", FOUND, True, id="success"),
        pytest.param("success", NXDOMAIN, False, id="success-not-denial"),
        pytest.param("denial", NXDOMAIN, True, id="denial-nxdomain"),
        pytest.param("denial", NODATA, True, id="denial-nodata"),
        pytest.param("denial", FOUND, False, id="denial-not-success"),
        pytest.param("error", SERVFAIL, True, id="error"),
        pytest.param("error", forwarded(5), True, id="error-refused-wire"),
        pytest.param("denial error", FOUND, False, id="two-classes"),
        pytest.param("denial error", SERVFAIL, True, id="two-classes-match"),
    ],
)
async def test_classes(
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    classes: str,
    response: Response,
    logged: bool,
) -> None:
    handler = LogHandler(parse(stanza(f"log {{\n class {classes}\n}}")), clock)
    await handler.serve(build_request(), answering(clock, response))
    assert len(lines(capsys)) == int(logged)


@pytest.mark.parametrize(
    ("seconds", "logged"),
    [
        pytest.param(0.05, False, id="fast"),
        pytest.param(0.1, False, id="at-threshold"),
        pytest.param(0.2, True, id="slow"),
    ],
)
async def test_min_duration_logs_slow_queries_of_other_classes(
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    seconds: float,
    logged: bool,
) -> None:
    handler = LogHandler(parse(stanza("log {\n class error\n minDuration\n}")), clock)
    await handler.serve(build_request(), answering(clock, FOUND, seconds))
    assert len(lines(capsys)) == int(logged)


async def test_an_exception_is_logged_as_servfail_and_raised(
    clock: FakeClock, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    async def failing(request: Request) -> Response:
        clock.advance(0.5)
        raise RuntimeError("boom")

    handler = LogHandler(parse(stanza("log")), clock)
    with pytest.raises(RuntimeError, match="boom"):
        await handler.serve(build_request(), failing)
    assert lines(capsys) == [
        '127.0.0.1:40212 - 28631 "A IN example.org. udp 29 false 512" SERVFAIL qr,rd 29 0.5s'
    ]


async def test_nothing_is_computed_when_the_logger_is_off(
    clock: FakeClock, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    handler = LogHandler(parse(stanza("log")), clock)
    assert await handler.serve(build_request(), answering(clock, FOUND)) is FOUND
    assert lines(capsys) == []


async def test_a_reply_that_cannot_be_described_is_still_returned(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="clusterdns.plugins.log.handler")
    broken = Response("x", answer=Answer(Rcode.NOERROR, (Record("a.", RType.MX, 1, ADDRESS.data),)))
    handler = LogHandler(parse(stanza("log")), clock)
    assert await handler.serve(build_request(), answering(clock, broken)) is broken
    assert handler.failures == 1
    assert "log: cannot describe the reply to example.org." in caplog.text
