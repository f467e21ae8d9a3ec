"""Shared fixtures: the examples served in-process on 127.0.0.1, a fake upstream, a DNS client."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import dns.asyncquery
import dns.message
import pytest

from clusterdns.app import App
from clusterdns.serve_flags import ServeOptions, serve_app
from clusterdns.server.listener import Listener
from tests.fakes.upstream import FakeUpstream

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    """A scripted resolver on 127.0.0.1."""
    fake = FakeUpstream()
    yield fake
    fake.close()


def listener(app: App, server: int = 0) -> Listener:
    """The listener (sockets, dispatcher, answer stores) of one of `app`'s running servers."""
    found = app.servers[server].listener
    assert found is not None, "the app is not listening"
    return found


def plugins(app: App, name: str) -> list[object]:
    """Every plugin of directive `name` the app runs, across its servers."""
    return [plugin for server in app.servers for plugin in server.named(name)]


@pytest.fixture
async def served(upstream: FakeUpstream) -> AsyncIterator[App]:
    """clusterdns serving the examples on 127.0.0.1 (UDP+TCP, one free port)."""
    options = ServeOptions(
        manifests=(str(EXAMPLES),),
        dns_addrs=("127.0.0.1",),
        dns_port=0,
        upstreams=(upstream.address,),
        tcp_idle_timeout=0.5,
    )
    app = serve_app(options)
    await app.start()
    yield app
    await app.stop()


class Client:
    """dnspython against one server, UDP or TCP."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def udp(self, query: dns.message.Message, wait: float = 3.0) -> dns.message.Message:
        """Ask over UDP; dnspython gives up after `wait` seconds."""
        return await dns.asyncquery.udp(query, "127.0.0.1", port=self.port, timeout=wait)

    async def tcp(self, query: dns.message.Message, wait: float = 3.0) -> dns.message.Message:
        """Ask over TCP."""
        return await dns.asyncquery.tcp(query, "127.0.0.1", port=self.port, timeout=wait)

    async def ask(self, name: str, qtype: str = "A", **kwargs: object) -> dns.message.Message:
        return await self.udp(dns.message.make_query(name, qtype, **kwargs))  # type: ignore[arg-type]


@pytest.fixture
def client(served: App) -> Client:
    """A client for the `served` fixture's port."""
    return Client(served.addresses[0][1])


def http_address(app: App) -> tuple[str, int]:
    """Where the app's first HTTP listener (/health, /ready, /metrics) is bound."""
    bound = list(app.http.bound.values())
    assert bound, "no HTTP listener"
    return bound[0]
