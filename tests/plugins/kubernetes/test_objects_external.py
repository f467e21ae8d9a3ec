"""Service external addresses (for k8s_external): externalIPs, then load-balancer ingress."""

from typing import Any

import pytest

from clusterdns.errors import ObjectError
from clusterdns.plugins.kubernetes.objects import parse_service
from tests.fakes.kube_api import service


def _with(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    raw = service("shop", cluster_ip="10.96.0.40", **spec)
    return {**raw, "status": status} if status is not None else raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(_with(), (), id="none"),
        pytest.param(_with(externalIPs=["192.0.2.10"]), ("192.0.2.10",), id="external-ip"),
        pytest.param(
            _with(
                {
                    "loadBalancer": {
                        "ingress": [{"ip": "203.0.113.7"}, {"hostname": "LB.Example.com"}]
                    }
                },
                externalIPs=["2001:db8::0:1"],
            ),
            ("2001:db8::1", "203.0.113.7", "lb.example.com."),
            id="external-then-ingress-ip-and-hostname",
        ),
        pytest.param(_with({"loadBalancer": {}}), (), id="load-balancer-pending"),
        pytest.param(
            _with({"loadBalancer": {"ingress": [{"ip": "203.0.113.7", "hostname": "x.example"}]}}),
            ("203.0.113.7",),
            id="ip-wins-over-hostname",
        ),
    ],
)
def test_external_addresses(raw: dict[str, Any], expected: tuple[str, ...]) -> None:
    assert parse_service(raw).external == expected


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param(
            _with(externalIPs=["192.0.2.300"]), "spec.externalIPs[0]", id="bad-external-ip"
        ),
        pytest.param(
            _with({"loadBalancer": {"ingress": [{"ip": "nope"}]}}),
            "status.loadBalancer.ingress[0].ip",
            id="bad-ingress-ip",
        ),
        pytest.param(
            _with({"loadBalancer": {"ingress": ["203.0.113.7"]}}),
            "status.loadBalancer.ingress[0]",
            id="ingress-not-a-mapping",
        ),
        pytest.param(_with(externalIPs="192.0.2.10"), "spec.externalIPs", id="not-a-list"),
        pytest.param(
            _with({"loadBalancer": {"ingress": [{"hostname": "a b.example"}]}}),
            "status.loadBalancer.ingress[0].hostname",
            id="bad-hostname",
        ),
    ],
)
def test_bad_external_addresses_name_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(ObjectError) as caught:
        parse_service(raw)
    assert caught.value.field == field
