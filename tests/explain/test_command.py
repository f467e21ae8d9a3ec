"""The `explain` and `zone` commands end to end: flags, exit codes, JSON, the live API once."""

import json
from pathlib import Path

import pytest

from clusterdns.cli import main
from tests.explain.test_reasons import MANIFESTS
from tests.fakes.kube_api import FakeKubeAPI, endpoint_slice, namespace, service
from tests.fakes.upstream import FakeUpstream

EXAMPLES = MANIFESTS[0]


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        pytest.param(
            ["explain", "--manifests", EXAMPLES, "bad..name"], 2, "not a valid DNS name", id="name"
        ),
        pytest.param(
            ["explain", "--manifests", EXAMPLES, "web.demo.svc.cluster.local", "BOGUS"],
            2,
            "unknown record type 'BOGUS'",
            id="type",
        ),
        pytest.param(["explain", "--nope", "x"], 2, "unrecognized arguments: --nope", id="flag"),
        pytest.param(
            ["explain", "--manifests", "no/such/dir", "web.demo.svc.cluster.local"],
            1,
            "no/such/dir: no such file or folder",
            id="source",
        ),
        pytest.param(["zone", "--manifests", EXAMPLES, "--zone", "x.y"], 2, "x.y.", id="zone"),
    ],
)
def test_bad_input_is_one_line_and_an_exit_status(
    argv: list[str], status: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        got = main(argv)
    except SystemExit as exc:  # argparse's own usage errors exit from inside parse_args
        got = int(str(exc.code))
    assert got == status
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_unparsable_manifests_are_a_source_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.yaml").write_text("kind: Service\nspec: {clusterIP: [\n")
    assert main(["zone", "--manifests", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "bad.yaml" in err and len(err.strip().splitlines()) == 1


def test_explain_text_shows_the_answer_and_the_typo_fix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--manifests", EXAMPLES, "wbe.demo.svc.cluster.local"]) == 0
    out = capsys.readouterr().out
    assert ";; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, answered by: kubernetes" in out
    assert ';; - no Service "wbe" in namespace "demo"' in out
    assert ";;   web.demo.svc.cluster.local." in out


def test_zone_is_soa_first_then_sorted(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zone", "--manifests", EXAMPLES, "--zone", "cluster.local"]) == 0
    lines = capsys.readouterr().out.splitlines()
    records = [line for line in lines if not line.startswith(";")]
    assert records[0].startswith("cluster.local.\t30\tIN\tSOA\tns.dns.cluster.local. ")
    assert "web.demo.svc.cluster.local.\t30\tIN\tA\t10.96.0.20" in records
    assert "docs.demo.svc.cluster.local.\t30\tIN\tCNAME\tdocs.example.com." in records
    assert any("pods insecure" in line for line in lines if line.startswith(";"))
    names = [tuple(reversed(r.split("\t")[0].rstrip(".").split("."))) for r in records[1:]]
    assert names == sorted(names)


@pytest.fixture
def api() -> FakeKubeAPI:
    fake = FakeKubeAPI()
    fake.add("namespaces", namespace("default"))
    fake.add("services", service("hl", cluster_ip="None"))
    piece = endpoint_slice("hl-1", "hl", ["10.244.1.7", "10.244.1.8"])
    piece["endpoints"].append({"addresses": ["10.244.1.9"], "conditions": {"ready": False}})
    fake.add("endpointslices", piece)
    return fake


def test_explain_through_a_kubeconfig_lists_once_and_never_watches(
    api: FakeKubeAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        argv = ["explain", "--kubeconfig", kubeconfig, "--json", "hl.default.svc.cluster.local"]
        assert main(argv) == 0
        document = json.loads(capsys.readouterr().out)
        assert document["rcode"] == "NOERROR"
        assert sorted(document["answer"]) == [
            "hl.default.svc.cluster.local. 30 IN A 10.244.1.7",
            "hl.default.svc.cluster.local. 30 IN A 10.244.1.8",
        ]
        assert {
            "code": "slice",
            "text": (
                "EndpointSlice default/hl-1: 2 ready endpoints used, 1 not ready left out: "
                "10.244.1.9 (ready=false)"
            ),
        } in document["why"]
        assert {r.verb for r in api.requests} == {"list"}
        assert {r.resource for r in api.requests} == {"services", "namespaces", "endpointslices"}
    finally:
        api.close()


def test_a_forbidden_list_is_a_source_error_naming_the_resource(
    api: FakeKubeAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        api.fail_next(403, count=None, resource="endpointslices")
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        assert main(["explain", "--kubeconfig", kubeconfig, "hl.default.svc.cluster.local"]) == 1
        err = capsys.readouterr().err
        assert "list endpointslices: 403 Forbidden" in err
    finally:
        api.close()


def test_send_asks_the_upstream_and_shows_its_reply(
    upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["explain", "--manifests", EXAMPLES, "--upstream", upstream.address]
    assert main([*argv, "example.com"]) == 0
    assert "not sent; add --send to ask it" in capsys.readouterr().out
    assert upstream.seen() == []
    assert main([*argv, "--send", "example.com"]) == 0
    out = capsys.readouterr().out
    assert "status: NOERROR, answered by: forward (sent)" in out
    assert "example.com.\t30\tIN\tA\t192.0.2.1" in out
    assert [s.name for s in upstream.seen()] == ["example.com."]


def test_conf_takes_the_kubernetes_stanza_of_a_corefile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corefile = tmp_path / "Corefile"
    corefile.write_text(
        ".:53 {\n    kubernetes cluster.local {\n"
        f"        manifests {EXAMPLES}\n        ttl 5\n        namespaces demo\n    }}\n}}\n"
    )
    argv = ["explain", "-conf", str(corefile), "--json", "web.demo.svc.cluster.local"]
    assert main(argv) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["answer"] == ["web.demo.svc.cluster.local. 5 IN A 10.96.0.20"]
    assert main(["explain", "-conf", str(corefile), "kube-dns.kube-system.svc.cluster.local"]) == 0
    assert "the kubernetes plugin serves only namespaces demo" in capsys.readouterr().out
    assert main(["explain", "-conf", str(corefile), "--manifests", EXAMPLES, "x"]) == 2
    assert "-conf takes the source from the Corefile" in capsys.readouterr().err
