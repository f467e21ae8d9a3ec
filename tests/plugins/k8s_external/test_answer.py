"""k8s_external answers, table-driven from CoreDNS's plugin/k8s_external tests and README."""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from clusterdns.dns.records import RType
from clusterdns.plugins.k8s_external.answer import answer, external_index
from clusterdns.plugins.k8s_external.options import ExternalConfig
from clusterdns.plugins.kubernetes.objects import parse_object
from clusterdns.plugins.kubernetes.options import KubernetesConfig
from clusterdns.plugins.kubernetes.snapshot import ZoneSnapshot, build_snapshot
from clusterdns.plugins.kubernetes.store import ObjectStore
from tests.fakes.kube_api import endpoint_slice, namespace, service

SOA = "example.com. 5 IN SOA ns1.dns.example.com. hostmaster.dns.example.com. 9 7200 1800 86400 5"
KUBERNETES = KubernetesConfig(
    zones=("cluster.local.",), ttl=30, pods="insecure", ns_addresses=("192.0.2.53", "2001:db8::53")
)
CONFIG = ExternalConfig(("example.com.", "in-addr.arpa."), headless=True)


def _objects() -> list[tuple[str, Mapping[str, Any]]]:
    lb = {"loadBalancer": {"ingress": [{"hostname": "dummy.hostname"}]}}
    return [
        ("Namespace", namespace("testns")),
        ("Service", service("svc1", "testns", "10.0.0.1", externalIPs=["1.2.3.4"])),
        ("Service", service("svc6", "testns", "10.0.0.3", externalIPs=["1:2::5"])),
        ("Service", {**service("svc11", "testns", "10.0.0.11"), "status": _lb_ip("2.3.4.5")}),
        ("Service", {**service("svc12", "testns", "10.0.0.12"), "status": lb}),
        ("Service", service("internal", "testns", "10.0.0.20")),
        ("Service", service("svc-headless", "testns", "None")),
        ("EndpointSlice", _headless_slice()),
    ]


def _lb_ip(ip: str) -> dict[str, Any]:
    return {"loadBalancer": {"ingress": [{"ip": ip}]}}


def _headless_slice() -> dict[str, Any]:
    body = endpoint_slice("svc-headless-x", "svc-headless", ["1.2.3.4", "1.2.3.5"], "testns")
    for index, endpoint in enumerate(body["endpoints"]):
        endpoint["hostname"] = f"endpoint-svc-{index}"
    return body


def _snapshot() -> ZoneSnapshot:
    store = ObjectStore()
    for kind, raw in _objects():
        obj = parse_object({**raw, "kind": kind})
        assert obj is not None
        store.apply(obj)
    return build_snapshot(store, None, None, serial=9, synced=True)


SNAPSHOT = _snapshot()


@dataclass(frozen=True)
class Case:
    """A question and the reply expected, as zone-file lines (authority None: SOA if empty)."""

    name: str
    qtype: str
    rcode: str = "NOERROR"
    answer: list[str] = field(default_factory=list)
    additional: list[str] = field(default_factory=list)
    authority: list[str] | None = None
    lookups: tuple[str, ...] = ()


