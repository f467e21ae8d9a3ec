"""The directive registry: every plugin listed by -plugins, unsupported ones refused by name."""

import subprocess
import sys
from pathlib import Path

import pytest

from clusterdns.app import App
from clusterdns.errors import ConfigError
from clusterdns.plugin import PLUGIN_ORDER
from clusterdns.registry import NOT_SUPPORTED, SETUPS, load_setup, supported
from tests.fakes.plugins import stanza

ROOT = Path(__file__).resolve().parents[1]


def test_every_setup_is_importable_and_ordered() -> None:
    for name in SETUPS:
        assert name in PLUGIN_ORDER, f"{name} has no place in PLUGIN_ORDER"
    assert supported()[-1] == "bind"
    assert set(supported()) == {*SETUPS, "bind"}


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_each_setup_loads(name: str) -> None:
    assert callable(load_setup(name, stanza(name)))


def test_plugins_flag_lists_every_directive() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "clusterdns", "-plugins"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert result.returncode == 0
    listed = [line.strip() for line in result.stdout.splitlines() if line.startswith("  ")]
    for name in ("hosts", "acl", "any", "bufsize", "whoami", "local", "minimal", "debug", "bind"):
        assert name in listed


@pytest.mark.parametrize("name", sorted(NOT_SUPPORTED))
def test_unsupported_coredns_plugins_say_why(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        App(f".:0 {{\n    bind 127.0.0.1\n    {name}\n}}\n", "Corefile")
    assert str(caught.value).startswith(
        f"Corefile:3: directive '{name}' is not supported by clusterdns: "
    )
