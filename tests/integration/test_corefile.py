"""The kubeadm default Corefile, and the Corefile machinery, running for real on 127.0.0.1."""

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import dns.message
import dns.rcode
import pytest

from clusterdns.app import App
from clusterdns.errors import ConfigError
from clusterdns.plugin import Shared
from clusterdns.plugins.kubernetes.reflector import ReflectorSettings
from tests.conftest import Client, plugins
from tests.fakes.kube_api import FakeKubeAPI, namespace, service
from tests.fakes.ports import free_port
from tests.fakes.upstream import FakeUpstream
from tests.integration.test_live import http_get

ROOT = Path(__file__).resolve().parents[2]
COREFILES = ROOT / "tests" / "data" / "corefiles"
FAST = ReflectorSettings(page_size=50, timeout_seconds=5, backoff_base=0.01, backoff_cap=0.05)


def remap(text: str, port: int, upstream: str) -> str:
    """The kubeadm Corefile on loopback: DNS on `port`, HTTP on free ports, a fake upstream."""
    return (
        text.replace(".:53 {", f".:{port} {{\n    bind 127.0.0.1")
        .replace("health {", "health 127.0.0.1:0 {")
        .replace("    ready\n", "    ready 127.0.0.1:0\n")
        .replace("prometheus :9153", "prometheus 127.0.0.1:0")
        .replace("forward . /etc/resolv.conf", f"forward . {upstream}")
    )


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    fake = FakeKubeAPI()
    fake.add("namespaces", namespace("default"))
    fake.add("services", service("kubernetes", cluster_ip="10.96.0.1"))
    yield fake
    fake.close()


async def start(text: str, api: FakeKubeAPI, tmp_path: Path, name: str = "Corefile") -> App:
    shared = Shared()
    shared.get("kubernetes.reflector", ReflectorSettings, lambda: FAST)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    path = tmp_path / name
    path.write_text(text)
    app = App(text, str(path), environ={"KUBECONFIG": kubeconfig}, shared=shared)
    await app.start()
    return app


async def wait_ready(app: App) -> None:
    for plugin in plugins(app, "kubernetes"):
        async with asyncio.timeout(10):
            await plugin.wait_ready()  # type: ignore[attr-defined]


@pytest.fixture(params=["kubeadm.Corefile", "kubeadm-old.Corefile"])
async def kubeadm(
    request: pytest.FixtureRequest, api: FakeKubeAPI, upstream: FakeUpstream, tmp_path: Path
) -> AsyncIterator[App]:
    text = remap((COREFILES / request.param).read_text(), 0, upstream.address)
    app = await start(text, api, tmp_path)
    yield app
    await app.stop()


async def test_kubeadm_corefile_starts_syncs_answers_and_forwards(
    kubeadm: App, upstream: FakeUpstream
) -> None:
    await wait_ready(kubeadm)
    assert (await http_get(kubeadm, "/ready"))[0] == 200
    assert await http_get(kubeadm, "/health") == (200, "OK")
    client = Client(kubeadm.addresses[0][1])
    reply = await client.ask("kubernetes.default.svc.cluster.local.")
    assert [rr.to_text() for rr in reply.answer] == [
        "kubernetes.default.svc.cluster.local. 30 IN A 10.96.0.1"
    ]
    upstream.script("example.com.", "answer", ("192.0.2.10",))
    forwarded = await client.ask("example.com.")
    # `cache 30` caps the TTL of what it caches at 30 s, as in CoreDNS.
    assert [rr.to_text() for rr in forwarded.answer] == ["example.com. 30 IN A 192.0.2.10"]
    missing = await client.ask("nope.default.svc.cluster.local.")
    assert missing.rcode() == dns.rcode.NXDOMAIN


async def test_metrics_carry_coredns_names_and_labels(kubeadm: App) -> None:
    await wait_ready(kubeadm)
    client = Client(kubeadm.addresses[0][1])
    for _ in range(3):  # the third is served pre-encoded: it must be counted too
        await client.ask("kubernetes.default.svc.cluster.local.")
    await client.ask("example.org.")
    status, body = await http_get(kubeadm, "/metrics")
    assert status == 200
    port = kubeadm.servers[0].port
    server = f'server="dns://127.0.0.1:{port}"'  # CoreDNS names a bound server by its address
    assert (
        f'coredns_dns_requests_total{{family="1",proto="udp",{server},type="A",view="",'
        'zone="."} 4.0'
    ) in body
    # The old kubeadm Corefile's bare `cache 30` answers repeats from its cache, as CoreDNS's
    # does, so the plugin label is `cache` there; either way every answer is counted.
    answered = {
        plugin: float(line.rsplit(" ", 1)[1])
        for plugin in ("kubernetes", "cache")
        for line in body.splitlines()
        if line.startswith(
            f'coredns_dns_responses_total{{plugin="{plugin}",rcode="NOERROR",{server},view="",'
            'zone="."}'
        )
    }
    assert answered.get("kubernetes", 0) >= 1 and sum(answered.values()) == 3
    for name in (
        "coredns_dns_request_duration_seconds_bucket",
        "coredns_build_info",
        'coredns_plugin_enabled{name="kubernetes"',
        "coredns_reload_failed_total",
        "coredns_panics_total",
        "coredns_cache_",
        "coredns_forward_",
    ):
        assert name in body, name


