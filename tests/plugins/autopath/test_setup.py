"""The autopath stanza, CoreDNS's documented forms, and errors naming FILE:LINE."""

from pathlib import Path

import pytest

from clusterdns.app import App, read_text
from clusterdns.corefile.lexer import CorefileError
from clusterdns.plugins.autopath.options import AutopathConfig, parse
from tests.fakes.plugins import stanza

SERVER = (".",)


def test_plugin_source() -> None:
    assert parse(stanza("autopath @kubernetes"), SERVER, read_text) == AutopathConfig(
        (".",), plugin="kubernetes"
    )


def test_zones_and_resolv_conf(tmp_path: Path) -> None:
    resolv = tmp_path / "my-resolv.conf"
    resolv.write_text("search domain1 domain2\n")
    config = parse(stanza(f"autopath cluster.local {resolv}"), SERVER, read_text)
    assert config == AutopathConfig(("cluster.local.",), search=("domain1.", "domain2.", ""))


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param(
            "autopath",
            "Corefile:2: autopath: expected at least 1 argument, got none",
            id="no-resolv-conf",
        ),
        pytest.param(
            "autopath @",
            "Corefile:2: autopath: expected a plugin name after '@', got '@'",
            id="bare-at",
        ),
        pytest.param(
            "autopath /nonexistent/resolv.conf",
            "Corefile:2: autopath: failed to read '/nonexistent/resolv.conf'",
            id="missing-file",
        ),
        pytest.param(
            "autopath @kubernetes {\n x\n}",
            "Corefile:2: autopath: expected no block, got properties x",
            id="block",
        ),
    ],
)
def test_errors(text: str, error: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse(stanza(text), SERVER, read_text)
    assert str(caught.value).startswith(error)


def test_a_plugin_without_search_paths_is_refused() -> None:
    text = ".:0 {\n    bind 127.0.0.1\n    autopath @forward\n    forward . 127.0.0.1:9\n}\n"
    with pytest.raises(CorefileError) as caught:
        App(text, "Corefile")
    assert str(caught.value) == (
        "Corefile:3: autopath: forward does not implement the AutoPather interface"
    )
