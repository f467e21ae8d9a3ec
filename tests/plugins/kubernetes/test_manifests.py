"""Manifest loading: formats that work, and bad input named by file, document and field."""

import json
import logging
import tracemalloc
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml

from bench.generate import write_zone
from clusterdns.dns.records import RType
from clusterdns.errors import ConfigError, ManifestError
from clusterdns.plugins.kubernetes.answer import answer
from clusterdns.plugins.kubernetes.jsonreader import PIECE
from clusterdns.plugins.kubernetes.manifests import parse_manifest_file, parse_manifests
from clusterdns.plugins.kubernetes.objects import (
    ClusterObject,
    EndpointSlice,
    Namespace,
    Service,
    parse_object,
)
from clusterdns.plugins.kubernetes.snapshot import ZoneSnapshot, build_snapshot
from clusterdns.plugins.kubernetes.source import load_manifests
from clusterdns.plugins.kubernetes.store import ObjectStore
from tests.plugins.kubernetes.test_answer import CONFIG as KUBEADM

ROOT = Path(__file__).resolve().parents[3]

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
            "kind: Namespace\nmetadata: {name: a}\n---\nkind: List\nitems: [{kind: Service}]\n",
            "bad.yaml: document 2: items[0].metadata.name: missing",
            id="list-item-of-a-read-kind",
        ),
        pytest.param(
            "kind: List\nitems: {kind: Service}\n",
            "bad.yaml: document 1: items: must be a list, got dict",
            id="list-items-not-a-list",
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
            "kind: List\nitems:\n- just a string\n",
            "bad.yaml: document 1: items[0]: must be a mapping",
            id="list-item-not-a-mapping",
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
    objects = load_manifests([str(ROOT / "examples")])
    assert sum(isinstance(o, Service) for o in objects) == 11


# --- Kinds without DNS data, inferred namespaces, empty folders (manifest mode for new users) --

SOURCE_LOGGER = "clusterdns.plugins.kubernetes.source"


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == SOURCE_LOGGER and r.levelno == level
    ]


def test_kinds_without_dns_data_are_skipped_with_one_summary_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "app.yaml").write_text(
        SERVICE
        + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: demo}\n"
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: b}\n"
        + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\n"
    )
    (tmp_path / "values.yaml").write_text("replicaCount: 2\nimage: {repository: web}\n")
    (tmp_path / "notes.yaml").write_text("- not\n- an object\n")
    (tmp_path / "all.json").write_text(
        '{"kind": "List", "items": [{"kind": "ReplicaSet", "metadata": {"name": "r"}}]}'
    )
    caplog.set_level("INFO", logger=SOURCE_LOGGER)
    objects = load_manifests([str(tmp_path)])
    assert [(type(o).__name__, o.name) for o in objects] == [
        ("Service", "web"),
        ("Namespace", "default"),  # inferred: the ConfigMap and a Deployment live in it
        ("Namespace", "demo"),
    ]
    summaries = [m for m in _messages(caplog, logging.INFO) if "skipped" in m]
    assert summaries == [
        "manifests: skipped 6 objects of kinds without DNS data: "
        "(no kind) 2, ConfigMap 1, Deployment 2, ReplicaSet 1"
    ]


@dataclass(frozen=True)
class NamespaceCase:
    """Manifest text, the namespaces that then exist, and whether one log line names them."""

    text: str
    exist: set[str]
    inferred: str  # the log line's list of inferred namespaces; "" when none is inferred


