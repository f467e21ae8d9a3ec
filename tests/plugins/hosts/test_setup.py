"""The `hosts` stanza: CoreDNS's documented forms parse; bad ones name file, line and token."""

from pathlib import Path

import pytest

from clusterdns.corefile.lexer import CorefileError
from clusterdns.plugins.hosts.options import HostsConfig, InlineLine, parse
from clusterdns.plugins.hosts.setup import setup
from tests.fakes.plugins import FakeClock, context, stanza

SERVER = (".",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("hosts", HostsConfig(), id="bare-reads-etc-hosts"),
        pytest.param("hosts example.hosts", HostsConfig(path="example.hosts"), id="file-in-cwd"),
        pytest.param(
            "hosts example.hosts example.org example.net {\n    fallthrough\n}",
            HostsConfig(
                path="example.hosts",
                zones=("example.org.", "example.net."),
                fallthrough=(".",),
            ),
            id="doc-zones-and-fallthrough",
        ),
        pytest.param(
            "hosts example.hosts example.org {\n    10.0.0.1 example.org\n    fallthrough\n}",
            HostsConfig(
                path="example.hosts",
                zones=("example.org.",),
                inline=(InlineLine("Corefile", 3, "10.0.0.1 example.org"),),
                fallthrough=(".",),
            ),
            id="doc-inline",
        ),
        pytest.param(
            "hosts /etc/coredns/NodeHosts {\n    ttl 60\n    reload 15s\n    fallthrough\n}",
            HostsConfig(path="/etc/coredns/NodeHosts", ttl=60, reload=15.0, fallthrough=(".",)),
            id="k3s",
        ),
        pytest.param(
            "hosts {\n    no_reverse\n    reload 0\n    fallthrough in-addr.arpa ip6.arpa\n}",
            HostsConfig(reverse=False, reload=0.0, fallthrough=("in-addr.arpa.", "ip6.arpa.")),
            id="no-reverse-no-reload-fallthrough-zones",
        ),
        pytest.param(
            "hosts {\n    fallthrough\n    fallthrough_unsupported\n}",
            HostsConfig(fallthrough=(".",), fallthrough_unsupported=True),
            id="fallthrough-unsupported",
        ),
    ],
)
def test_parse(text: str, expected: HostsConfig) -> None:
    assert parse(stanza(text), SERVER) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "hosts {\n    ttl 0\n}",
            "Corefile:3: hosts: ttl: TTL must be 1..65535, got 0",
            id="ttl-0",
        ),
        pytest.param(
            "hosts {\n    ttl soon\n}",
            "Corefile:3: hosts: ttl: TTL must be an integer 1..65535, got 'soon'",
            id="ttl-word",
        ),
        pytest.param(
            "hosts {\n    reload 5\n}",
            "Corefile:3: hosts: reload: reload must be a duration such as 5s or 1m30s, got '5'",
            id="reload-no-unit",
        ),
        pytest.param(
            "hosts {\n    reload 1s 2s\n}",
            "Corefile:3: hosts: reload: expected 1 argument, got 2: 1s 2s",
            id="reload-two",
        ),
        pytest.param(
            "hosts {\n    fallthrough\n    10.0.0.1 late.example\n}",
            "Corefile:4: hosts: 10.0.0.1: unknown property '10.0.0.1' after fallthrough",
            id="inline-after-fallthrough",
        ),
        pytest.param(
            "hosts {\n    fallthrough_unsupported\n}",
            "Corefile:2: hosts: fallthrough_unsupported requires fallthrough",
            id="unsupported-without-fallthrough",
        ),
        pytest.param(
            "hosts {\n    no_reverse please\n}",
            "Corefile:3: hosts: no_reverse: expected no arguments, got 1: please",
            id="no-reverse-argument",
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse(stanza(text), SERVER)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("inline", "file", "message"),
    [
        pytest.param(
            "    10.0.0.300 bad.example\n",
            "",
            "Corefile:3: hosts: bad address '10.0.0.300', expected an IPv4 or IPv6 address",
            id="inline-bad-address",
        ),
        pytest.param(
            "    10.0.0.1\n",
            "",
            "Corefile:3: hosts: address '10.0.0.1' has no host name",
            id="inline-no-name",
        ),
        pytest.param(
            "",
            "127.0.0.1 localhost\n\nfe80::zz host6\n",
            "{path}:3: hosts: bad address 'fe80::zz', expected an IPv4 or IPv6 address",
            id="file-bad-address",
        ),
    ],
)
def test_bad_lines_stop_setup_with_file_and_line(
    tmp_path: Path, inline: str, file: str, message: str
) -> None:
    path = tmp_path / "hosts"
    path.write_text(file)
    with pytest.raises(CorefileError) as caught:
        setup(stanza(f"hosts {path} {{\n{inline}}}"), context(FakeClock()))
    assert str(caught.value) == message.format(path=path)


def test_a_missing_file_is_a_warning_and_inline_entries_still_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "absent"
    handler = setup(stanza(f"hosts {path} {{\n    10.0.0.1 a.example\n}}"), context(FakeClock()))
    assert handler.inline.v4 == {"a.example.": ("10.0.0.1",)}
    assert f"plugin/hosts: {path} does not exist" in caplog.text