async def test_unknown_directive_names_it_and_lists_the_supported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        App(".:0 {\n    bind 127.0.0.1\n    nosuchplugin\n}\n", "Corefile")
    message = str(caught.value)
    assert message.startswith(
        "Corefile:3: unknown directive 'nosuchplugin'; supported: timeouts, reload, bufsize, debug"
    )


async def test_reload_swaps_the_chain_and_a_bad_file_keeps_it(
    api: FakeKubeAPI, upstream: FakeUpstream, tmp_path: Path
) -> None:
    port = free_port()
    text = (
        f".:{port} {{\n    bind 127.0.0.1\n    reload 2s\n"
        "    kubernetes cluster.local {\n        ttl 30\n    }\n"
        f"    forward . {upstream.address}\n}}\n"
    )
    app = await start(text, api, tmp_path)
    try:
        await wait_ready(app)
        client = Client(port)
        name = "kubernetes.default.svc.cluster.local."
        assert (await client.ask(name)).answer[0].ttl == 30
        (reload,) = plugins(app, "reload")
        (tmp_path / "Corefile").write_text(text.replace("ttl 30", "ttl 5"))
        assert await reload.check_once()  # type: ignore[attr-defined]
        assert (await client.ask(name)).answer[0].ttl == 5
        (tmp_path / "Corefile").write_text(text.replace("ttl 30", "ttl 99999"))
        (reload,) = plugins(app, "reload")  # the reload replaced the plugin instances
        assert await reload.check_once()  # type: ignore[attr-defined]
        assert (await client.ask(name)).answer[0].ttl == 5  # kept the running chain
        assert app.collector.reload_failures == 1
    finally:
        await app.stop()


async def test_loop_is_detected(api: FakeKubeAPI, tmp_path: Path) -> None:
    port = free_port()
    text = f".:{port} {{\n    bind 127.0.0.1\n    loop\n    forward . 127.0.0.1:{port}\n}}\n"
    shared = Shared()
    app = App(text, "Corefile", shared=shared)
    found: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    (loop,) = plugins(app, "loop")

    def fatal(message: str) -> None:
        if not found.done():
            found.set_result(message)

    loop.fatal = fatal  # type: ignore[attr-defined]
    await app.start()
    try:
        message = await asyncio.wait_for(found, 10)
    finally:
        await app.stop()
    assert message.startswith(f"Loop (127.0.0.1:{port} -> 127.0.0.1:{port}) detected for zone")
    assert 'Query: "HINFO ' in message


def test_conf_flag_runs_a_corefile_and_bad_files_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "Corefile"
    bad.write_text(".:0 {\n    kubernetes cluster.local {\n        pods sometimes\n    }\n}\n")
    result = subprocess.run(
        [sys.executable, "-m", "clusterdns", "-conf", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert f"{bad}:3: kubernetes: pods" in result.stderr
    version = subprocess.run(
        [sys.executable, "-m", "clusterdns", "-version"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert version.returncode == 0 and version.stdout.startswith("clusterdns ")


async def test_lameduck_keeps_answering_while_ready_says_503(tmp_path: Path) -> None:
    port = free_port()
    text = (
        f".:{port} {{\n    bind 127.0.0.1\n    health 127.0.0.1:0 {{\n        lameduck 1s\n    }}\n"
        "    ready 127.0.0.1:0\n    kubernetes cluster.local {\n"
        f"        manifests {ROOT / 'examples'}\n    }}\n}}\n"
    )
    app = App(text, "Corefile")
    await app.start()
    assert app.lameduck == 1.0
    stopping = asyncio.create_task(app.stop(app.lameduck))
    await asyncio.sleep(0)  # let stop() flip readiness
    assert (await http_get(app, "/ready"))[0] == 503
    reply = await Client(port).ask("web.demo.svc.cluster.local.")
    assert reply.rcode() == dns.rcode.NOERROR and reply.answer
    assert not stopping.done()
    await stopping


async def test_log_plugin_logs_each_query_in_coredns_format(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    text = (
        f".:{port} {{\n    bind 127.0.0.1\n    log\n    kubernetes cluster.local {{\n"
        f"        manifests {ROOT / 'examples'}\n    }}\n}}\n"
    )
    app = App(text, "Corefile")
    await app.start()
    caplog.set_level("INFO", logger="clusterdns.plugins.log")
    try:
        for _ in range(3):  # the third is served pre-encoded, and logged all the same
            await Client(port).ask("web.demo.svc.cluster.local.")
    finally:
        await app.stop()  # writes the lines still queued
    out = capsys.readouterr().out.splitlines()
    lines = [line for line in out if line.startswith("[INFO] ")]
    assert len(lines) == 3
    assert '"A IN web.demo.svc.cluster.local. udp' in lines[0]
    assert " NOERROR qr,aa,rd " in lines[0]


async def test_http_endpoints_answer_under_a_dns_flood(kubeadm: App) -> None:
    await wait_ready(kubeadm)
    port = kubeadm.addresses[0][1]
    queries = [
        dns.message.make_query(f"n{i}.default.svc.cluster.local.", "A").to_wire()
        for i in range(3000)
    ]
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, remote_addr=("127.0.0.1", port)
    )
    try:
        for data in queries:  # a burst of misses: each one goes through decoding and the chain
            transport.sendto(data)
        health, ready, metrics = await asyncio.wait_for(
            asyncio.gather(
                http_get(kubeadm, "/health"),
                http_get(kubeadm, "/ready"),
                http_get(kubeadm, "/metrics"),
            ),
            timeout=10,
        )
    finally:
        transport.close()
    assert health == (200, "OK") and ready[0] == 200 and metrics[0] == 200