NAMESPACE_CASES = [
    pytest.param(NamespaceCase(SERVICE, {"demo"}, "demo"), id="service-without-namespace-object"),
    pytest.param(
        NamespaceCase(SERVICE + "---\nkind: Namespace\nmetadata: {name: demo}\n", {"demo"}, ""),
        id="declared",
    ),
    pytest.param(
        NamespaceCase(SERVICE.replace(", namespace: demo", ""), {"default"}, "default"),
        id="no-namespace-field-is-default",
    ),
    pytest.param(
        NamespaceCase(
            SERVICE + "---\nkind: Deployment\nmetadata: {name: x, namespace: jobs}\n",
            {"demo", "jobs"},
            "demo, jobs",
        ),
        id="a-skipped-kind-makes-its-namespace-exist",
    ),
    pytest.param(
        NamespaceCase("replicaCount: 2\n---\n" + SERVICE, {"demo"}, "demo"),
        id="a-values-file-lives-in-no-namespace",
    ),
    pytest.param(
        NamespaceCase(
            "kind: List\nitems:\n"
            + "".join(
                f"- {{kind: Pod, metadata: {{name: p, namespace: n{i:02}}}}}\n" for i in range(12)
            ),
            {f"n{i:02}" for i in range(12)},
            "n00, n01, n02, n03, n04, n05, n06, n07, n08, n09 and 2 more",
        ),
        id="a-long-list-is-shortened",
    ),
]


@pytest.mark.parametrize("case", NAMESPACE_CASES)
def test_namespaces_exist_where_objects_live(
    case: NamespaceCase, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "zone.yaml").write_text(case.text)
    caplog.set_level("INFO", logger=SOURCE_LOGGER)
    snapshot = _snapshot(load_manifests([str(tmp_path)]))
    assert snapshot.namespaces == case.exist
    lines = [m for m in _messages(caplog, logging.INFO) if "Namespace object" in m]
    if case.inferred:
        assert lines == [
            "manifests: namespaces without a Namespace object exist because objects live in"
            f" them: {case.inferred}"
        ]
    else:
        assert lines == []


def test_a_service_in_an_undeclared_namespace_answers(tmp_path: Path) -> None:
    (tmp_path / "svc.yaml").write_text(SERVICE)
    snapshot = _snapshot(load_manifests([str(tmp_path)]))
    result = answer(snapshot, KUBEADM, "web.demo.svc.cluster.local.", int(RType.A))
    assert result is not None and result.rcode.name == "NOERROR"
    assert [r.zone_line() for r in result.answer] == [
        "web.demo.svc.cluster.local. 30 IN A 10.96.0.20"
    ]


@pytest.mark.parametrize(
    ("files", "warning"),
    [
        pytest.param({}, "no .yaml, .yml or .json files in", id="empty-folder"),
        pytest.param(
            {"README.md": "# notes\n"}, "no .yaml, .yml or .json files in", id="no-manifests"
        ),
        pytest.param(
            {"ns.yaml": "kind: Namespace\nmetadata: {name: demo}\n"},
            "no Services in",
            id="no-services",
        ),
        pytest.param(
            {"deploy.yaml": "kind: Deployment\nmetadata: {name: web}\n"},
            "no Services in",
            id="only-other-kinds",
        ),
    ],
)
def test_a_folder_without_services_starts_with_a_warning(
    files: dict[str, str], warning: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    caplog.set_level("INFO", logger=SOURCE_LOGGER)
    load_manifests([str(tmp_path)])
    warnings = _messages(caplog, logging.WARNING)
    assert len(warnings) == 1 and warning in warnings[0] and str(tmp_path) in warnings[0]


def test_a_folder_with_services_starts_without_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger=SOURCE_LOGGER)
    load_manifests([str(ROOT / "examples")])
    assert _messages(caplog, logging.WARNING) == []


# --- Names the API server would reject (RFC 1123 / RFC 1035 as Kubernetes applies them) -------

LONG = "a" * 64


@dataclass(frozen=True)
class NameCase:
    """A manifest with one bad name, the warning's field, and the questions it must not break."""

    text: str
    field: str
    questions: tuple[tuple[str, str], ...]


def _slice(hostnames: str) -> str:
    return (
        "kind: EndpointSlice\nmetadata: {name: db-1, namespace: demo, labels:"
        " {kubernetes.io/service-name: db}}\naddressType: IPv4\nports: [{name: sql, port: 5432}]\n"
        f"endpoints: {hostnames}\n"
    )


