"""`clusterdns serve --upstream`: an IP address and optional port, as CoreDNS's forward takes."""

import pytest

from clusterdns.cli import main


@pytest.mark.parametrize(
    ("value", "forward"),
    [
        pytest.param("10.0.0.10", "forward . 10.0.0.10:53 {", id="ipv4"),
        pytest.param("10.0.0.10:5353", "forward . 10.0.0.10:5353 {", id="ipv4-port"),
        pytest.param("[2001:db8::1]:53", "forward . [2001:db8::1]:53 {", id="ipv6-port"),
        pytest.param("2001:db8::1", "forward . [2001:db8::1]:53 {", id="ipv6"),
    ],
)
def test_an_ip_address_is_forwarded_to(
    value: str, forward: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--upstream", value, "--print-corefile"]) == 0
    assert forward in capsys.readouterr().out


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("dns.google", id="host-name"),
        pytest.param("dns.google:53", id="host-name-port"),
        pytest.param("10.0.0.300", id="bad-address"),
    ],
)
def test_anything_else_is_an_error_that_says_an_ip_is_wanted(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--upstream", value, "--print-corefile"]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"clusterdns: --upstream: upstream {value!r}: not an IP address")
    assert "want IP[:PORT]" in error and "host names are not resolved" in error


def test_the_help_says_ip(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["serve", "--help"])
    assert exit.value.code == 0
    assert "--upstream IP[:PORT]" in capsys.readouterr().out
