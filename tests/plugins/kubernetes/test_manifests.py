"""Manifest loading: formats that work, and bad input named by file, document and field."""

from pathlib import Path

import pytest

from clusterdns.errors import ConfigError
from clusterdns.plugins.kubernetes.manifests import parse_manifests
from clusterdns.plugins.kubernetes.objects import EndpointSlice, Namespace, Service
from clusterdns.plugins.kubernetes.source import load_manifests

SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec: {clusterIP: 10.96.0.20, ports: [{name: http, port: 80}]}
"""


def test_multi_document_yaml_and_kind_list() -> None:
    text = (
        SERVICE
        + "---\napiVersion: v1\nkind: List\nitems:\n- {kind: Namespace, metadata: {name: demo}}\n"
    )
    parsed = parse_manifests(text, "dump.yaml")
    assert parsed.errors == ()
    assert [type(o) for o in parsed.objects] == [Service, Namespace]


def test_json_list_as_kubectl_prints_it() -> None:
    text = '{"kind": "List", "items": [{"kind": "Namespace", "metadata": {"name": "demo"}}]}'
    parsed = parse_manifests(text, "dump.json")
    assert parsed.objects == (Namespace("demo"),)


def test_legacy_endpoints_become_a_slice_of_their_service() -> None:
    text = (
        "kind: Endpoints\nmetadata: {name: db, namespace: demo}\n"
        "subsets: [{addresses: [{ip: 192.168.1.5}], notReadyAddresses: [{ip: 192.168.1.6}],"
        " ports: [{name: sql, port: 3306}]}]\n"
    )
    (slice_,) = parse_manifests(text, "ep.yaml").objects
    assert isinstance(slice_, EndpointSlice) and slice_.service == "db"
    assert [(e.address, e.ready) for e in slice_.members()] == [
        ("192.168.1.5", True),
        ("192.168.1.6", False),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            SERVICE.replace("10.96.0.20", "10.96.0.300"),
            "bad.yaml: document 1: spec.clusterIP: Service web: malformed IP address '10.96.0.300'",
            id="malformed-ip",
        ),
        pytest.param(
            SERVICE.replace("clusterIP: 10.96.0.20", "clusterIPs: [10.96.0.20, 'fd00::zz']"),
            "bad.yaml: document 1: spec.clusterIPs[1]: Service web: "
            "malformed IP address 'fd00::zz'",
            id="malformed-ip-in-list",
        ),
        pytest.param(
            "kind: Namespace\nmetadata: {name: a}\n---\nkind: ConfigMap\nmetadata: {name: x}\n",
            "bad.yaml: document 2: kind: ConfigMap x: unsupported kind 'ConfigMap'",
            id="unknown-kind",
        ),
        pytest.param(
            "kind: List\nitems:\n- {kind: Namespace, metadata: {name: a}}\n"
            "- {kind: Service, metadata: {}}\n",
            "bad.yaml: document 1: items[1].metadata.name: missing",
            id="list-item-without-name",
        ),
        pytest.param(
            "kind: Service\nmetadata: {name: web\n",
            "bad.yaml: document 1: line 3:",
            id="yaml-syntax",
        ),
        pytest.param(
            "kind: EndpointSlice\nmetadata: {name: s, labels: {kubernetes.io/service-name: web}}\n"
            "addressType: Banana\n",
            "bad.yaml: document 1: addressType: EndpointSlice s: unknown address type 'Banana'",
            id="address-type",
        ),
        pytest.param(
            SERVICE.replace("port: 80", "port: 99999"),
            "bad.yaml: document 1: spec.ports[0].port: Service web: must be 0..65535, got 99999",
            id="port-range",
        ),
        pytest.param(
            "- just\n- a list\n",
            "bad.yaml: document 1: document: must be a mapping",
            id="not-a-mapping",
        ),
    ],
)
def test_bad_documents_are_named(text: str, message: str) -> None:
    parsed = parse_manifests(text, "bad.yaml")
    assert len(parsed.errors) == 1
    assert str(parsed.errors[0]).startswith(message)


def test_good_documents_beside_a_bad_one_still_load_but_loading_fails(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        SERVICE + "---\nkind: Service\nmetadata: {name: x}\nspec: {type: Weird}\n"
    )
    parsed = parse_manifests((tmp_path / "a.yaml").read_text(), "a.yaml")
    assert len(parsed.objects) == 1 and len(parsed.errors) == 1
    with pytest.raises(ConfigError, match=r"a.yaml: document 2: spec.type"):
        load_manifests([str(tmp_path)])


def test_missing_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file or folder"):
        load_manifests([str(tmp_path / "nope")])


def test_the_examples_load_cleanly() -> None:
    objects = load_manifests([str(Path(__file__).resolve().parents[3] / "examples")])
    assert sum(isinstance(o, Service) for o in objects) == 11