DB = "kind: Service\nmetadata: {name: db, namespace: demo}\nspec: {clusterIP: None}\n---\n"
DB_QUESTIONS = (
    ("db.demo.svc.cluster.local.", "A"),
    ("_sql._tcp.db.demo.svc.cluster.local.", "SRV"),
    ("9.9.244.10.in-addr.arpa.", "PTR"),
)
NAME_CASES = [
    pytest.param(
        NameCase(
            SERVICE.replace("namespace: demo", f"namespace: {LONG}"),
            "metadata.namespace",
            (("10.96.0.20", "PTR"),),
        ),
        id="namespace-64-characters",
    ),
    pytest.param(
        NameCase(
            SERVICE.replace("name: web", "name: wéb"), "metadata.name", (("10.96.0.20", "PTR"),)
        ),
        id="service-non-ascii",
    ),
    pytest.param(
        NameCase(
            SERVICE.replace("name: web", "name: 1web"), "metadata.name", (("10.96.0.20", "PTR"),)
        ),
        id="service-starting-with-a-digit",
    ),
    pytest.param(
        NameCase(
            SERVICE.replace("name: web", f"name: {LONG}"), "metadata.name", (("10.96.0.20", "PTR"),)
        ),
        id="service-64-characters",
    ),
    pytest.param(
        NameCase(
            SERVICE.replace("name: http", f"name: {LONG}"),
            "spec.ports[0].name",
            (("web.demo.svc.cluster.local.", "SRV"),),
        ),
        id="port-name-64-characters",
    ),
    pytest.param(
        NameCase(
            "kind: Service\nmetadata: {name: ext, namespace: demo}\n"
            "spec: {type: ExternalName, externalName: 'bad..example.com'}\n",
            "spec.externalName",
            (("ext.demo.svc.cluster.local.", "A"),),
        ),
        id="external-name-empty-label",
    ),
    pytest.param(
        NameCase(
            DB + _slice(f"[{{addresses: [10.244.9.9], hostname: {'h' * 300}}}]"),
            "endpoints[0].hostname",
            DB_QUESTIONS,
        ),
        id="hostname-300-characters",
    ),
    pytest.param(
        NameCase(
            DB + _slice("[{addresses: [10.244.9.8]}, {addresses: [10.244.9.9], hostname: a.b}]"),
            "endpoints[1].hostname",
            DB_QUESTIONS,
        ),
        id="hostname-with-a-dot",
    ),
    pytest.param(
        NameCase(
            DB + "kind: Endpoints\nmetadata: {name: db, namespace: demo}\n"
            "subsets: [{addresses: [{ip: 10.244.9.9, hostname: Ünï}]}]\n",
            "subsets[0].addresses[0].hostname",
            DB_QUESTIONS,
        ),
        id="legacy-endpoints-hostname-non-ascii",
    ),
    pytest.param(
        NameCase(
            DB + _slice(f"[{{addresses: [10.244.9.9], hostname: {'1' * 70}}}]"),
            "metadata",  # a number, not a string: the field is not named
            DB_QUESTIONS,
        ),
        id="hostname-a-70-digit-number",
    ),
    pytest.param(
        NameCase(
            "kind: List\nitems:\n- {kind: Namespace, metadata: {name: demo}}\n"
            f"- {{kind: Namespace, metadata: {{name: {LONG}}}}}\n",
            "items[1].metadata.name",
            (),
        ),
        id="list-item-namespace",
    ),
]


