"""Answer tables per section of kubernetes/dns docs/specification.md (and CoreDNS where silent)."""

from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from clusterdns.dns.records import Answer, RType
from clusterdns.plugins.kubernetes.answer import Negatives, answer, answer_scope, changed_scopes
from clusterdns.plugins.kubernetes.options import KubernetesConfig
from clusterdns.plugins.kubernetes.snapshot import ZoneSnapshot, build_snapshot
from clusterdns.plugins.kubernetes.source import load_manifests
from clusterdns.plugins.kubernetes.store import Changes, ObjectStore

ROOT = Path(__file__).resolve().parents[3]
DB = "db.demo.svc.cluster.local."
SOA = (
    "cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 7 7200 1800 86400 30"
)
# The kubeadm stanza: `pods insecure`, `fallthrough in-addr.arpa ip6.arpa`, `ttl 30`.
CONFIG = KubernetesConfig(
    zones=("cluster.local.", "in-addr.arpa.", "ip6.arpa."),
    ttl=30,
    pods="insecure",
    fallthrough=("in-addr.arpa.", "ip6.arpa."),
    ns_addresses=("127.0.0.1",),
)


def _snapshot() -> ZoneSnapshot:
    store = ObjectStore()
    for obj in load_manifests([str(ROOT / "examples"), str(ROOT / "tests/data/k8s")]):
        store.apply(obj)
    return build_snapshot(store, None, None, serial=7, synced=True)


SNAPSHOT = _snapshot()


@dataclass(frozen=True)
class Case:
    """One question and the reply expected, as zone-file lines."""

    name: str
    qtype: str
    rcode: str = "NOERROR"
    answer: list[str] = field(default_factory=list)
    additional: list[str] = field(default_factory=list)
    authority: list[str] | None = None  # None: SOA when the answer is empty, else nothing


def ask(case: Case, snapshot: ZoneSnapshot = SNAPSHOT, config: KubernetesConfig = CONFIG) -> None:
    result = answer(snapshot, config, case.name, int(RType[case.qtype]))
    assert result is not None, "fell through"
    check(result, case)


def check(result: Answer, case: Case) -> None:
    assert result.rcode.name == case.rcode
    assert result.authoritative
    assert not result.recursion_available
    assert sorted(r.zone_line() for r in result.answer) == sorted(case.answer)
    assert sorted(r.zone_line() for r in result.additional) == sorted(case.additional)
    expected_authority = case.authority
    if expected_authority is None:
        expected_authority = [] if case.answer else [SOA]
    assert [r.zone_line() for r in result.authority] == expected_authority


def cases(*items: Case) -> list[object]:
    return [
        pytest.param(c, id=f"{c.name.removesuffix('.cluster.local.')}-{c.qtype}") for c in items
    ]


# Specification 2.3.1 / 2.3.2 / 2.3.3: schema version, SOA and NS at the apex.
APEX = cases(
    Case(
        "dns-version.cluster.local.",
        "TXT",
        answer=['dns-version.cluster.local. 28800 IN TXT "1.1.0"'],
    ),
    Case("dns-version.cluster.local.", "A"),
    Case("cluster.local.", "SOA", answer=[SOA]),
    Case(
        "cluster.local.",
        "NS",
        answer=["cluster.local. 30 IN NS ns.dns.cluster.local."],
        additional=["ns.dns.cluster.local. 30 IN A 127.0.0.1"],
    ),
    Case("cluster.local.", "A"),
    Case("ns.dns.cluster.local.", "A", answer=["ns.dns.cluster.local. 30 IN A 127.0.0.1"]),
    Case("ns.dns.cluster.local.", "AAAA"),
    Case("dns.cluster.local.", "A"),
    Case("svc.cluster.local.", "A"),
    Case("pod.cluster.local.", "A"),
    Case("demo.svc.cluster.local.", "A"),
    Case("nowhere.svc.cluster.local.", "A", rcode="NXDOMAIN"),
    Case("elsewhere.cluster.local.", "A", rcode="NXDOMAIN"),
    Case("a.b.c.d.e.demo.svc.cluster.local.", "A", rcode="NXDOMAIN"),
    Case("web.demo.svc.cluster.local.", "SOA"),
)

