"""The default Corefiles of AKS, k3s/RKE2 and minikube start against the fake API and answer."""

import logging
from pathlib import Path

import dns.message
import dns.rcode
import pytest

from clusterdns.app import App
from clusterdns.plugins.hosts.handler import HostsHandler
from tests.conftest import Client, listener, plugins
from tests.fakes.kube_api import FakeKubeAPI
from tests.fakes.upstream import FakeUpstream
from tests.integration.test_corefile import COREFILES, api, remap, start, wait_ready
from tests.integration.test_live import http_get

__all__ = ["api"]  # the fake API fixture, shared with test_corefile

KUBERNETES = "kubernetes.default.svc.cluster.local."


def loopback(text: str, upstream: FakeUpstream, folder: Path) -> str:
    """A distribution's Corefile on 127.0.0.1, its /etc/coredns paths moved into `folder`."""
    text = remap(text, 0, upstream.address)
    return text.replace("    health\n", "    health 127.0.0.1:0\n").replace(
        "/etc/coredns/", f"{folder}/"
    )


async def answers(app: App, name: str, qtype: str = "A") -> tuple[str, list[str]]:
    reply = await Client(app.addresses[0][1]).ask(name, qtype)
    return dns.rcode.to_text(reply.rcode()), sorted(rr.to_text() for rr in reply.answer)


async def check_basics(app: App, upstream: FakeUpstream, ttl: int = 30) -> None:
    """What every distribution's default must do: sync, /ready, cluster names, forwarding."""
    await wait_ready(app)
    assert (await http_get(app, "/ready"))[0] == 200
    assert await answers(app, KUBERNETES) == ("NOERROR", [f"{KUBERNETES} {ttl} IN A 10.96.0.1"])
    upstream.script("example.com.", "answer", ("192.0.2.10",))
    assert await answers(app, "example.com.") == ("NOERROR", ["example.com. 30 IN A 192.0.2.10"])


async def test_aks_default_starts_with_no_custom_files(
    api: FakeKubeAPI, upstream: FakeUpstream, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="clusterdns.app")
    text = loopback((COREFILES / "aks.Corefile").read_text(), upstream, tmp_path)
    app = await start(text, api, tmp_path)
    try:
        await check_basics(app, upstream)
    finally:
        await app.stop()
    warnings = [r.getMessage() for r in caplog.records if "no files match" in r.getMessage()]
    assert warnings == [
        f"import: no files match {tmp_path}/custom/*.override; importing nothing",
        f"import: no files match {tmp_path}/custom/*.server; importing nothing",
    ]


async def test_aks_custom_override_and_server_files_are_imported(
    api: FakeKubeAPI, upstream: FakeUpstream, tmp_path: Path
) -> None:
    custom = tmp_path / "custom"
    custom.mkdir()
    # What the AKS docs teach: hosts entries in an .override, a server block in a .server.
    (custom / "hosts.override").write_text(
        "hosts {\n  10.0.0.5 db.corp.example\n  fallthrough\n}\n"
    )
    (custom / "corp.server").write_text(
        "corp.test:0 {\n  bind 127.0.0.1\n  hosts {\n    10.0.0.9 app.corp.test\n  }\n}\n"
    )
    text = loopback((COREFILES / "aks.Corefile").read_text(), upstream, tmp_path)
    app = await start(text, api, tmp_path)
    try:
        await check_basics(app, upstream)
        # `cache 30` sits before `hosts` in the chain: it caps the TTL, as in CoreDNS.
        assert await answers(app, "db.corp.example.") == (
            "NOERROR",
            ["db.corp.example. 30 IN A 10.0.0.5"],
        )
        assert await answers(app, "app.corp.test.") == (
            "NOERROR",
            ["app.corp.test. 3600 IN A 10.0.0.9"],
        )
    finally:
        await app.stop()