@pytest.mark.parametrize("case", NAME_CASES)
def test_names_the_api_would_reject_are_skipped_with_one_warning(
    case: NameCase, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "bad.yaml").write_text(case.text)
    caplog.set_level("INFO", logger=SOURCE_LOGGER)
    objects = load_manifests([str(tmp_path)])  # a warning, not a start-up error
    (warning,) = [m for m in _messages(caplog, logging.WARNING) if "skipped" in m]
    assert warning.startswith(f"{tmp_path / 'bad.yaml'}: document ")
    assert f": {case.field}: " in warning and warning.endswith("; object skipped")
    snapshot = _snapshot(objects)
    for name, qtype in case.questions:
        if qtype == "PTR" and not name.endswith("."):
            name = ".".join(reversed(name.split("."))) + ".in-addr.arpa."
        result = answer(snapshot, KUBEADM, name, int(RType[qtype]))
        # Skipped, so unknown: NXDOMAIN, NODATA or passed on; never SERVFAIL.
        assert result is None or result.rcode.name in ("NOERROR", "NXDOMAIN"), name
        if result is not None:
            for record in (*result.answer, *result.additional):
                assert all(len(label) <= 63 for label in record.zone_line().split()[0].split("."))


@pytest.mark.parametrize(
    ("pod", "label"),
    [
        pytest.param("web-0", "web-0", id="label"),
        pytest.param("Web-0", "web-0", id="upper-case-folded"),
        pytest.param("web.0", "10-244-9-9", id="dotted-falls-back-to-the-dashed-ip"),
        pytest.param("w" * 64, "10-244-9-9", id="too-long-falls-back-to-the-dashed-ip"),
    ],
)
def test_endpoint_pod_names_use_only_pod_names_that_are_one_label(pod: str, label: str) -> None:
    text = DB + _slice(f"[{{addresses: [10.244.9.9], targetRef: {{kind: Pod, name: {pod}}}}}]")
    parsed = parse_manifests(text, "pods.yaml", pod_names=True)
    assert parsed.errors == () and parsed.rejected == ()
    config = replace(KUBEADM, endpoint_pod_names=True)
    snapshot = _snapshot([*parsed.objects, Namespace("demo")])
    result = answer(snapshot, config, "db.demo.svc.cluster.local.", int(RType.SRV))
    assert result is not None and result.rcode.name == "NOERROR"
    assert [r.zone_line().split()[-1] for r in result.answer] == [
        f"{label}.db.demo.svc.cluster.local."
    ]


def test_names_follow_the_api_rules_whatever_their_letter_case() -> None:
    text = SERVICE.replace("name: web", "name: Web").replace("demo", "Demo")
    parsed = parse_manifests(text, "ok.yaml")
    assert parsed.rejected == () and parsed.errors == ()
    assert [(o.namespace, o.name) for o in parsed.objects if isinstance(o, Service)] == [
        ("demo", "web")
    ]


