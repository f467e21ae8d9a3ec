"""/ready: CoreDNS's status codes, with bodies that say what is awaited or what is served."""

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from clusterdns.app import App
from clusterdns.plugin import Shared
from clusterdns.plugins.kubernetes.handler import KubernetesPlugin
from clusterdns.plugins.kubernetes.reflector import ReflectorSettings
from clusterdns.serve_flags import ServeOptions, serve_app
from clusterdns.server.readiness import Readiness
from tests.conftest import http_address, plugins
from tests.fakes.kube_api import FakeKubeAPI, namespace, service
from tests.fakes.upstream import FakeUpstream
from tests.plugins.kubernetes.conftest import Signal

FAST = ReflectorSettings(page_size=50, timeout_seconds=5, backoff_base=0.01, backoff_cap=0.05)


@dataclass
class Reporter:
    """A plugin that reports readiness, with or without words for it."""

    is_ready: bool

    def ready(self) -> bool:
        return self.is_ready


@dataclass
class Describer(Reporter):
    text: str = ""

    def describe_ready(self) -> str:
        return self.text


@pytest.mark.parametrize(
    ("reporters", "stopping", "status", "body"),
    [
        pytest.param(
            [("kubernetes", Describer(True, "3 services"))],
            False,
            200,
            "OK\nkubernetes: 3 services\n",
            id="ready-summary",
        ),
        pytest.param([("other", Reporter(True))], False, 200, "OK\n", id="ready-plain"),
        pytest.param(
            [
                ("kubernetes", Describer(False, "waiting for the first list of pods")),
                ("other", Reporter(False)),
            ],
            False,
            503,
            "kubernetes: waiting for the first list of pods\nother: not ready\n",
            id="waiting",
        ),
        pytest.param(
            [("kubernetes", Describer(True, "x"))], True, 503, "shutting down\n", id="stopping"
        ),
    ],
)
def test_reply(
    reporters: list[tuple[str, Reporter]], stopping: bool, status: int, body: str
) -> None:
    readiness = Readiness()
    readiness.reporters = list(reporters)
    readiness.stopping = stopping
    reply = readiness.reply()
    assert (reply.status, reply.body.decode()) == (status, body)


async def http_get(app: App, path: str) -> tuple[int, str]:
    assert http_address(app) is not None
    reader, writer = await asyncio.open_connection(*http_address(app))
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    response = (await reader.read()).decode()
    writer.close()
    await writer.wait_closed()
    return int(response.split()[1]), response.split("\r\n\r\n", 1)[1]


async def test_ready_names_the_forbidden_resource_then_sums_up(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    signal = Signal()
    api = FakeKubeAPI(on_request=signal.notify)
    api.add("namespaces", namespace("default"))
    api.add("services", service("web", cluster_ip="10.96.0.50"))
    api.fail_next(403, count=None, verb="list", resource="endpointslices")
    options = ServeOptions(
        kubeconfig=api.write_kubeconfig(tmp_path / "kubeconfig"),
        dns_addrs=("127.0.0.1",),
        dns_port=0,
        upstreams=(upstream.address,),
        http_addr="127.0.0.1:0",
    )
    shared = Shared()
    shared.get("kubernetes.reflector", ReflectorSettings, lambda: FAST)
    app = serve_app(options, shared=shared)
    await app.start()
    try:
        # The second list of endpointslices comes after the first 403 was recorded.
        def refused_twice() -> bool:
            return sum(r.resource == "endpointslices" for r in api.requests) >= 2

        await asyncio.to_thread(signal.wait_until, refused_twice)
        status, body = await http_get(app, "/ready")
        assert status == 503
        # Namespaces and services may or may not have listed yet; endpointslices cannot have.
        assert body.startswith("kubernetes: waiting for the first list of ")
        assert "endpointslices (list endpointslices: 403 Forbidden" in body
        api.clear_faults()
        (plugin,) = plugins(app, "kubernetes")
        assert isinstance(plugin, KubernetesPlugin)
        await asyncio.wait_for(plugin.wait_ready(), 5)
        status, body = await http_get(app, "/ready")
        assert status == 200
        first, summary = body.splitlines()
        assert first == "OK"
        assert summary.startswith("kubernetes: 1 services, 0 endpointslices, 1 namespaces; ")
        assert "last sync 20" in summary
    finally:
        await app.stop()
        api.close()
