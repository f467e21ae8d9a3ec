"""The `hosts` answers (CoreDNS's README examples) and the file's re-reading at run time."""

import logging
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from clusterdns.plugin import SetupContext
from clusterdns.plugins.hosts.handler import HostsHandler
from clusterdns.plugins.hosts.setup import setup
from tests.fakes.plugins import FakeClock, build_request, context, stanza

HOSTS = """\
# The following lines are desirable for IPv4 capable hosts
127.0.0.1       localhost
192.168.1.10    example.com            example   # trailing comment

# The following lines are desirable for IPv6 capable hosts
::1                     localhost ip6-localhost ip6-loopback
fdfc:a744:27b5:3b0e::1  example.com example
192.168.1.20    *.apps.example.com
"""


def make(tmp_path: Path, stanza_tail: str = "", args: str = "", text: str = HOSTS) -> HostsHandler:
    path = tmp_path / "example.hosts"
    path.write_text(text)
    return setup(stanza(f"hosts {path} {args} {{\n{stanza_tail}}}"), context(FakeClock()))


def outcome(handler: HostsHandler, name: str, qtype: str) -> list[str] | str:
    """Zone lines of the answer, the rcode name when it has none, or 'next' when passed on."""
    response = handler.answer(build_request(name, qtype))
    if response is None:
        return "next"
    assert response.answer is not None
    if response.answer.answer:
        assert response.answer.authoritative
        return [record.zone_line() for record in response.answer.answer]
    return response.answer.rcode.name


@pytest.mark.parametrize(
    ("name", "qtype", "expected"),
    [
        pytest.param("example.com.", "A", ["example.com. 3600 IN A 192.168.1.10"], id="a"),
        pytest.param(
            "example.com.", "AAAA", ["example.com. 3600 IN AAAA fdfc:a744:27b5:3b0e::1"], id="aaaa"
        ),
        pytest.param("ExAmple.COM.", "A", ["example.com. 3600 IN A 192.168.1.10"], id="case"),
        pytest.param("example.", "A", ["example. 3600 IN A 192.168.1.10"], id="alias"),
        pytest.param("ip6-loopback.", "AAAA", ["ip6-loopback. 3600 IN AAAA ::1"], id="v6-alias"),
        pytest.param("example.com.", "MX", "NOERROR", id="other-type-nodata"),
        pytest.param("localhost.", "MX", "NOERROR", id="nodata-for-v4-and-v6-name"),
        pytest.param("missing.example.", "A", "SERVFAIL", id="unknown-name-servfail"),
        pytest.param(
            "10.1.168.192.in-addr.arpa.",
            "PTR",
            [
                "10.1.168.192.in-addr.arpa. 3600 IN PTR example.com.",
                "10.1.168.192.in-addr.arpa. 3600 IN PTR example.",
            ],
            id="ptr-v4-every-name",
        ),
        pytest.param(
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.e.0.b.3.5.b.7.2.4.4.7.a.c.f.d.f.ip6.arpa.",
            "PTR",
            [
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.e.0.b.3.5.b.7.2.4.4.7.a.c.f.d.f.ip6.arpa. "
                "3600 IN PTR example.com.",
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.e.0.b.3.5.b.7.2.4.4.7.a.c.f.d.f.ip6.arpa. "
                "3600 IN PTR example.",
            ],
            id="ptr-v6",
        ),
        pytest.param("9.9.9.10.in-addr.arpa.", "PTR", "next", id="ptr-unknown-passes-on"),
        pytest.param(
            "web.apps.example.com.",
            "A",
            ["web.apps.example.com. 3600 IN A 192.168.1.20"],
            id="wild",
        ),
        pytest.param("a.web.apps.example.com.", "A", "SERVFAIL", id="wild-one-label-only"),
        pytest.param("apps.example.com.", "A", "SERVFAIL", id="wild-not-apex"),
        pytest.param("20.1.168.192.in-addr.arpa.", "PTR", "next", id="wild-no-ptr"),
    ],
)
def test_answers_without_fallthrough(
    tmp_path: Path, name: str, qtype: str, expected: list[str] | str
) -> None:
    assert outcome(make(tmp_path), name, qtype) == expected