# Specification 2.4.1: A/AAAA records of ClusterIP, NodePort and LoadBalancer Services.
CLUSTER_IP = cases(
    Case(
        "web.demo.svc.cluster.local.",
        "A",
        answer=["web.demo.svc.cluster.local. 30 IN A 10.96.0.20"],
    ),
    Case("web.demo.svc.cluster.local.", "AAAA"),
    Case("web.demo.svc.cluster.local.", "TXT"),
    Case("web.demo.svc.cluster.local.", "MX"),
    Case(
        "api.demo.svc.cluster.local.",
        "A",
        answer=["api.demo.svc.cluster.local. 30 IN A 10.96.0.30"],
    ),
    Case(
        "shop.demo.svc.cluster.local.",
        "A",
        answer=["shop.demo.svc.cluster.local. 30 IN A 10.96.0.40"],
    ),
    Case(
        "dual.demo.svc.cluster.local.",
        "A",
        answer=["dual.demo.svc.cluster.local. 30 IN A 10.96.0.50"],
    ),
    Case(
        "dual.demo.svc.cluster.local.",
        "AAAA",
        answer=["dual.demo.svc.cluster.local. 30 IN AAAA fd00:10:96::50"],
    ),
    Case(
        "legacy-db.demo.svc.cluster.local.",
        "A",
        answer=["legacy-db.demo.svc.cluster.local. 30 IN A 10.96.0.60"],
    ),
    Case("missing.demo.svc.cluster.local.", "A", rcode="NXDOMAIN"),
    Case("web.nowhere.svc.cluster.local.", "A", rcode="NXDOMAIN"),
    # CoreDNS answers endpoint names under ClusterIP Services too.
    Case(
        "10-244-1-10.web.demo.svc.cluster.local.",
        "A",
        answer=["10-244-1-10.web.demo.svc.cluster.local. 30 IN A 10.244.1.10"],
    ),
    Case("10-244-1-12.web.demo.svc.cluster.local.", "A", rcode="NXDOMAIN"),  # not ready
    # An endpoint with a hostname is named only by it, never by its dashed address.
    Case("10-244-2-10.db.demo.svc.cluster.local.", "A", rcode="NXDOMAIN"),
    Case("r0000001.web.demo.svc.cluster.local.", "A", rcode="NXDOMAIN"),  # a random label
)