# --- JSON read one List item at a time ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '{"apiVersion": "v1", "items": [\n {"kind": "Namespace", "metadata": {"name": "a"}},\n'
            ' {"kind": "Namespace", "metadata": {"name": "b"}}\n], "kind": "List",'
            ' "metadata": {"resourceVersion": ""}}\n',
            "objects: a, b",
            id="kubectl-order-items-before-kind",
        ),
        pytest.param(
            '{"kind": "Namespace", "metadata": {"name": "a"}}', "objects: a", id="one-object"
        ),
        pytest.param('{"kind": "List", "items": []}', "objects: ", id="empty-list"),
        pytest.param(
            '{"kind": "List", "items": [\n{"kind": "Namespace", "metadata": {"name": "a"}},\n'
            '{"kind": "Namespace", "metadata": {"name": }}\n]}',
            "error: j.json: document 1: line 3: Expecting value",
            id="malformed-item-names-its-line",
        ),
        pytest.param(
            '{"kind": "List", "items": []} {"kind": "List"}',
            "error: j.json: document 1: line 1: Extra data",
            id="trailing-data",
        ),
        pytest.param(
            '{"kind": "List", "items": [{"kind": "Namespace", "metadata": {"name": "a"}} {}]}',
            "error: j.json: document 1: line 1: Expecting ',' delimiter",
            id="missing-comma",
        ),
        pytest.param(
            '{"kind": "Service", "items": []}',
            "error: j.json: document 1: kind: a document with an items list must be a List,"
            " got 'Service'",
            id="items-in-a-non-list",
        ),
        pytest.param('{"kind": "List"}', "objects: ", id="list-without-items-is-empty"),
        pytest.param(
            '{"kind": "List", "items": {"a": 1}}',
            "error: j.json: document 1: items: must be a list, got dict",
            id="items-not-a-list",
        ),
        pytest.param(
            '{"kind": "List", "items": [3]}',
            "error: j.json: document 1: items[0]: must be a mapping",
            id="item-not-a-mapping",
        ),
        pytest.param(
            '{"kind": "List", "items": [',
            "error: j.json: document 1: line 1: Expecting value",
            id="truncated",
        ),
        pytest.param('[{"kind": "Namespace"}]', "objects: ", id="bare-array-is-not-an-object"),
        pytest.param(
            '\n\n[{"kind": "Namespace"},\n  oops]',
            "error: j.json: document 1: line 4: Expecting value",
            id="bad-bare-array-names-its-line",
        ),
        pytest.param("  \n", "error: j.json: document 1: line 2: Expecting value", id="blank"),
        pytest.param(
            '{"kind": "List", "count": 1234567890, "items": [{"kind": "Namespace",'
            ' "metadata": {"name": "a", "uid": "x\\"\\u00e9"}}], "more": 3.25e-2}\n\n',
            "objects: a",
            id="numbers-and-escapes-in-any-piece",
        ),
        pytest.param(
            '{"kind": "List", "items": [\n\n\n{"kind": "Namespace", "metadata": {"name": "a"}}'
            ',\n\n{"kind": "Namespace", "metadata": {"name": "b"}}\n\n\n]}\n\n\n  x',
            "error: j.json: document 1: line 12: Extra data",
            id="extra-data-after-many-lines",
        ),
    ],
)
@pytest.mark.parametrize("piece", [None, 1, 7, PIECE], ids=["text", "file-1", "file-7", "file"])
def test_json_documents_streamed(
    text: str, expected: str, piece: int | None, tmp_path: Path
) -> None:
    """Parsed from the text, or from the file read in pieces of every size: the same result."""
    if piece is None:
        parsed = parse_manifests(text, "j.json")
    else:
        (tmp_path / "j.json").write_text(text)
        parsed = parse_manifest_file(tmp_path / "j.json", piece=piece)
        parsed = replace(parsed, errors=tuple(replace_source(e, "j.json") for e in parsed.errors))
    if expected.startswith("error: "):
        assert len(parsed.errors) == 1
        assert str(parsed.errors[0]).startswith(expected.removeprefix("error: "))
    else:
        assert parsed.errors == ()
        names = ", ".join(o.name for o in parsed.objects)
        assert f"objects: {names}" == expected


def test_streamed_json_reads_what_a_whole_parse_reads(tmp_path: Path) -> None:
    zone = write_zone(tmp_path / "zone.json", services=300, namespaces=5).path
    text = zone.read_text()
    streamed = parse_manifests(text, "zone.json")
    whole = [parse_object(item) for item in json.loads(text)["items"]]
    assert streamed.errors == () and streamed.rejected == ()
    assert list(streamed.objects) == [o for o in whole if o is not None]


def replace_source(error: ManifestError, source: str) -> ManifestError:
    """The same error, naming `source` instead of the file's full path."""
    return ManifestError(source, error.document, error.field, error.problem)


def test_a_big_json_file_is_never_in_memory_whole(tmp_path: Path) -> None:
    """Read in pieces, the text costs a few pieces (1.3 MB), not the file (8 MB here)."""
    config_map = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v" * 4000}}
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"kind": "List", "items": [config_map] * 2000}))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        whole = parse_manifests(path.read_text(), str(path))
        read_whole = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        streamed = parse_manifest_file(path)
        read_in_pieces = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert streamed == whole and dict(streamed.skipped) == {"ConfigMap": 2000}
    assert read_whole > size
    assert read_in_pieces < size / 4, (read_in_pieces, size)


def test_a_json_file_that_is_not_utf8_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_bytes(b'{"kind": "List", "items": ["\xff"]}')
    with pytest.raises(ConfigError, match=r"bad.json: cannot read: 'utf-8' codec can't decode"):
        load_manifests([str(tmp_path)])


