"""The `kubernetes` stanza: Corefile snippets to config, or to an error naming file:line."""

import pytest

from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import parse_corefile
from clusterdns.plugins.kubernetes.setup import KubernetesConfig, parse_kubernetes

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