# Specification 2.4.2: SRV records for named ports; CoreDNS weights floor(100/N).
SRV = cases(
    Case(
        "_http._tcp.web.demo.svc.cluster.local.",
        "SRV",
        answer=[
            "_http._tcp.web.demo.svc.cluster.local. 30 IN SRV 0 100 80 web.demo.svc.cluster.local."
        ],
        additional=["web.demo.svc.cluster.local. 30 IN A 10.96.0.20"],
    ),
    Case(
        "web.demo.svc.cluster.local.",
        "SRV",
        answer=[
            "web.demo.svc.cluster.local. 30 IN SRV 0 50 80 web.demo.svc.cluster.local.",
            "web.demo.svc.cluster.local. 30 IN SRV 0 50 443 web.demo.svc.cluster.local.",
        ],
        additional=["web.demo.svc.cluster.local. 30 IN A 10.96.0.20"],
    ),
    Case("_http._udp.web.demo.svc.cluster.local.", "SRV", rcode="NXDOMAIN"),
    Case("_gopher._tcp.web.demo.svc.cluster.local.", "SRV", rcode="NXDOMAIN"),
    Case(
        "_http._tcp.web.demo.svc.cluster.local.",
        "A",
        answer=["_http._tcp.web.demo.svc.cluster.local. 30 IN A 10.96.0.20"],
    ),
    Case(
        "metrics.demo.svc.cluster.local.",
        "SRV",
        answer=[
            "metrics.demo.svc.cluster.local. 30 IN SRV 0 100 9100 metrics.demo.svc.cluster.local."
        ],
        additional=["metrics.demo.svc.cluster.local. 30 IN A 10.96.0.70"],
    ),
    Case(
        "_dns._udp.dns.edge.svc.cluster.local.",
        "SRV",
        answer=[
            "_dns._udp.dns.edge.svc.cluster.local. 30 IN SRV 0 100 53 dns.edge.svc.cluster.local."
        ],
        additional=["dns.edge.svc.cluster.local. 30 IN A 10.96.1.53"],
    ),
    Case(
        "_http._tcp.dual.demo.svc.cluster.local.",
        "SRV",
        answer=[
            "_http._tcp.dual.demo.svc.cluster.local. 30 IN SRV 0 50 80 dual.demo.svc.cluster.local."
        ],
        additional=[
            "dual.demo.svc.cluster.local. 30 IN A 10.96.0.50",
            "dual.demo.svc.cluster.local. 30 IN AAAA fd00:10:96::50",
        ],
    ),
    Case(
        "_postgres._tcp.db.demo.svc.cluster.local.",
        "SRV",
        answer=[
            f"_postgres._tcp.db.demo.svc.cluster.local. 30 IN SRV 0 33 5432 db-{i}.{DB}"
            for i in range(3)
        ],
        additional=[f"db-{i}.db.demo.svc.cluster.local. 30 IN A 10.244.2.1{i}" for i in range(3)],
    ),
    Case("noports.edge.svc.cluster.local.", "SRV"),
)

# Specification 2.4.3 (headless): A per ready endpoint over all slices; hostnames; dashed IPs.
HEADLESS = cases(
    Case(
        "db.demo.svc.cluster.local.",
        "A",
        answer=[f"db.demo.svc.cluster.local. 30 IN A 10.244.2.1{i}" for i in range(3)],
    ),
    Case(
        "db-1.db.demo.svc.cluster.local.",
        "A",
        answer=["db-1.db.demo.svc.cluster.local. 30 IN A 10.244.2.11"],
    ),
    Case("db-3.db.demo.svc.cluster.local.", "A", rcode="NXDOMAIN"),
    Case("db-1.db.demo.svc.cluster.local.", "AAAA"),
    Case(
        "noports.edge.svc.cluster.local.",
        "A",
        answer=["noports.edge.svc.cluster.local. 30 IN A 10.1.0.1"],
    ),
    Case(
        "10-1-0-1.noports.edge.svc.cluster.local.",
        "A",
        answer=["10-1-0-1.noports.edge.svc.cluster.local. 30 IN A 10.1.0.1"],
    ),
    Case("notready.edge.svc.cluster.local.", "A", rcode="NXDOMAIN"),
    Case(
        "twice.edge.svc.cluster.local.",
        "A",
        answer=[
            "twice.edge.svc.cluster.local. 30 IN A 10.1.0.3",
            "twice.edge.svc.cluster.local. 30 IN A 10.1.0.4",
        ],
    ),
    Case(
        "mirrored.edge.svc.cluster.local.",
        "A",
        answer=["mirrored.edge.svc.cluster.local. 30 IN A 10.1.0.5"],
    ),
    Case(
        "six.edge.svc.cluster.local.",
        "AAAA",
        answer=["six.edge.svc.cluster.local. 30 IN AAAA fd00::6"],
    ),
    Case("six.edge.svc.cluster.local.", "A"),
    Case(
        "_http._tcp.six.edge.svc.cluster.local.",
        "SRV",
        answer=[
            "_http._tcp.six.edge.svc.cluster.local. 30 IN SRV 0 100 80 "
            "six-0.six.edge.svc.cluster.local."
        ],
        additional=["six-0.six.edge.svc.cluster.local. 30 IN AAAA fd00::6"],
    ),
)

