"""The file handler: answers, fallthrough, CNAMEs leaving the zone, and reload (RFC 1035 files)."""

import logging
import os
import random
from collections.abc import Hashable, Iterable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from clusterdns.app import read_text
from clusterdns.corefile.lexer import CorefileError
from clusterdns.dns.records import Address, Answer, Rcode, Record, RType
from clusterdns.plugin import Request, Response, SetupContext
from clusterdns.plugins.file.handler import FileHandler
from clusterdns.plugins.file.setup import setup
from tests.fakes.plugins import FakeClock, build_request, stanza

ZONE = """\
$ORIGIN example.org.
$TTL 3600
@ SOA ns hostmaster {serial} 7200 3600 1209600 300
  NS ns
ns A 192.0.2.53
www A {address}
outside CNAME www.example.net.
"""


def write_zone(path: Path, serial: int = 1, address: str = "192.0.2.1") -> None:
    """Replace the zone file as controllers do: write aside, then rename over it."""
    aside = path.with_suffix(".tmp")
    aside.write_text(ZONE.format(serial=serial, address=address))
    os.replace(aside, path)


class Recorder:
    """The context's zone_changed: remembers what the handler said is stale."""

    def __init__(self) -> None:
        self.calls: list[list[Hashable] | None] = []

    def __call__(self, scopes: Iterable[Hashable] | None) -> None:
        self.calls.append(None if scopes is None else list(scopes))


async def _next(request: Request) -> Response:
    return Response("next", answer=Answer(Rcode.NOERROR))


async def _lookup(request: Request) -> Response:
    """The server from the top: knows www.example.net."""
    if request.query.name == "www.example.net.":
        record = Record("www.example.net.", RType.A, 60, Address("198.51.100.1"))
        return Response("forward", answer=Answer(Rcode.NOERROR, (record,)))
    return Response("forward", answer=Answer(Rcode.NXDOMAIN))


def make(text: str, recorder: Recorder | None = None) -> FileHandler:
    context = SetupContext(
        zones=("example.org.",),
        registry=CollectorRegistry(),
        clock=FakeClock(),
        rng=random.Random(0),
        read_file=read_text,
        zone_changed=recorder or Recorder(),
        lookup=_lookup,
    )
    return setup(stanza(text), context)


@pytest.fixture
def zone_file(tmp_path: Path) -> Path:
    path = tmp_path / "db.example.org"
    write_zone(path)
    return path


async def ask(handler: FileHandler, name: str, qtype: str = "A") -> Response:
    return await handler.serve(build_request(name, qtype), _next)


def addresses(response: Response) -> list[str]:
    assert response.answer is not None
    return [r.zone_line() for r in response.answer.answer]


async def test_answers_are_pre_encodable_per_zone(zone_file: Path) -> None:
    handler = make(f"file {zone_file}")
    response = await ask(handler, "www.example.org.")
    assert addresses(response) == ["www.example.org. 3600 IN A 192.0.2.1"]
    assert response.cacheable and response.scope == ("file", "example.org.")


async def test_names_outside_the_zones_go_on(zone_file: Path) -> None:
    response = await ask(make(f"file {zone_file}"), "www.example.com.")
    assert response.plugin == "next"


async def test_zone_transfers_are_refused(zone_file: Path) -> None:
    response = await ask(make(f"file {zone_file}"), "example.org.", "AXFR")
    assert response.answer is not None and response.answer.rcode == Rcode.REFUSED


async def test_cname_target_outside_the_zone_is_looked_up(zone_file: Path) -> None:
    response = await ask(make(f"file {zone_file}"), "outside.example.org.")
    assert addresses(response) == [
        "outside.example.org. 3600 IN CNAME www.example.net.",
        "www.example.net. 60 IN A 198.51.100.1",
    ]
    assert response.ttl == 60


@pytest.mark.parametrize(
    ("fallthrough", "name", "plugin"),
    [
        pytest.param("", "nope.example.org.", "file", id="no-fallthrough"),
        pytest.param("fallthrough", "nope.example.org.", "next", id="fallthrough-all"),
        pytest.param("fallthrough example.org", "nope.example.org.", "next", id="fallthrough-zone"),
        pytest.param("fallthrough other.org", "nope.example.org.", "file", id="fallthrough-other"),
        pytest.param("fallthrough", "www.example.org.", "file", id="existing-name-stays"),
    ],
)
async def test_fallthrough(zone_file: Path, fallthrough: str, name: str, plugin: str) -> None:
    handler = make(f"file {zone_file} {{\n{fallthrough}\n}}")
    response = await ask(handler, name)
    assert response.plugin == plugin


