"""`zone`: what the zone files hold, from the answer tables' manifests."""

import pytest

from clusterdns.dns.records import RType
from clusterdns.explain.zonefile import zone_file, zone_records
from clusterdns.plugins.kubernetes.answer import answer
from clusterdns.plugins.kubernetes.handler import KubernetesPlugin
from tests.explain.test_reasons import TARGET


def _plugin() -> KubernetesPlugin:
    assert TARGET.kubernetes is not None
    return TARGET.kubernetes


SNAPSHOT = _plugin().holder.current
CONFIG = _plugin().config


def lines(zone: str) -> list[str]:
    return [r.zone_line() for r in zone_records(SNAPSHOT, CONFIG, zone)]


@pytest.mark.parametrize(
    ("zone", "line"),
    [
        pytest.param("cluster.local.", "web.demo.svc.cluster.local. 30 IN A 10.96.0.20", id="a"),
        pytest.param(
            "cluster.local.",
            "_http._tcp.web.demo.svc.cluster.local. 30 IN SRV 0 100 80 web.demo.svc.cluster.local.",
            id="srv",
        ),
        pytest.param(
            "cluster.local.", "db-1.db.demo.svc.cluster.local. 30 IN A 10.244.2.11", id="endpoint"
        ),
        pytest.param(
            "cluster.local.",
            "docs.demo.svc.cluster.local. 30 IN CNAME docs.example.com.",
            id="externalname",
        ),
        pytest.param("cluster.local.", "six.edge.svc.cluster.local. 30 IN AAAA fd00::6", id="aaaa"),
        pytest.param(
            "in-addr.arpa.",
            "20.0.96.10.in-addr.arpa. 30 IN PTR web.demo.svc.cluster.local.",
            id="ptr",
        ),
        pytest.param(
            "ip6.arpa.",
            "0.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa. "
            "30 IN PTR dual.demo.svc.cluster.local.",
            id="ptr6",
        ),
    ],
)
def test_zone_holds(zone: str, line: str) -> None:
    assert line in lines(zone)


@pytest.mark.parametrize(
    "needle",
    [
        pytest.param("notready.edge.svc.cluster.local.", id="no-ready-endpoint"),
        pytest.param("db-3.db.demo.svc.cluster.local.", id="not-ready-endpoint"),
        pytest.param("noports.edge.svc.cluster.local. 30 IN SRV", id="no-ports-no-srv"),
        pytest.param(".pod.cluster.local.", id="pods-not-enumerated"),
    ],
)
def test_zone_leaves_out(needle: str) -> None:
    assert not any(needle in line for line in lines("cluster.local."))


@pytest.mark.parametrize("zone", CONFIG.zones)
def test_every_zone_starts_with_its_soa_and_every_record_is_answered(zone: str) -> None:
    records = zone_records(SNAPSHOT, CONFIG, zone)
    assert records[0].rtype == RType.SOA and records[0].name == zone
    assert all(r.rtype != RType.SOA for r in records[1:])
    for record in records:
        result = answer(SNAPSHOT, CONFIG, record.name, record.rtype)
        assert result is not None and record in result.answer


def test_the_file_describes_pods_and_its_source() -> None:
    text = zone_file(SNAPSHOT, CONFIG, "cluster.local.", TARGET.source)
    comments = [line for line in text.splitlines() if line.startswith(";")]
    assert comments[1] == f"; source: {TARGET.source}"
    assert any("pods insecure" in line for line in comments)
    assert text.splitlines()[len(comments)].split("\t")[3] == "SOA"
