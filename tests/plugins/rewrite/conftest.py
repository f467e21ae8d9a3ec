"""Helpers for the rewrite and template tests: plugin helpers, a Corefile server, async `dig`."""

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from clusterdns.app import App
from tests.fakes.kube_api import FakeKubeAPI, namespace, service
from tests.fakes.plugins import FakeClock, build_request, context, stanza
from tests.fakes.upstream import FakeUpstream
from tests.integration.test_corefile import start, wait_ready

__all__ = ["FakeClock", "build_request", "context", "dig", "stanza"]

Serve = Callable[[str], Awaitable[App]]


async def dig(port: int, *args: str) -> str:
    """The real `dig` against 127.0.0.1:`port`, run without blocking the server's loop."""
    process = await asyncio.create_subprocess_exec(
        "dig",
        "@127.0.0.1",
        "-p",
        str(port),
        "+tries=1",
        "+time=3",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(20):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


@pytest.fixture
def cluster() -> Iterator[FakeKubeAPI]:
    """A fake API server holding default/kubernetes and demo/web."""
    fake = FakeKubeAPI()
    fake.add("namespaces", namespace("default"))
    fake.add("namespaces", namespace("demo"))
    fake.add("services", service("kubernetes", cluster_ip="10.96.0.1"))
    fake.add("services", service("web", "demo", cluster_ip="10.96.0.20"))
    yield fake
    fake.close()


@pytest.fixture
async def serve(
    cluster: FakeKubeAPI, upstream: FakeUpstream, tmp_path: Path
) -> AsyncIterator[Serve]:
    """Start a Corefile body (`UPSTREAM` replaced) on 127.0.0.1, synced with the fake API."""
    if shutil.which("dig") is None:
        pytest.skip("dig (bind9-dnsutils) missing")
    apps: list[App] = []

    async def run(body: str) -> App:
        text = ".:0 {\n    bind 127.0.0.1\n" + body.replace("UPSTREAM", upstream.address) + "\n}\n"
        app = await start(text, cluster, tmp_path)
        apps.append(app)
        await wait_ready(app)
        return app

    yield run
    for app in apps:
        await app.stop()