CASES = [
    pytest.param(
        Case(
            "4.3.2.1.in-addr.arpa.",
            "PTR",
            answer=["4.3.2.1.in-addr.arpa. 5 IN PTR svc1.testns.example.com."],
        ),
        id="ptr-external-ip",
    ),
    pytest.param(
        Case(
            "9.9.9.9.in-addr.arpa.",
            "PTR",
            "NXDOMAIN",
            authority=[
                "in-addr.arpa. 5 IN SOA ns1.dns.in-addr.arpa. hostmaster.dns.in-addr.arpa. "
                "9 7200 1800 86400 5"
            ],
        ),
        id="ptr-unknown-ip",
    ),
    pytest.param(Case("svc1.testns.example.com.", "PTR"), id="ptr-of-service-name-nodata"),
    pytest.param(Case("not-existing.testns.example.com.", "PTR", "NXDOMAIN"), id="ptr-no-service"),
    pytest.param(
        Case("svc1.testns.example.com.", "A", answer=["svc1.testns.example.com. 5 IN A 1.2.3.4"]),
        id="a-external-ip",
    ),
    pytest.param(
        Case(
            "svc1.testns.example.com.",
            "SRV",
            answer=["svc1.testns.example.com. 5 IN SRV 0 100 80 svc1.testns.example.com."],
            additional=["svc1.testns.example.com. 5 IN A 1.2.3.4"],
        ),
        id="srv-service",
    ),
    pytest.param(
        Case(
            "_http._tcp.svc1.testns.example.com.",
            "SRV",
            answer=[
                "_http._tcp.svc1.testns.example.com. 5 IN SRV 0 100 80 svc1.testns.example.com."
            ],
            additional=["svc1.testns.example.com. 5 IN A 1.2.3.4"],
        ),
        id="srv-port-protocol",
    ),
    pytest.param(
        Case("*._not-udp-or-tcp.svc1.testns.example.com.", "SRV", "NXDOMAIN"),
        id="srv-unknown-protocol",
    ),
    pytest.param(Case("svc1.testns.example.com.", "AAAA"), id="aaaa-nodata"),
    pytest.param(Case("svc0.testns.example.com.", "A", "NXDOMAIN"), id="no-service"),
    pytest.param(Case("svc0.svc-nons.example.com.", "A", "NXDOMAIN"), id="no-namespace"),
    pytest.param(Case("internal.testns.example.com.", "A", "NXDOMAIN"), id="no-external-ips"),
    pytest.param(
        Case(
            "svc6.testns.example.com.", "AAAA", answer=["svc6.testns.example.com. 5 IN AAAA 1:2::5"]
        ),
        id="aaaa-external-ip",
    ),
    pytest.param(
        Case(
            "_http._tcp.svc6.testns.example.com.",
            "SRV",
            answer=[
                "_http._tcp.svc6.testns.example.com. 5 IN SRV 0 100 80 svc6.testns.example.com."
            ],
            additional=["svc6.testns.example.com. 5 IN AAAA 1:2::5"],
        ),
        id="srv-ipv6",
    ),
    pytest.param(Case("testns.example.com.", "A"), id="namespace-nodata"),
    pytest.param(Case("testns.example.com.", "SOA"), id="namespace-soa-nodata"),
    pytest.param(
        Case("svc11.testns.example.com.", "A", answer=["svc11.testns.example.com. 5 IN A 2.3.4.5"]),
        id="a-load-balancer-ip",
    ),
    pytest.param(
        Case(
            "svc12.testns.example.com.",
            "A",
            answer=["svc12.testns.example.com. 5 IN CNAME dummy.hostname."],
            lookups=("dummy.hostname.",),
        ),
        id="a-load-balancer-hostname-cname",
    ),
    pytest.param(
        Case(
            "_http._tcp.svc12.testns.example.com.",
            "SRV",
            answer=["_http._tcp.svc12.testns.example.com. 5 IN SRV 0 100 80 dummy.hostname."],
        ),
        id="srv-load-balancer-hostname",
    ),
    pytest.param(
        Case(
            "svc-headless.testns.example.com.",
            "A",
            answer=[
                "svc-headless.testns.example.com. 5 IN A 1.2.3.4",
                "svc-headless.testns.example.com. 5 IN A 1.2.3.5",
            ],
        ),
        id="headless-a",
    ),
    pytest.param(
        Case(
            "svc-headless.testns.example.com.",
            "SRV",
            answer=[
                "svc-headless.testns.example.com. 5 IN SRV 0 50 80 "
                "endpoint-svc-0.svc-headless.testns.example.com.",
                "svc-headless.testns.example.com. 5 IN SRV 0 50 80 "
                "endpoint-svc-1.svc-headless.testns.example.com.",
            ],
            additional=[
                "endpoint-svc-0.svc-headless.testns.example.com. 5 IN A 1.2.3.4",
                "endpoint-svc-1.svc-headless.testns.example.com. 5 IN A 1.2.3.5",
            ],
        ),
        id="headless-srv",
    ),
    pytest.param(
        Case(
            "endpoint-svc-1.svc-headless.testns.example.com.",
            "A",
            answer=["endpoint-svc-1.svc-headless.testns.example.com. 5 IN A 1.2.3.5"],
        ),
        id="headless-endpoint",
    ),
    pytest.param(
        Case("nope.svc-headless.testns.example.com.", "A", "NXDOMAIN"),
        id="headless-unknown-endpoint",
    ),
    pytest.param(
        Case("any.svc1.testns.example.com.", "A", "NXDOMAIN"),
        id="endpoint-label-on-external-ip-service",
    ),
    pytest.param(Case("a.b.c.svc1.testns.example.com.", "A", "NXDOMAIN"), id="too-long"),
    pytest.param(Case("example.com.", "SOA", answer=[SOA], authority=[]), id="apex-soa"),
    pytest.param(
        Case(
            "example.com.",
            "NS",
            answer=["example.com. 5 IN NS ns1.dns.example.com."],
            additional=[
                "ns1.dns.example.com. 5 IN A 192.0.2.53",
                "ns1.dns.example.com. 5 IN AAAA 2001:db8::53",
            ],
            authority=[],
        ),
        id="apex-ns",
    ),
    pytest.param(Case("example.com.", "A"), id="apex-a-nodata"),
    pytest.param(Case("dns.example.com.", "A"), id="dns-empty-non-terminal"),
    pytest.param(
        Case("ns1.dns.example.com.", "A", answer=["ns1.dns.example.com. 5 IN A 192.0.2.53"]),
        id="ns1-a",
    ),
    pytest.param(
        Case(
            "ns1.dns.example.com.", "AAAA", answer=["ns1.dns.example.com. 5 IN AAAA 2001:db8::53"]
        ),
        id="ns1-aaaa",
    ),
    pytest.param(Case("ns1.dns.example.com.", "TXT"), id="ns1-txt-nodata"),
    pytest.param(Case("ns2.dns.example.com.", "A", "NXDOMAIN"), id="ns2-nxdomain"),
    pytest.param(Case("a.ns1.dns.example.com.", "A", "NXDOMAIN"), id="below-ns1-nxdomain"),
]