async def test_reload_swaps_when_the_serial_grows(zone_file: Path) -> None:
    recorder = Recorder()
    handler = make(f"file {zone_file}", recorder)
    write_zone(zone_file, serial=1, address="192.0.2.2")  # changed, same serial: CoreDNS keeps
    assert not await handler.check_once()
    assert addresses(await ask(handler, "www.example.org.")) == [
        "www.example.org. 3600 IN A 192.0.2.1"
    ]
    write_zone(zone_file, serial=2, address="192.0.2.3")
    assert await handler.check_once()
    assert addresses(await ask(handler, "www.example.org.")) == [
        "www.example.org. 3600 IN A 192.0.2.3"
    ]
    assert recorder.calls == [[("file", "example.org.")]]


async def test_reload_by_mtime_takes_any_change(zone_file: Path) -> None:
    handler = make(f"file {zone_file} {{\nreload_by_mtime\n}}")
    write_zone(zone_file, serial=1, address="192.0.2.4")
    assert await handler.check_once()
    assert addresses(await ask(handler, "www.example.org.")) == [
        "www.example.org. 3600 IN A 192.0.2.4"
    ]


@pytest.mark.parametrize(
    ("damage", "logged"),
    [
        pytest.param("remove", "cannot read", id="file-disappears"),
        pytest.param("break", "db.example.org:6: file: bad A address '999.1.1.1'", id="bad-record"),
    ],
)
async def test_a_bad_file_keeps_the_last_good_zone_and_logs_once(
    zone_file: Path, caplog: pytest.LogCaptureFixture, damage: str, logged: str
) -> None:
    caplog.set_level(logging.ERROR, logger="clusterdns")
    handler = make(f"file {zone_file}")
    if damage == "remove":
        os.unlink(zone_file)
    else:
        write_zone(zone_file, serial=5, address="999.1.1.1")
    for _ in range(3):
        assert not await handler.check_once()
    assert addresses(await ask(handler, "www.example.org.")) == [
        "www.example.org. 3600 IN A 192.0.2.1"
    ]
    errors = [m for m in caplog.messages if "serving the last good zone" in m]
    assert len(errors) == 1 and logged in errors[0]
    write_zone(zone_file, serial=6, address="192.0.2.6")  # fixed: picked up again
    assert await handler.check_once()
    assert addresses(await ask(handler, "www.example.org.")) == [
        "www.example.org. 3600 IN A 192.0.2.6"
    ]


async def test_a_missing_file_with_reload_serves_servfail_until_it_appears(tmp_path: Path) -> None:
    path = tmp_path / "db.example.org"
    handler = make(f"file {path}")
    response = await ask(handler, "www.example.org.")
    assert response.answer is not None and response.answer.rcode == Rcode.SERVFAIL
    write_zone(path)
    assert await handler.check_once()
    assert addresses(await ask(handler, "www.example.org.")) == [
        "www.example.org. 3600 IN A 192.0.2.1"
    ]


async def test_start_and_stop_the_reload_task(zone_file: Path) -> None:
    handler = make(f"file {zone_file} {{\nreload 1m\n}}")
    await handler.start()
    await handler.stop()


def test_a_bad_record_stops_start_up_with_its_line(zone_file: Path) -> None:
    write_zone(zone_file, address="192.0.2")
    with pytest.raises(CorefileError) as caught:
        make(f"file {zone_file}")
    assert str(caught.value) == f"{zone_file}:6: file: bad A address '192.0.2'"


def test_a_missing_file_without_reload_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(CorefileError) as caught:
        make(f"file {tmp_path / 'none'} {{\nreload 0\n}}")
    assert str(caught.value).startswith("Corefile:2: file: cannot read zone file:")


def test_one_file_for_several_zones(tmp_path: Path) -> None:
    path = tmp_path / "db"
    path.write_text("$TTL 60\n@ SOA ns hostmaster 1 2 3 4 5\nwww A 192.0.2.9\n")
    handler = make(f"file {path} example.org lab.example.org")
    assert sorted(handler.zones) == ["example.org.", "lab.example.org."]
    zone = handler.zones["lab.example.org."]
    assert zone is not None and zone.soa.name == "lab.example.org."


async def test_a_change_in_an_included_file_is_noticed(tmp_path: Path) -> None:
    path = tmp_path / "db.example.org"
    path.write_text("$TTL 60\n@ SOA ns hostmaster 1 2 3 4 5\n$INCLUDE hosts.db\n")
    hosts = tmp_path / "hosts.db"
    hosts.write_text("www A 192.0.2.1\n")
    handler = make(f"file {path} {{\nreload_by_mtime\n}}")
    assert not await handler.check_once()  # nothing changed
    aside = tmp_path / "hosts.tmp"
    aside.write_text("www A 192.0.2.7\n")
    os.replace(aside, hosts)
    assert await handler.check_once()
    assert addresses(await ask(handler, "www.example.org.")) == [
        "www.example.org. 60 IN A 192.0.2.7"
    ]