# Specification 2.4.4: ExternalName Services are CNAMEs; no endpoint names, no SRV.
EXTERNAL = cases(
    Case(
        "docs.demo.svc.cluster.local.",
        "A",
        answer=["docs.demo.svc.cluster.local. 30 IN CNAME docs.example.com."],
    ),
    Case(
        "docs.demo.svc.cluster.local.",
        "AAAA",
        answer=["docs.demo.svc.cluster.local. 30 IN CNAME docs.example.com."],
    ),
    Case(
        "docs.demo.svc.cluster.local.",
        "CNAME",
        answer=["docs.demo.svc.cluster.local. 30 IN CNAME docs.example.com."],
    ),
    Case("docs.demo.svc.cluster.local.", "SRV"),
    # CoreDNS findServices: an ExternalName has no endpoints and no ports, so an endpoint,
    # port or protocol label under it names nothing.
    Case("x.docs.demo.svc.cluster.local.", "A", rcode="NXDOMAIN"),
    Case("_http._tcp.docs.demo.svc.cluster.local.", "SRV", rcode="NXDOMAIN"),
    Case("_http._tcp.docs.demo.svc.cluster.local.", "A", rcode="NXDOMAIN"),
    Case("_http._tcp.docs.demo.svc.cluster.local.", "CNAME", rcode="NXDOMAIN"),
    Case("a.b.docs.demo.svc.cluster.local.", "A", rcode="NXDOMAIN"),
)

# Specification 2.5 (PTR) for cluster IPs and endpoint IPs, both families.
REVERSE = cases(
    Case(
        "20.0.96.10.in-addr.arpa.",
        "PTR",
        answer=["20.0.96.10.in-addr.arpa. 30 IN PTR web.demo.svc.cluster.local."],
    ),
    Case(
        "11.2.244.10.in-addr.arpa.",
        "PTR",
        answer=["11.2.244.10.in-addr.arpa. 30 IN PTR db-1.db.demo.svc.cluster.local."],
    ),
    Case(
        "10.1.244.10.in-addr.arpa.",
        "PTR",
        answer=["10.1.244.10.in-addr.arpa. 30 IN PTR 10-244-1-10.web.demo.svc.cluster.local."],
    ),
    Case(
        "0.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa.",
        "PTR",
        answer=[
            "0.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa. "
            "30 IN PTR dual.demo.svc.cluster.local."
        ],
    ),
)

# Specification 2.6 (pods, `pods insecure`): dashed IPs under an existing namespace.
PODS = cases(
    Case(
        "10-244-9-9.demo.pod.cluster.local.",
        "A",
        answer=["10-244-9-9.demo.pod.cluster.local. 30 IN A 10.244.9.9"],
    ),
    Case("10-244-9-9.demo.pod.cluster.local.", "AAAA"),
    Case(
        "fd00--9.demo.pod.cluster.local.",
        "AAAA",
        answer=["fd00--9.demo.pod.cluster.local. 30 IN AAAA fd00::9"],
    ),
    Case("10-244-9-9.nowhere.pod.cluster.local.", "A", rcode="NXDOMAIN"),
    Case("not-an-ip.demo.pod.cluster.local.", "A", rcode="NXDOMAIN"),
)


@pytest.mark.parametrize("case", APEX + CLUSTER_IP + SRV + HEADLESS + EXTERNAL + REVERSE + PODS)
def test_answer(case: Case) -> None:
    ask(case)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("9.9.9.9.in-addr.arpa.", id="unknown-ipv4"),
        pytest.param("10.in-addr.arpa.", id="partial-reverse"),
        pytest.param(
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
            id="unknown-ipv6",
        ),
    ],
)
def test_unknown_reverse_names_fall_through(name: str) -> None:
    assert answer(SNAPSHOT, CONFIG, name, RType.PTR) is None