def test_a_big_json_list_is_never_one_tree_of_dicts(tmp_path: Path) -> None:
    """The parse's peak allocation stays near the objects it keeps, far below a whole tree."""
    zone = write_zone(tmp_path / "zone.json", services=3000, namespaces=15).path
    text = zone.read_text()
    tracemalloc.start()
    try:
        json.loads(text)
        whole_tree = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        parse_manifests(text, "zone.json")
        streamed = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert streamed < whole_tree / 2, (streamed, whole_tree)


# --- YAML read one List item at a time -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "apiVersion: v1\nitems:\n- {kind: Namespace, metadata: {name: a}}\n"
            "- kind: Namespace\n  metadata:\n    name: b\nkind: List\nmetadata: {}\n",
            "objects: a, b",
            id="kubectl-order-items-before-kind",
        ),
        pytest.param(
            "kind: Namespace\nmetadata: {name: a}\n---\n---\nkind: List\nitems: []\n---\n"
            "kind: List\nitems:\n- {kind: Namespace, metadata: {name: b}}\n",
            "objects: a, b",
            id="documents-empty-ones-and-lists",
        ),
        pytest.param(
            "kind: List\nitems:\n- &ns {kind: Namespace, metadata: {name: a}}\n- *ns\n",
            "objects: a, a",
            id="anchor-and-alias",
        ),
        pytest.param(
            "kind: List\nitems:\n- kind: Namespace\n  metadata: {name: a}\n- kind: [\n",
            "error: y.yaml: document 1: line 6: did not find expected node content",
            id="syntax-error-names-its-line",
        ),
        pytest.param(
            "kind: Namespace\nmetadata: {name: a}\n---\nkind: Service\nitems: []\n",
            "error: y.yaml: document 2: kind: a document with an items list must be a List,"
            " got 'Service'",
            id="items-in-a-non-list",
        ),
        pytest.param(
            "kind: List\nitems: nope\n",
            "error: y.yaml: document 1: items: must be a list, got str",
            id="items-not-a-list",
        ),
    ],
)
def test_yaml_documents_streamed(text: str, expected: str) -> None:
    parsed = parse_manifests(text, "y.yaml")
    if expected.startswith("error: "):
        assert len(parsed.errors) == 1
        assert str(parsed.errors[0]).startswith(expected.removeprefix("error: "))
    else:
        assert parsed.errors == ()
        assert "objects: " + ", ".join(o.name for o in parsed.objects) == expected


def test_streamed_yaml_reads_what_a_whole_parse_reads(tmp_path: Path) -> None:
    zone = write_zone(tmp_path / "zone.json", services=300, namespaces=5).path
    whole = json.loads(zone.read_text())
    text = yaml.dump(whole, Dumper=yaml.CSafeDumper)
    streamed = parse_manifests(text, "zone.yaml")
    expected = [parse_object(item) for item in whole["items"]]
    assert streamed.errors == () and streamed.rejected == ()
    assert list(streamed.objects) == [o for o in expected if o is not None]


def test_a_big_yaml_list_is_never_one_graph_of_nodes(tmp_path: Path) -> None:
    """PyYAML's own load of a List holds every node at once; the streamed parse holds one."""
    zone = write_zone(tmp_path / "zone.json", services=200, namespaces=5).path
    text = yaml.dump(json.loads(zone.read_text()), Dumper=yaml.CSafeDumper)
    tracemalloc.start()
    try:
        yaml.load(text, Loader=yaml.CSafeLoader)
        whole_graph = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        parse_manifests(text, "zone.yaml")
        streamed = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert streamed < whole_graph / 4, (streamed, whole_graph)


def _snapshot(objects: list[ClusterObject]) -> ZoneSnapshot:
    store = ObjectStore()
    for obj in objects:
        store.apply(obj)
    return build_snapshot(store, None, None, serial=1, synced=True)