@pytest.mark.parametrize("case", CASES)
def test_answers(case: Case) -> None:
    reply = answer(
        SNAPSHOT,
        KUBERNETES,
        CONFIG,
        case.name,
        int(RType[case.qtype]),
        lambda: external_index(SNAPSHOT),
    )
    assert reply is not None, "fell through"
    result = reply.answer
    assert result.rcode.name == case.rcode
    assert result.authoritative
    assert sorted(r.zone_line() for r in result.answer) == sorted(case.answer)
    assert sorted(r.zone_line() for r in result.additional) == sorted(case.additional)
    authority = case.authority if case.authority is not None else [] if case.answer else [SOA]
    assert [r.zone_line() for r in result.authority] == authority
    assert reply.lookups == case.lookups


def test_not_our_zone_goes_on() -> None:
    reply = answer(SNAPSHOT, KUBERNETES, CONFIG, "svc1.testns.example.org.", 1, dict)
    assert reply is None


def test_fallthrough_passes_name_errors_only() -> None:
    config = replace(CONFIG, fallthrough=("example.com.",))
    assert answer(SNAPSHOT, KUBERNETES, config, "svc0.testns.example.com.", 1, dict) is None
    kept = answer(SNAPSHOT, KUBERNETES, config, "svc1.testns.example.com.", 28, dict)
    assert kept is not None and kept.answer.rcode.name == "NOERROR"


def test_without_headless_the_endpoints_are_not_served() -> None:
    config = replace(CONFIG, headless=False)
    reply = answer(SNAPSHOT, KUBERNETES, config, "svc-headless.testns.example.com.", 1, dict)
    assert reply is not None and reply.answer.rcode.name == "NXDOMAIN"


def test_apex_and_ttl_options() -> None:
    config = replace(CONFIG, apex="ext", ttl=60)
    reply = answer(SNAPSHOT, KUBERNETES, config, "example.com.", int(RType.SOA), dict)
    assert reply is not None
    assert [r.zone_line() for r in reply.answer.answer] == [
        "example.com. 60 IN SOA ns1.ext.example.com. hostmaster.ext.example.com. "
        "9 7200 1800 86400 60"
    ]
    ns1 = answer(SNAPSHOT, KUBERNETES, config, "ns1.ext.example.com.", 1, dict)
    assert ns1 is not None and [r.zone_line() for r in ns1.answer.answer] == [
        "ns1.ext.example.com. 60 IN A 192.0.2.53"
    ]


def test_before_the_first_sync_servfail() -> None:
    empty = ZoneSnapshot(synced=False, serial=0)
    reply = answer(empty, KUBERNETES, CONFIG, "svc1.testns.example.com.", 1, dict)
    assert reply is not None and reply.answer.rcode.name == "SERVFAIL"


def test_hidden_namespaces_are_not_served() -> None:
    kubernetes = replace(KUBERNETES, namespaces=frozenset({"other"}))
    reply = answer(SNAPSHOT, kubernetes, CONFIG, "svc1.testns.example.com.", 1, dict)
    assert reply is not None and reply.answer.rcode.name == "NXDOMAIN"
