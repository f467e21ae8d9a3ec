"""Autopath's pure parts: pod search paths, the base name, the CNAME splice, resolv.conf."""

from types import MappingProxyType

import pytest

from clusterdns.dns.records import Address, Answer, Rcode, Record, RType
from clusterdns.plugins.autopath.options import resolv_search
from clusterdns.plugins.autopath.search import (
    base_name,
    continues,
    expand,
    kubernetes_search,
    with_alias,
)
from clusterdns.plugins.kubernetes.options import KubernetesConfig

VERIFIED = KubernetesConfig(zones=("cluster.local.",), pods="verified")
PODS = MappingProxyType(
    {"10.244.0.5": frozenset({"default"}), "10.0.0.1": frozenset({"kube-system", "monitoring"})}
)
HOST = ("corp.example.",)


@pytest.mark.parametrize(
    ("config", "client", "qname", "expected"),
    [
        pytest.param(
            VERIFIED,
            "10.244.0.5",
            "example.com.default.svc.cluster.local.",
            (
                "default.svc.cluster.local.",
                "svc.cluster.local.",
                "cluster.local.",
                "corp.example.",
                "",
            ),
            id="pod-in-default",
        ),
        pytest.param(
            KubernetesConfig(zones=(".",), pods="verified"),
            "10.244.0.5",
            "example.com.default.svc.",
            (
                "default.svc.",
                "svc.",
                ".",
                "corp.example.",
                "",
            ),
            id="root-zone",
        ),
        pytest.param(VERIFIED, "10.244.0.9", "x.default.svc.cluster.local.", None, id="not-a-pod"),
        pytest.param(
            VERIFIED, "10.0.0.1", "x.default.svc.cluster.local.", None, id="host-network-ambiguous"
        ),
        pytest.param(VERIFIED, "10.244.0.5", "example.com.", None, id="outside-kubernetes-zones"),
        pytest.param(
            KubernetesConfig(zones=("cluster.local.",), pods="insecure"),
            "10.244.0.5",
            "x.default.svc.cluster.local.",
            None,
            id="pods-insecure",
        ),
    ],
)
def test_kubernetes_search(
    config: KubernetesConfig, client: str, qname: str, expected: tuple[str, ...] | None
) -> None:
    assert kubernetes_search(config, PODS, HOST, client, qname) == expected


@pytest.mark.parametrize(
    ("qname", "first", "expected"),
    [
        pytest.param(
            "example.com.default.svc.cluster.local.",
            "default.svc.cluster.local.",
            "example.com",
            id="external",
        ),
        pytest.param(
            "web.default.svc.cluster.local.", "default.svc.cluster.local.", "web", id="service"
        ),
        pytest.param(
            "default.svc.cluster.local.", "default.svc.cluster.local.", None, id="the-domain-itself"
        ),
        pytest.param(
            "web.prod.svc.cluster.local.",
            "default.svc.cluster.local.",
            None,
            id="not-first-element",
        ),
        pytest.param("example.com.", ".", "example.com", id="root"),
    ],
)
def test_base_name(qname: str, first: str, expected: str | None) -> None:
    assert base_name(qname, first) == expected


@pytest.mark.parametrize(
    ("base", "domain", "expected"),
    [
        pytest.param(
            "example.com", "svc.cluster.local.", "example.com.svc.cluster.local.", id="domain"
        ),
        pytest.param("example.com", "", "example.com.", id="as-asked"),
        pytest.param("example.com", ".", "example.com.", id="root"),
    ],
)
def test_expand(base: str, domain: str, expected: str) -> None:
    assert expand(base, domain) == expected


def test_with_alias_points_the_asked_name_at_the_found_one() -> None:
    found = Answer(Rcode.NOERROR, (Record("example.com.", RType.A, 60, Address("192.0.2.1")),))
    spliced = with_alias(found, "example.com.default.svc.cluster.local.")
    assert [r.zone_line() for r in spliced.answer] == [
        "example.com.default.svc.cluster.local. 60 IN CNAME example.com.",
        "example.com. 60 IN A 192.0.2.1",
    ]


@pytest.mark.parametrize(
    ("rcode", "expected"),
    [
        pytest.param(Rcode.NXDOMAIN, True, id="nxdomain"),
        pytest.param(Rcode.SERVFAIL, True, id="servfail"),
        pytest.param(Rcode.REFUSED, True, id="refused"),
        pytest.param(Rcode.NOERROR, False, id="noerror"),
    ],
)
def test_continues(rcode: Rcode, expected: bool) -> None:
    assert continues(rcode) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "nameserver 10.0.0.10\nsearch a.example b.example\noptions ndots:5\n",
            ("a.example.", "b.example."),
            id="search",
        ),
        pytest.param("domain corp.example\n", ("corp.example.",), id="domain"),
        pytest.param(
            "search one.example\nsearch two.example # later wins\n",
            ("two.example.",),
            id="last-wins",
        ),
        pytest.param("nameserver 10.0.0.10\n", (), id="none"),
    ],
)
def test_resolv_search(text: str, expected: tuple[str, ...]) -> None:
    assert resolv_search(text) == expected
