"""Corefile snippets to servers: blocks grouped by port, their binds, plugins and pre-encoding."""

import random
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

from clusterdns.assembly import Server, build_servers
from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import parse_corefile
from clusterdns.plugin import SetupContext
from clusterdns.plugins.timeouts.setup import Timeouts
from clusterdns.server.connections import TcpLimits
from tests.fakes.plugins import FakeClock


def servers(text: str) -> list[Server]:
    """`text` set up as the app sets it up, with no files and a fake clock."""
    process = SetupContext((), CollectorRegistry(), FakeClock(), random.Random(0), lambda _: "")
    return build_servers(parse_corefile(text, "Corefile"), process, 53)


@dataclass(frozen=True)
class Shape:
    """What a server looks like from outside: where it listens, its zones and plugins."""

    port: int
    addresses: tuple[str, ...]
    zones: tuple[str, ...]
    plugins: tuple[str, ...]
    pre_encoded: bool = True


def shape(server: Server) -> Shape:
    zones = tuple(zone for block in server.blocks for zone in block.zones)
    plugins = tuple(name for name, _ in server.plugins)
    return Shape(server.port, server.addresses, zones, plugins, server.hot_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            ". {\n  whoami\n}\n",
            [Shape(53, ("0.0.0.0",), (".",), ("whoami",))],
            id="default-port-every-address",
        ),
        pytest.param(
            "a.test:1053 {\n  whoami\n}\nb.test:1053 {\n  any\n}\n",
            [Shape(1053, ("0.0.0.0",), ("a.test.", "b.test."), ("whoami", "any"))],
            id="two-blocks-one-port",
        ),
        pytest.param(
            ".:1053 {\n  bind 127.0.0.1 ::1\n  whoami\n}\n.:2053 {\n  log\n  whoami\n}\n",
            [
                Shape(1053, ("127.0.0.1", "::1"), (".",), ("whoami",)),
                # `log` keeps pre-encoding: it is told of every hit of what it logged.
                Shape(2053, ("0.0.0.0",), (".",), ("log", "whoami"), pre_encoded=True),
            ],
            id="ports-binds-and-log",
        ),
        pytest.param(
            ".:1053 {\n  acl {\n    block net 192.0.2.0/24\n  }\n  whoami\n}\n",
            [Shape(1053, ("0.0.0.0",), (".",), ("acl", "whoami"), pre_encoded=False)],
            id="acl-turns-pre-encoding-off",
        ),
    ],
)
def test_blocks_become_servers(text: str, expected: list[Shape]) -> None:
    assert [shape(server) for server in servers(text)] == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param(
            ".:1053 {\n  bind 127.0.0.1\n}\na.test:1053 {\n  bind 127.0.0.2\n}\n",
            "Corefile:4: port 1053: every block on a port must bind the same addresses",
            id="binds-differ-on-a-port",
        ),
        pytest.param(
            ". {\n  whoami\n  whoami\n}\n",
            "Corefile:3: whoami: this plugin can only be used once per server block",
            id="plugin-twice",
        ),
        pytest.param(
            ". {\n  bind localhost\n}\n",
            "Corefile:2: bind: want an IP address, got 'localhost'",
            id="bind-not-an-ip",
        ),
    ],
)
def test_corefile_errors_name_the_line(text: str, error: str) -> None:
    with pytest.raises(CorefileError) as caught:
        servers(text)
    assert error in str(caught.value)


def test_server_applies_its_timeouts_and_lameduck() -> None:
    (server,) = servers(
        ". {\n  timeouts {\n    idle 20s\n  }\n  health :0 {\n    lameduck 3s\n  }\n}\n"
    )
    assert server.named("timeouts") == [Timeouts(idle=20.0)]
    assert server.tcp_limits(TcpLimits(max_per_client=7)) == TcpLimits(
        idle_timeout=20.0, max_per_client=7
    )
    assert server.lameduck == 3.0