async def test_k3s_default_serves_node_hosts_and_picks_up_a_rewrite(
    api: FakeKubeAPI, upstream: FakeUpstream, tmp_path: Path
) -> None:
    node_hosts = tmp_path / "NodeHosts"
    node_hosts.write_text("172.18.0.2 k3d-server-0\n172.18.0.3 k3d-agent-0\n")
    # The coredns-custom ConfigMap k3s mounts: imported by absolute path.
    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "lab.server").write_text(
        "lab.test:0 {\n  bind 127.0.0.1\n  hosts {\n    10.9.0.1 nas.lab.test\n  }\n}\n"
    )
    text = loopback((COREFILES / "k3s.Corefile").read_text(), upstream, tmp_path)
    app = await start(text, api, tmp_path)
    try:
        await check_basics(app, upstream, ttl=5)  # k3s sets no `ttl`: CoreDNS's default 5
        assert await answers(app, "nas.lab.test.") == (
            "NOERROR",
            ["nas.lab.test. 3600 IN A 10.9.0.1"],
        )
        # `ttl 60` in the stanza, capped to 30 by `cache 30` before it.
        assert await answers(app, "k3d-server-0.") == (
            "NOERROR",
            ["k3d-server-0. 30 IN A 172.18.0.2"],
        )
        assert await answers(app, "3.0.18.172.in-addr.arpa.", "PTR") == (
            "NOERROR",
            ["3.0.18.172.in-addr.arpa. 30 IN PTR k3d-agent-0."],
        )
        # k3s rewrites NodeHosts as a controller does: a new file renamed over the old one.
        fresh = tmp_path / "NodeHosts.new"
        fresh.write_text("172.18.0.2 k3d-server-0\n172.18.0.4 k3d-agent-1\n")
        fresh.replace(node_hosts)
        (hosts,) = [
            p
            for p in plugins(app, "hosts")
            if isinstance(p, HostsHandler) and p.config.path == str(node_hosts)
        ]
        assert await hosts.check_once()
        assert await answers(app, "k3d-agent-1.") == (
            "NOERROR",
            ["k3d-agent-1. 30 IN A 172.18.0.4"],
        )
        # `fallthrough`: names the hosts file does not have go on to forward.
        upstream.script("k3d-agent-0.", "answer", ("192.0.2.99",))
        assert await answers(app, "k3d-agent-0.") == (
            "NOERROR",
            ["k3d-agent-0. 30 IN A 192.0.2.99"],
        )
    finally:
        await app.stop()


async def test_minikube_default_answers_host_minikube_internal(
    api: FakeKubeAPI, upstream: FakeUpstream, tmp_path: Path
) -> None:
    text = loopback((COREFILES / "minikube.Corefile").read_text(), upstream, tmp_path)
    app = await start(text, api, tmp_path)
    try:
        await check_basics(app, upstream)
        assert await answers(app, "host.minikube.internal.") == (
            "NOERROR",
            ["host.minikube.internal. 30 IN A 192.168.49.1"],
        )
        assert await answers(app, "1.49.168.192.in-addr.arpa.", "PTR") == (
            "NOERROR",
            ["1.49.168.192.in-addr.arpa. 30 IN PTR host.minikube.internal."],
        )
    finally:
        await app.stop()


async def test_a_changed_hosts_file_replaces_pre_encoded_answers(tmp_path: Path) -> None:
    # No `cache` in front: the server's own pre-encoded replies must not outlive the file.
    path = tmp_path / "hosts"
    path.write_text("10.0.0.1 web.test\n")
    text = f".:0 {{\n    bind 127.0.0.1\n    hosts {path} {{\n        reload 1s\n    }}\n}}\n"
    app = App(text, str(tmp_path / "Corefile"))
    await app.start()
    try:
        for _ in range(3):  # stored on the second sighting, the third is served pre-encoded
            assert await answers(app, "web.test.") == ("NOERROR", ["web.test. 3600 IN A 10.0.0.1"])
        assert listener(app).stores[0].hits == 1
        fresh = tmp_path / "hosts.new"
        fresh.write_text("10.0.0.2 web.test\n")
        fresh.replace(path)
        (hosts,) = plugins(app, "hosts")
        assert await hosts.check_once()  # type: ignore[attr-defined]
        assert await answers(app, "web.test.") == ("NOERROR", ["web.test. 3600 IN A 10.0.0.2"])
    finally:
        await app.stop()