def test_reverse_without_fallthrough_is_nxdomain() -> None:
    config = replace(CONFIG, fallthrough=())
    result = answer(SNAPSHOT, config, "9.9.9.9.in-addr.arpa.", RType.PTR)
    assert result is not None and result.rcode.name == "NXDOMAIN"
    assert [r.name for r in result.authority] == ["in-addr.arpa."]


def test_names_outside_the_zones_are_not_ours() -> None:
    assert answer(SNAPSHOT, CONFIG, "example.com.", RType.A) is None


@pytest.mark.parametrize(
    ("first", "second", "shared"),
    [
        pytest.param(
            "r1.web.demo.svc.cluster.local.",
            "r2.db.demo.svc.cluster.local.",
            True,
            id="nxdomain-below-services",
        ),
        pytest.param(
            "nope.svc.cluster.local.",
            "1-2-3-4.nowhere.pod.cluster.local.",
            True,
            id="nxdomain-namespaces-and-pods",
        ),
        pytest.param(
            "web.demo.svc.cluster.local.", "db.demo.svc.cluster.local.", True, id="nodata"
        ),
        pytest.param(
            "nope.svc.cluster.local.",
            "web.demo.svc.cluster.local.",
            False,
            id="nxdomain-is-not-nodata",
        ),
    ],
)
def test_negative_answers_are_one_object_per_zone_and_rcode(
    first: str, second: str, shared: bool
) -> None:
    # Asked for AAAA: the demo Services are IPv4 only, so a found name is NODATA.
    negatives: Negatives = {}
    one = answer(SNAPSHOT, CONFIG, first, RType.AAAA, negatives)
    two = answer(SNAPSHOT, CONFIG, second, RType.AAAA, negatives)
    assert one == answer(SNAPSHOT, CONFIG, first, RType.AAAA)
    assert two == answer(SNAPSHOT, CONFIG, second, RType.AAAA)
    assert (one is two) is shared


def test_before_first_sync_cluster_names_are_servfail() -> None:
    unsynced = ZoneSnapshot(synced=False, serial=0)
    result = answer(unsynced, CONFIG, "web.demo.svc.cluster.local.", RType.A)
    assert result is not None and result.rcode.name == "SERVFAIL"


@pytest.mark.parametrize(
    ("pods", "rcode"),
    [
        pytest.param("disabled", "NXDOMAIN", id="disabled"),
        pytest.param("verified", "NXDOMAIN", id="verified-unknown"),
    ],
)
def test_pod_modes(pods: str, rcode: str) -> None:
    config = replace(CONFIG, pods=pods)
    ask(Case("10-244-9-9.demo.pod.cluster.local.", "A", rcode=rcode), config=config)


def test_ttl_setting_applies_to_records_and_soa_minimum() -> None:
    config = replace(CONFIG, ttl=5)
    result = answer(SNAPSHOT, config, "web.demo.svc.cluster.local.", RType.AAAA)
    assert result is not None
    assert [r.zone_line() for r in result.authority] == [
        "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. "
        "7 7200 1800 86400 5"
    ]


@pytest.mark.parametrize(
    ("name", "scope"),
    [
        pytest.param("web.demo.svc.cluster.local.", ("svc", "demo", "web"), id="service"),
        pytest.param("_http._tcp.web.demo.svc.cluster.local.", ("svc", "demo", "web"), id="srv"),
        pytest.param("db-0.db.demo.svc.cluster.local.", ("svc", "demo", "db"), id="endpoint"),
        pytest.param("10-1-2-3.demo.pod.cluster.local.", ("pods",), id="pod"),
        pytest.param("20.0.96.10.in-addr.arpa.", ("reverse",), id="reverse"),
        pytest.param("cluster.local.", ("zone",), id="apex"),
        pytest.param("demo.svc.cluster.local.", ("zone",), id="namespace"),
    ],
)
def test_answer_scopes_name_what_answers_depend_on(name: str, scope: tuple[str, ...]) -> None:
    assert answer_scope(CONFIG, name) == scope


