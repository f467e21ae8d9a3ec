"""`clusterdns serve` flags: a value the server cannot take is reported under the flag's name."""

import pytest

from clusterdns.cli import main
from tests.conftest import EXAMPLES

BASE = ["serve", "--manifests", str(EXAMPLES), "--dns-addr", "127.0.0.1", "--dns-port", "0"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        pytest.param(["--dns-port", "99999"], "--dns-port: must be 0..65535, got 99999", id="port"),
        pytest.param(["--dns-port", "-1"], "--dns-port: must be 0..65535, got -1", id="port-neg"),
        pytest.param(["--ttl", "99999"], "--ttl: must be 0..3600, got 99999", id="ttl"),
        pytest.param(
            ["--tcp-idle-timeout", "0"],
            "--tcp-idle-timeout: must be more than 0, got 0.0",
            id="idle-timeout",
        ),
        pytest.param(
            ["--http-addr", "nonsense"],
            "--http-addr: want HOST:PORT or :PORT, got 'nonsense'",
            id="http-addr",
        ),
        pytest.param(
            ["--http-addr", "127.0.0.1:99999"],
            "--http-addr: want HOST:PORT or :PORT, got '127.0.0.1:99999'",
            id="http-port",
        ),
        pytest.param(
            ["--upstream", "1.2.3.4:99999"],
            "--upstream: upstream '1.2.3.4:99999': port must be 1..65535",
            id="upstream-port",
        ),
        pytest.param(
            ["--dns-addr", "localhost"], "--dns-addr: not an IP address: 'localhost'", id="addr"
        ),
        pytest.param(
            ["--manifests", "no/such/folder"],
            "--manifests: no/such/folder: no such file or folder",
            id="manifests-missing",
        ),
        pytest.param(
            ["--kubeconfig", "k.conf"],
            "--manifests cannot be combined with --kubeconfig or --api-server",
            id="manifests-and-kubeconfig",
        ),
    ],
)
def test_bad_flag_values_name_the_flag(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*BASE, *flags]) == 1
    assert capsys.readouterr().err == f"clusterdns: {message}\n"


def test_printed_corefile_carries_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--ttl", "7", "--print-corefile"]) == 0
    out = capsys.readouterr().out
    assert ".:0 {" in out and "ttl 7" in out and "bind 127.0.0.1" in out
