"""Server block keys → zones and ports, reverse CIDRs, and blocks grouped and routed by port."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clusterdns.corefile.addresses import ServerAddress, block_addresses, group_by_port, parse_key
from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import parse_corefile
from clusterdns.dns.names import longest_zone
from clusterdns.errors import ConfigError


@pytest.mark.parametrize(
    ("key", "zones", "port"),
    [
        pytest.param(".", ["."], 53, id="root"),
        pytest.param(".:53", ["."], 53, id="root-port"),
        pytest.param("cluster.local:53", ["cluster.local."], 53, id="zone-port"),
        pytest.param("Cluster.Local.", ["cluster.local."], 53, id="case-and-dot"),
        pytest.param("dns://.:53", ["."], 53, id="dns-scheme"),
        pytest.param("DNS://example.org:1053", ["example.org."], 1053, id="scheme-any-case"),
        pytest.param("example.org:+1053", ["example.org."], 1053, id="atoi-sign"),
        pytest.param("_dns._udp.example.org", ["_dns._udp.example.org."], 53, id="underscores"),
        pytest.param("10.0.0.1", ["10.0.0.1."], 53, id="address-without-mask-is-a-name"),
        pytest.param("10.0.0.0/8", ["10.in-addr.arpa."], 53, id="v4-octet-8"),
        pytest.param("172.16.0.0/16:1053", ["16.172.in-addr.arpa."], 1053, id="v4-octet-16-port"),
        pytest.param("192.168.1.0/24", ["1.168.192.in-addr.arpa."], 53, id="v4-octet-24"),
        pytest.param("10.1.2.3/8", ["10.in-addr.arpa."], 53, id="v4-host-bits-dropped"),
        pytest.param("0.0.0.0/0", ["in-addr.arpa."], 53, id="v4-all"),
        pytest.param(
            "10.0.0.0/23", ["0.0.10.in-addr.arpa.", "1.0.10.in-addr.arpa."], 53, id="v4-split-23"
        ),
        pytest.param(
            "192.168.0.4/30",
            [f"{i}.0.168.192.in-addr.arpa." for i in range(4, 8)],
            53,
            id="v4-split-30",
        ),
        pytest.param("fd00::/8", ["d.f.ip6.arpa."], 53, id="v6-nibble-8"),
        pytest.param(
            "fd00:10:96::/112:1053",
            ["0.0.0.0." * 4 + "6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa."],
            1053,
            id="v6-112-port",
        ),
        pytest.param("fd00::/7", ["c.f.ip6.arpa.", "d.f.ip6.arpa."], 53, id="v6-split-7"),
    ],
)
def test_parse_key(key: str, zones: list[str], port: int) -> None:
    assert parse_key(key) == tuple(ServerAddress("dns", zone, port) for zone in zones)


def test_default_port_is_the_dns_port_flag() -> None:
    assert parse_key("example.org", default_port=1053) == (
        ServerAddress("dns", "example.org.", 1053, ("udp", "tcp")),
    )
    assert parse_key("example.org:53", default_port=1053)[0].port == 53
    with pytest.raises(ConfigError, match="-dns.port must be 0..65535, got 65536"):
        parse_key(".", default_port=65536)


@pytest.mark.parametrize(
    ("key", "error"),
    [
        pytest.param("tls://.:853", "scheme 'tls' is not supported", id="tls"),
        pytest.param("https://.", "scheme 'https' is not supported", id="https"),
        pytest.param("grpc://.", "scheme 'grpc' is not supported", id="grpc"),
        pytest.param("quic://.", "scheme 'quic' is not supported", id="quic"),
        pytest.param(":53", "no zone, expected one such as '.'", id="no-zone"),
        pytest.param("dns://", "no zone", id="scheme-only"),
        pytest.param(".:", "expected a port after ':'", id="colon-no-port"),
        pytest.param(".:65536", "port must be 0..65535, got 65536", id="port-too-big"),
        pytest.param(".:-1", "port must be 0..65535, got -1", id="port-negative"),
        pytest.param("example.org:http", "'example.org:http' is not a valid zone name", id="word"),
        pytest.param("a..b", "'a..b' is not a valid zone name", id="empty-label"),
        pytest.param("x" * 64 + ".org", "is not a valid zone name", id="long-label"),
        pytest.param("10.0.0.0/33", "'10.0.0.0/33' is not a valid CIDR", id="mask-too-big"),
        pytest.param("10.0.0.0/255.0.0.0", "is not a valid CIDR", id="netmask-form"),
        pytest.param("10.0.0/8", "is not a valid CIDR", id="short-address"),
        pytest.param("::/0", "'::/0' is not a valid CIDR", id="v6-leading-colon"),
    ],
)
def test_parse_key_errors(key: str, error: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse_key(key, "Corefile", 7)
    assert str(caught.value).startswith(f"Corefile:7: server block key '{key}': ")
    assert error in str(caught.value)


@given(st.text(max_size=40))
def test_parse_key_fuzz(key: str) -> None:
    try:
        addresses = parse_key(key)
    except CorefileError:
        return
    assert addresses and all(a.zone.endswith(".") and 0 <= a.port <= 65535 for a in addresses)


TWO_ON_ONE_PORT = """\
.:53 {
    forward . 10.0.0.1
}
cluster.local in-addr.arpa {
    kubernetes
}
example.org:1053 {
    whoami
}
"""


def test_blocks_on_one_port_routed_by_longest_zone() -> None:
    blocks = parse_corefile(TWO_ON_ONE_PORT).blocks
    groups = group_by_port(blocks)
    assert list(groups) == [53, 1053]
    assert [(zone, block.line) for zone, block in groups[53]] == [
        (".", 1),
        ("cluster.local.", 4),
        ("in-addr.arpa.", 4),
    ]
    by_zone = dict(groups[53])
    zones = tuple(by_zone)
    routes = {
        name: by_zone[zone].directives[0].name
        for name in ("web.demo.svc.cluster.local.", "example.com.", "1.0.0.10.in-addr.arpa.")
        if (zone := longest_zone(name, zones)) is not None
    }
    assert routes == {
        "web.demo.svc.cluster.local.": "kubernetes",
        "example.com.": "forward",
        "1.0.0.10.in-addr.arpa.": "kubernetes",
    }
    assert [zone for zone, _ in groups[1053]] == ["example.org."]


def test_dns_port_flag_moves_keys_without_port() -> None:
    blocks = parse_corefile(". {\n}\nexample.org:53 {\n}").blocks
    assert {port: len(pairs) for port, pairs in group_by_port(blocks, 1053).items()} == {
        1053: 1,
        53: 1,
    }


def test_block_addresses_expand_every_key() -> None:
    block = parse_corefile("example.org, 10.0.0.0/23:1053 {\n}").blocks[0]
    assert [(a.zone, a.port) for a in block_addresses(block)] == [
        ("example.org.", 53),
        ("0.0.10.in-addr.arpa.", 1053),
        ("1.0.10.in-addr.arpa.", 1053),
    ]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param(
            ". {\n}\n.:53 {\n}",
            "Corefile:3: cannot serve dns://.:53 - it is already defined at Corefile:1",
            id="same-zone-same-port",
        ),
        pytest.param(
            "Example.org {\n}\n\nexample.org. {\n}",
            "Corefile:4: cannot serve dns://example.org.:53 - it is already defined",
            id="same-after-normalizing",
        ),
        pytest.param(
            "example.org example.org {\n}",
            "Corefile:1: cannot serve dns://example.org.:53",
            id="twice-in-one-block",
        ),
        pytest.param(
            "10.0.0.0/8 {\n}\n10.in-addr.arpa {\n}",
            "Corefile:3: cannot serve dns://10.in-addr.arpa.:53",
            id="cidr-and-its-zone",
        ),
        pytest.param(
            ". {\n}\ntls://. {\n}", "Corefile:3: server block key 'tls://.'", id="bad-key"
        ),
    ],
)
def test_group_errors(text: str, error: str) -> None:
    with pytest.raises(CorefileError, match="^" + error.replace(".", r"\.")):
        group_by_port(parse_corefile(text).blocks)


def test_same_zone_on_other_ports_is_fine() -> None:
    groups = group_by_port(parse_corefile(". {\n}\n.:1053 {\n}").blocks)
    assert {port: [z for z, _ in pairs] for port, pairs in groups.items()} == {
        53: ["."],
        1053: ["."],
    }


@pytest.mark.parametrize(
    "fixture",
    [
        pytest.param("kubeadm.Corefile", id="kubeadm-current"),
        pytest.param("kubeadm-old.Corefile", id="kubeadm-old"),
    ],
)
def test_kubeadm_serves_root_on_53(fixture: str) -> None:
    path = Path(__file__).resolve().parents[1] / "data" / "corefiles" / fixture
    groups = group_by_port(parse_corefile(path.read_text()).blocks)
    assert [(port, [zone for zone, _ in pairs]) for port, pairs in groups.items()] == [(53, ["."])]