@pytest.mark.parametrize(
    ("tail", "args", "name", "qtype", "expected"),
    [
        pytest.param("fallthrough\n", "", "missing.example.", "A", "next", id="fallthrough-all"),
        pytest.param("fallthrough\n", "", "example.com.", "MX", "NOERROR", id="fallthrough-nodata"),
        pytest.param(
            "fallthrough\nfallthrough_unsupported\n",
            "",
            "example.com.",
            "TXT",
            "next",
            id="fallthrough-unsupported-type",
        ),
        pytest.param(
            "fallthrough in-addr.arpa\n",
            "",
            "missing.example.",
            "A",
            "SERVFAIL",
            id="ft-other-zone",
        ),
        pytest.param("", "example.org", "example.com.", "A", "next", id="outside-zones"),
        pytest.param("no_reverse\n", "", "10.1.168.192.in-addr.arpa.", "PTR", "next", id="no-rev"),
        pytest.param(
            "ttl 60\n", "", "example.com.", "A", ["example.com. 60 IN A 192.168.1.10"], id="ttl"
        ),
        pytest.param(
            "192.168.1.99 example.com\n",
            "",
            "example.com.",
            "A",
            ["example.com. 3600 IN A 192.168.1.10", "example.com. 3600 IN A 192.168.1.99"],
            id="inline-after-file",
        ),
        pytest.param(
            "10.0.0.1 example.org\nfallthrough\n",
            "example.org",
            "example.org.",
            "A",
            ["example.org. 3600 IN A 10.0.0.1"],
            id="doc-inline-example",
        ),
    ],
)
def test_answers_with_options(
    tmp_path: Path, tail: str, args: str, name: str, qtype: str, expected: list[str] | str
) -> None:
    assert outcome(make(tmp_path, tail, args), name, qtype) == expected


class Changes:
    """Records what the handler said went stale."""

    def __init__(self) -> None:
        self.calls: list[tuple[Hashable, ...] | None] = []

    def __call__(self, scopes: Iterable[Hashable] | None) -> None:
        self.calls.append(None if scopes is None else tuple(scopes))


@dataclass
class Watched:
    """A handler re-reading a NodeHosts file, with its clock, change log and registry."""

    handler: HostsHandler
    path: Path
    clock: FakeClock
    changes: Changes
    registry: CollectorRegistry


@pytest.fixture
def watched(tmp_path: Path) -> Watched:
    path = tmp_path / "NodeHosts"
    path.write_text("172.18.0.2 node-0\n")
    clock, changes, registry = FakeClock(), Changes(), CollectorRegistry()
    ctx = SetupContext(
        zones=(".",),
        registry=registry,
        clock=clock,
        rng=context(clock).rng,
        read_file=lambda p: "",
        zone_changed=changes,
    )
    handler = setup(stanza(f"hosts {path} {{\n    reload 15s\n}}"), ctx)
    return Watched(handler, path, clock, changes, registry)


def replace_file(path: Path, text: str) -> None:
    """Write as a controller does: a new file renamed over the old one (atomic)."""
    fresh = path.with_suffix(".new")
    fresh.write_text(text)
    fresh.replace(path)


async def test_an_atomically_replaced_file_is_picked_up(watched: Watched) -> None:
    handler, path, clock, changes, registry = (
        watched.handler,
        watched.path,
        watched.clock,
        watched.changes,
        watched.registry,
    )
    assert outcome(handler, "node-0.", "A") == ["node-0. 3600 IN A 172.18.0.2"]
    assert not await handler.check_once()  # unchanged: nothing to do
    clock.advance(15)
    replace_file(path, "172.18.0.2 node-0\n172.18.0.3 node-1\n")
    assert await handler.check_once()
    assert outcome(handler, "node-1.", "A") == ["node-1. 3600 IN A 172.18.0.3"]
    assert changes.calls[-1] == (handler.scope,)  # pre-encoded answers from it are dropped
    entries = registry.get_sample_value("coredns_hosts_entries", {"hostsfile": str(path)})
    assert entries == 4  # two names and two PTR entries
    stamp = registry.get_sample_value("coredns_hosts_reload_timestamp_seconds")
    assert stamp == clock.wall()


@pytest.mark.parametrize(
    ("damage", "logged"),
    [
        pytest.param("delete", "does not exist; keeping the last good entries", id="deleted"),
        pytest.param("bad-line", "bad address 'nope'", id="bad-line"),
    ],
)
async def test_a_file_that_goes_away_or_bad_keeps_the_last_good_and_logs_once(
    watched: Watched,
    damage: str,
    logged: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler, path = watched.handler, watched.path
    caplog.set_level(logging.WARNING, logger="clusterdns.plugins.hosts")
    if damage == "delete":
        path.unlink()
    else:
        replace_file(path, "172.18.0.2 node-0\nnope node-9\n")
    for _ in range(3):
        assert not await handler.check_once()
        assert outcome(handler, "node-0.", "A") == ["node-0. 3600 IN A 172.18.0.2"]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and logged in warnings[0]
    replace_file(path, "172.18.0.7 node-0\n")  # repaired: used again, and logged as fine
    assert await handler.check_once()
    assert outcome(handler, "node-0.", "A") == ["node-0. 3600 IN A 172.18.0.7"]


async def test_reload_zero_starts_no_poll_and_default_is_five_seconds(tmp_path: Path) -> None:
    never = make(tmp_path, "reload 0\n")
    await never.start()
    assert not never._poller.running
    default = make(tmp_path)
    assert default.config.reload == 5.0
    await default.start()
    try:
        assert default._poller.running
    finally:
        await default.stop()
    assert not default._poller.running