def test_a_service_change_invalidates_its_scope_the_apex_and_reverse_only() -> None:
    changes = Changes(frozenset({("demo", "web")}), namespaces=False, pods=False)
    # ("zone",) also holds every negative answer: their SOA serial moves with every change.
    expected: frozenset[Hashable] = frozenset({("svc", "demo", "web"), ("zone",), ("reverse",)})
    assert changed_scopes(changes) == expected
    assert changed_scopes(Changes(frozenset(), namespaces=True, pods=False)) is None


def test_endpoint_pod_names_name_endpoints_after_their_pods() -> None:
    store = ObjectStore()
    for obj in load_manifests([str(ROOT / "examples")], pod_names=True):
        store.apply(obj)
    snapshot = build_snapshot(store, None, None, serial=7, synced=True)
    config = replace(CONFIG, endpoint_pod_names=True)
    ask(
        Case(
            "web-6d4cf56db6-abcde.web.demo.svc.cluster.local.",
            "A",
            answer=["web-6d4cf56db6-abcde.web.demo.svc.cluster.local. 30 IN A 10.244.1.10"],
        ),
        snapshot,
        config,
    )
    ask(
        Case(
            "db-0.db.demo.svc.cluster.local.",
            "A",  # a hostname still wins
            answer=["db-0.db.demo.svc.cluster.local. 30 IN A 10.244.2.10"],
        ),
        snapshot,
        config,
    )
    ask(Case("10-244-1-10.web.demo.svc.cluster.local.", "A", rcode="NXDOMAIN"), snapshot, config)


# IPv6 endpoints without hostname whose address ends in `::`: CoreDNS's endpointHostname
# appends a 0, since a label may not end in a hyphen (RFC 1123 section 2.1).
V6_TAIL = """
apiVersion: v1
kind: Namespace
metadata: {name: v6}
---
apiVersion: v1
kind: Service
metadata: {name: tail, namespace: v6}
spec: {clusterIP: None, ipFamilies: [IPv6], ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: tail-1, namespace: v6, labels: {kubernetes.io/service-name: tail}}
addressType: IPv6
endpoints: [{addresses: ["fd00:10::"]}, {addresses: ["fd00:10::7"]}]
ports: [{name: http, port: 80, protocol: TCP}]
"""
TAIL = "tail.v6.svc.cluster.local."


@pytest.mark.parametrize(
    "case",
    cases(
        Case(
            f"fd00-10--0.{TAIL}",
            "AAAA",
            answer=[f"fd00-10--0.{TAIL} 30 IN AAAA fd00:10::"],
        ),
        Case(f"fd00-10--.{TAIL}", "AAAA", rcode="NXDOMAIN"),
        Case(
            f"fd00-10--7.{TAIL}",
            "AAAA",
            answer=[f"fd00-10--7.{TAIL} 30 IN AAAA fd00:10::7"],
        ),
        Case(
            f"_http._tcp.{TAIL}",
            "SRV",
            answer=[
                f"_http._tcp.{TAIL} 30 IN SRV 0 50 80 fd00-10--0.{TAIL}",
                f"_http._tcp.{TAIL} 30 IN SRV 0 50 80 fd00-10--7.{TAIL}",
            ],
            additional=[
                f"fd00-10--0.{TAIL} 30 IN AAAA fd00:10::",
                f"fd00-10--7.{TAIL} 30 IN AAAA fd00:10::7",
            ],
        ),
        Case(
            "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.d.f.ip6.arpa.",
            "PTR",
            answer=[
                "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.d.f.ip6.arpa. "
                f"30 IN PTR fd00-10--0.{TAIL}"
            ],
        ),
    ),
)
def test_ipv6_endpoint_names_never_end_in_a_hyphen(case: Case, tmp_path: Path) -> None:
    (tmp_path / "v6.yaml").write_text(V6_TAIL)
    store = ObjectStore()
    for obj in load_manifests([str(tmp_path)]):
        store.apply(obj)
    ask(case, build_snapshot(store, None, None, serial=7, synced=True))
