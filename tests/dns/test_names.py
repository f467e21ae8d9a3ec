"""Name arithmetic: normalization, zones, reverse names and dashed pod labels, both directions."""

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clusterdns.dns.names import (
    address_from_dashed,
    address_from_reverse,
    dashed_address,
    is_subdomain,
    labels_below,
    longest_zone,
    normalize,
    packed_from_dashed,
    reverse_pointer,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Cluster.Local", "cluster.local.", id="case-and-dot"),
        pytest.param("cluster.local.", "cluster.local.", id="already"),
        pytest.param("", ".", id="empty-is-root"),
        pytest.param(".", ".", id="root"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_zone_arithmetic() -> None:
    assert is_subdomain("a.cluster.local.", "cluster.local.")
    assert not is_subdomain("acluster.local.", "cluster.local.")
    assert is_subdomain("anything.", ".")
    assert labels_below("web.demo.svc.cluster.local.", "cluster.local.") == ["web", "demo", "svc"]
    assert labels_below("cluster.local.", "cluster.local.") == []
    zones = (".", "cluster.local.", "local.")
    assert longest_zone("x.cluster.local.", zones) == "cluster.local."
    assert longest_zone("example.com.", ("cluster.local.",)) is None


@pytest.mark.parametrize(
    ("address", "name"),
    [
        pytest.param("10.96.0.20", "20.0.96.10.in-addr.arpa.", id="ipv4"),
        pytest.param(
            "fd00:10:96::50",
            "0.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa.",
            id="ipv6",
        ),
    ],
)
def test_reverse_names_both_ways(address: str, name: str) -> None:
    assert reverse_pointer(address) == name
    assert address_from_reverse(name) == address


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("10.in-addr.arpa.", id="partial"),
        pytest.param("1.2.3.256.in-addr.arpa.", id="octet-range"),
        pytest.param("a.2.3.4.in-addr.arpa.", id="not-digits"),
        pytest.param("0.ip6.arpa.", id="partial-v6"),
        pytest.param("web.cluster.local.", id="forward-name"),
    ],
)
def test_bad_reverse_names(name: str) -> None:
    assert address_from_reverse(name) is None


@pytest.mark.parametrize(
    ("label", "address"),
    [
        pytest.param("10-244-1-5", "10.244.1.5", id="ipv4"),
        pytest.param("fd00--5", "fd00::5", id="ipv6-compressed"),
        pytest.param("fd00-0-0-0-0-0-0-5", "fd00::5", id="ipv6-full"),
        pytest.param("10-244-1", None, id="short"),
        pytest.param("web-0", None, id="hostname"),
        pytest.param("fd00-10--0", "fd00:10::", id="ipv6-trailing-zero"),
    ],
)
def test_dashed_labels(label: str, address: str | None) -> None:
    assert address_from_dashed(label) == address
    if address is not None and "--" not in label:
        assert address_from_dashed(dashed_address(address)) == address


@pytest.mark.parametrize(
    ("address", "label"),
    [
        pytest.param("10.244.1.5", "10-244-1-5", id="ipv4"),
        pytest.param("fd00::5", "fd00--5", id="ipv6"),
        # CoreDNS endpointHostname: a label cannot end in a hyphen, so `::` gains a 0.
        pytest.param("fd00:10::", "fd00-10--0", id="ipv6-trailing-colons"),
    ],
)
def test_dashed_address(address: str, label: str) -> None:
    assert dashed_address(address) == label
    assert address_from_dashed(label) == address


@pytest.mark.parametrize(
    "label",
    [
        "10-244-1-5",
        "0-0-0-0",
        "255-255-255-255",
        "01-2-3-4",  # leading zero: no address
        "256-1-1-1",
        "1-2-3",
        "1-2-3-4-5",
        "1-2-3-",
        "0x1-2-3-4",
        "fd00--1",
        "fd00-0-0-0-0-0-0-1",
        "1--2-3",
        "abcdef",
    ],
)
def test_packed_from_dashed_agrees_with_address_from_dashed(label: str) -> None:
    address = address_from_dashed(label)
    expected = None if address is None else ipaddress.ip_address(address).packed
    assert packed_from_dashed(label) == expected


@settings(max_examples=2000)
@given(st.text(alphabet="0123456789-abcdefx", min_size=1, max_size=16))
def test_packed_from_dashed_agrees_on_any_label(label: str) -> None:
    address = address_from_dashed(label)
    expected = None if address is None else ipaddress.ip_address(address).packed
    assert packed_from_dashed(label) == expected
