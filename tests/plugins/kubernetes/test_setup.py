"""The `kubernetes` stanza: Corefile snippets to config, or to an error naming file:line."""

import asyncio
import shutil
from pathlib import Path

import pytest

from clusterdns.app import App
from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import parse_corefile
from clusterdns.errors import ConfigError
from clusterdns.plugins.kubernetes.options import KubernetesConfig, parse_kubernetes
from tests.conftest import ROOT, Client, plugins
from tests.fakes.upstream import FakeUpstream

ZONES = (".",)


def parse(stanza: str) -> KubernetesConfig:
    (block,) = parse_corefile(". {\n" + stanza + "\n}\n").blocks
    (directive,) = block.directives
    return parse_kubernetes(directive, ZONES)


@pytest.mark.parametrize(
    ("stanza", "expected"),
    [
        pytest.param(
            "kubernetes cluster.local in-addr.arpa ip6.arpa {\n pods insecure\n"
            " fallthrough in-addr.arpa ip6.arpa\n ttl 30\n}",
            {
                "zones": ("cluster.local.", "in-addr.arpa.", "ip6.arpa."),
                "pods": "insecure",
                "fallthrough": ("in-addr.arpa.", "ip6.arpa."),
                "ttl": 30,
            },
            id="kubeadm",
        ),
        pytest.param(
            "kubernetes",
            {"zones": (".",), "ttl": 5, "pods": "disabled", "fallthrough": ()},
            id="bare-coredns-defaults",
        ),
        pytest.param(
            "kubernetes cluster.local {\n fallthrough\n}",
            {"fallthrough": (".",)},
            id="fallthrough-all",
        ),
        pytest.param(
            "kubernetes cluster.local {\n namespaces a B\n}",
            {"namespaces": frozenset({"a", "b"})},
            id="namespaces",
        ),
        pytest.param(
            "kubernetes cluster.local {\n labels app=web, tier!=db\n}",
            {"labels": "app=web, tier!=db"},
            id="labels",
        ),
        pytest.param(
            "kubernetes cluster.local {\n noendpoints\n ignore empty_service\n}",
            {"noendpoints": True, "ignore_empty_service": True},
            id="flags",
        ),
        pytest.param(
            "kubernetes cluster.local {\n kubeconfig /k.conf dev\n}",
            {"kubeconfig": "/k.conf", "context": "dev"},
            id="kubeconfig",
        ),
        pytest.param(
            "kubernetes cluster.local {\n endpoint https://10.0.0.1:6443\n}",
            {"endpoint": "https://10.0.0.1:6443"},
            id="endpoint",
        ),
        pytest.param(
            "kubernetes cluster.local {\n manifests a.yaml dir\n}",
            {"manifests": ("a.yaml", "dir")},
            id="manifests",
        ),
        pytest.param("kubernetes cluster.local {\n upstream\n}", {}, id="obsolete-upstream"),
        pytest.param(
            "kubernetes cluster.local {\n endpoint_pod_names\n}",
            {"endpoint_pod_names": True},
            id="endpoint-pod-names",
        ),
    ],
)
def test_stanzas(stanza: str, expected: dict[str, object]) -> None:
    config = parse(stanza)
    for field, value in expected.items():
        assert getattr(config, field) == value, field


@pytest.mark.parametrize(
    ("stanza", "message"),
    [
        pytest.param(
            "kubernetes cluster.local {\n ttl 99999\n}",
            "Corefile:3: kubernetes: ttl: TTL must be 0..3600, got 99999",
            id="ttl",
        ),
        pytest.param(
            "kubernetes cluster.local {\n pods sometimes\n}",
            "Corefile:3: kubernetes: pods: mode must be one of",
            id="pods",
        ),
        pytest.param(
            "kubernetes cluster.local {\n colour blue\n}",
            "Corefile:3: kubernetes: colour: unknown property 'colour'",
            id="unknown",
        ),
        pytest.param(
            "kubernetes cluster.local {\n ignore everything\n}",
            "Corefile:3: kubernetes: ignore:",
            id="ignore-what",
        ),
        pytest.param(
            "kubernetes cluster.local {\n manifests x\n kubeconfig y\n}",
            "Corefile:2: kubernetes: manifests cannot be combined",
            id="two-sources",
        ),
    ],
)
def test_bad_stanzas(stanza: str, message: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse(stanza)
    assert str(caught.value).startswith(message)


def test_zones_must_lie_in_the_server_block() -> None:
    (block,) = parse_corefile("cluster.local {\n kubernetes example.org\n}\n").blocks
    with pytest.raises(CorefileError, match="zone example.org. is not in the server block"):
        parse_kubernetes(block.directives[0], ("cluster.local.",))


@pytest.mark.parametrize(
    ("corefile", "paths", "expected"),
    [
        pytest.param("Corefile", "a.yaml dir", ("a.yaml", "dir"), id="working-folder"),
        pytest.param(
            "/etc/coredns/Corefile",
            "a.yaml sub/dir",
            ("/etc/coredns/a.yaml", "/etc/coredns/sub/dir"),
            id="from-corefile-folder",
        ),
        pytest.param("conf/Corefile", "../m", ("conf/../m",), id="relative-corefile"),
        pytest.param("/etc/coredns/Corefile", "/srv/m", ("/srv/m",), id="absolute-unchanged"),
        pytest.param("serve flags", "m", ("m",), id="flags-from-working-folder"),
    ],
)
def test_manifests_paths_start_from_the_corefile_folder(
    corefile: str, paths: str, expected: tuple[str, ...]
) -> None:
    text = ". {\n kubernetes cluster.local {\n  manifests " + paths + "\n }\n}\n"
    (block,) = parse_corefile(text, corefile).blocks
    assert parse_kubernetes(block.directives[0], ZONES).manifests == expected


async def test_a_corefile_finds_its_manifests_from_any_folder(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    # The Corefile names `demo` relative to its own folder; the tests run from the repo root.
    folder = tmp_path / "conf"
    shutil.copytree(ROOT / "examples", folder / "demo")
    corefile = folder / "Corefile"
    corefile.write_text(STANZA.format(path="demo", upstream=upstream.address))
    app = App(corefile.read_text(), str(corefile))
    await app.start()
    try:
        for plugin in plugins(app, "kubernetes"):
            async with asyncio.timeout(10):
                await plugin.wait_ready()  # type: ignore[attr-defined]
        reply = await Client(app.addresses[0][1]).ask("web.demo.svc.cluster.local.")
    finally:
        await app.stop()
    assert [rrset.to_text() for rrset in reply.answer] == [
        "web.demo.svc.cluster.local. 5 IN A 10.96.0.20"
    ]


def test_a_missing_manifests_path_names_the_corefile_line(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    corefile = tmp_path / "Corefile"
    corefile.write_text(STANZA.format(path="nothere", upstream=upstream.address))
    with pytest.raises(ConfigError) as caught:
        App(corefile.read_text(), str(corefile))
    assert str(caught.value) == (
        f"{corefile}:4: kubernetes: manifests: nothere: no such file or folder "
        f"(looked for {tmp_path / 'nothere'})"
    )


STANZA = (
    ".:0 {{\n    bind 127.0.0.1\n    kubernetes cluster.local {{\n"
    "        manifests {path}\n    }}\n    forward . {upstream}\n}}\n"
)
