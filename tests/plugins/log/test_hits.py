"""Pre-encoded hits over real UDP: logged exactly as the chain logs the same query."""

import logging
import re

import dns.message
import dns.rcode
import dns.rrset
import pytest

from clusterdns.app import App
from clusterdns.plugins.log.handler import LogHandler
from clusterdns.plugins.log.options import parse
from tests.conftest import Client, listener
from tests.fakes.ports import free_port
from tests.plugins.log.conftest import FakeClock, stanza

LOGGER = "clusterdns.plugins.log"


def corefile(port: int, log: str) -> str:
    """One server block: `log` as given, NXDOMAIN for denied.test, hosts for name.test."""
    return (
        f".:{port} {{\n    bind 127.0.0.1\n    {log}\n"
        "    template IN ANY denied.test {\n        rcode NXDOMAIN\n"
        '        authority "denied.test. 60 IN SOA ns.denied.test. hm.denied.test. 1 2 3 4 60"\n'
        "    }\n    hosts {\n        10.0.0.1 name.test\n        reload 0\n    }\n}\n"
    )


def written(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The query log lines on stdout, without their `[INFO] ` prefix."""
    out = capsys.readouterr().out.splitlines()
    return [line.removeprefix("[INFO] ") for line in out if line.startswith("[INFO] ")]


def without_id_port_duration(line: str) -> str:
    """A common or combined line without what changes from one query to the next."""
    fields = line.split()[3:]
    return " ".join(field for field in fields if not re.fullmatch(r"[0-9.]+s", field))


@pytest.mark.parametrize(
    ("log", "name", "rdtype", "edns", "logged"),
    [
        pytest.param("log", "name.test.", "A", -1, 3, id="common-found"),
        pytest.param("log", "NaMe.TeSt.", "A", 0, 3, id="common-mixed-case-edns"),
        pytest.param("log", "name.test.", "TXT", 0, 3, id="common-nodata-edns"),
        pytest.param("log", "A.Denied.Test.", "A", 0, 3, id="common-nxdomain-soa"),
        pytest.param("log . {combined}", "name.test.", "AAAA", -1, 3, id="combined-nodata"),
        pytest.param("log {\n class denial\n }", "name.test.", "A", -1, 0, id="denial-skips-hits"),
        pytest.param(
            "log {\n class denial\n }", "x.denied.test.", "A", 0, 3, id="denial-logs-hits"
        ),
        pytest.param("log other.", "name.test.", "A", -1, 0, id="other-names-skip-hits"),
    ],
)
async def test_a_hit_is_logged_like_the_chain_logs_it(
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    log: str,
    name: str,
    rdtype: str,
    edns: int,
    logged: int,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    port = free_port()
    app = App(corefile(port, log), "Corefile")
    await app.start()
    try:
        hits = listener(app).stores[0].hits
        for _ in range(3):  # stored on the second sighting, served pre-encoded on the third
            await Client(port).udp(dns.message.make_query(name, rdtype, use_edns=edns))
        served_hot = listener(app).stores[0].hits - hits
    finally:
        await app.stop()
    lines = written(capsys)  # the server's stop wrote what was still queued
    assert served_hot == 1
    assert len(lines) == logged
    assert len({without_id_port_duration(line) for line in lines}) == min(logged, 1)


async def test_a_hit_line_carries_its_own_client_id_and_duration(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    port = free_port()
    app = App(
        corefile(port, "log . {remote}:{port}_{>id}_{duration}_{name}_{rsize}_{size}"), "Corefile"
    )
    await app.start()
    try:
        sent = []
        for ident in (101, 202, 303):
            query = dns.message.make_query("name.test.", "A")
            query.id = ident
            sent.append(ident)
            await Client(port).udp(query)

        assert listener(app).stores[0].hits == 1
    finally:
        await app.stop()
    lines = written(capsys)  # the server's stop wrote what was still queued
    assert [int(line.split("_")[1]) for line in lines] == sent
    for line in lines:
        remote, _, duration, name, rsize, size = line.split("_")
        assert remote.startswith("127.0.0.1:")
        assert duration.endswith("s") and float(duration[:-1]) < 1
        assert (name, rsize, size) == ("name.test.", "43", "27")


async def test_a_changed_reply_to_the_same_question_gets_its_own_line(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = FakeClock()
    handler = LogHandler(parse(stanza("log")), clock)
    query = dns.message.make_query("name.test.", "A")
    found = dns.message.make_response(query)
    found.answer.append(dns.rrset.from_text("name.test.", 60, "IN", "A", "10.0.0.1"))
    gone = dns.message.make_response(query)
    gone.set_rcode(dns.rcode.NXDOMAIN)
    for reply in (found, gone, found):  # e.g. the Service deleted, then created again
        handler.hit(query.to_wire(), reply.to_wire(), ("::1", 5353), clock.monotonic())
    await handler.stop()
    lines = written(capsys)
    assert all(line.startswith(f"[::1]:5353 - {query.id} ") for line in lines)
    assert all(line.endswith(" 0s") for line in lines)  # the fake clock did not move
    assert [without_id_port_duration(line) for line in lines] == [
        '"A IN name.test. udp 27 false 512" NOERROR qr,rd 43',
        '"A IN name.test. udp 27 false 512" NXDOMAIN qr,rd 27',
        '"A IN name.test. udp 27 false 512" NOERROR qr,rd 43',
    ]
