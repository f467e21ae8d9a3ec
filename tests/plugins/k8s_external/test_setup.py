"""The k8s_external stanza: CoreDNS's documented forms, and errors naming FILE:LINE."""

import pytest

from clusterdns.app import App
from clusterdns.corefile.lexer import CorefileError
from clusterdns.plugins.k8s_external.options import ExternalConfig, parse
from tests.fakes.plugins import stanza

SERVER = (".",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("k8s_external example.org", ExternalConfig(("example.org.",)), id="zone"),
        pytest.param("k8s_external", ExternalConfig((".",)), id="server-block-zones"),
        pytest.param(
            "k8s_external example.org example.net {\n apex ext\n ttl 60\n}",
            ExternalConfig(("example.org.", "example.net."), apex="ext", ttl=60),
            id="apex-ttl",
        ),
        pytest.param(
            "k8s_external example.org {\n headless\n}",
            ExternalConfig(("example.org.",), headless=True),
            id="headless",
        ),
        pytest.param(
            "k8s_external example.org {\n fallthrough\n}",
            ExternalConfig(("example.org.",), fallthrough=(".",)),
            id="fallthrough-all",
        ),
        pytest.param(
            "k8s_external example.org {\n fallthrough example.org\n}",
            ExternalConfig(("example.org.",), fallthrough=("example.org.",)),
            id="fallthrough-zone",
        ),
    ],
)
def test_stanzas(text: str, expected: ExternalConfig) -> None:
    assert parse(stanza(text), SERVER) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param(
            "k8s_external x {\n ttl 3601\n}",
            "Corefile:3: k8s_external: ttl: ttl must be 0..3600, got 3601",
            id="ttl-range",
        ),
        pytest.param(
            "k8s_external x {\n ttl five\n}",
            "Corefile:3: k8s_external: ttl: ttl must be an integer 0..3600, got 'five'",
            id="ttl-word",
        ),
        pytest.param(
            "k8s_external x {\n ttl\n}",
            "Corefile:3: k8s_external: ttl: expected 1 argument, got none",
            id="ttl-missing",
        ),
        pytest.param(
            "k8s_external x {\n apex a.b\n}",
            "Corefile:3: k8s_external: apex: apex must be one DNS label such as dns, got 'a.b'",
            id="apex-two-labels",
        ),
        pytest.param(
            "k8s_external x {\n headless yes\n}",
            "Corefile:3: k8s_external: headless: expected no arguments, got 1: yes",
            id="headless-arg",
        ),
        pytest.param(
            "k8s_external x {\n transfer\n}",
            "Corefile:3: k8s_external: transfer: unknown property 'transfer', "
            "expected one of: apex, ttl, headless, fallthrough",
            id="unknown-property",
        ),
    ],
)
def test_errors(text: str, error: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse(stanza(text), SERVER)
    assert str(caught.value) == error


def test_without_kubernetes_in_the_block_it_does_not_start() -> None:
    text = ".:0 {\n    bind 127.0.0.1\n    k8s_external example.org\n}\n"
    with pytest.raises(CorefileError) as caught:
        App(text, "Corefile")
    assert str(caught.value) == "Corefile:3: k8s_external: kubernetes plugin not loaded"


def test_a_zone_outside_the_server_block_is_an_error() -> None:
    with pytest.raises(CorefileError) as caught:
        parse(stanza("k8s_external example.org"), ("cluster.local.",))
    assert str(caught.value) == (
        "Corefile:2: k8s_external: zone example.org. is not in the server block's zones"
    )
