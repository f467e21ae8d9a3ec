"""scripts/kind-swap against fake docker, kind and kubectl: the commands it runs, in order.

The fakes are tiny bash scripts put first on PATH. Each logs its argv as one line and answers
by the first rule whose text occurs in that line (exit status, then stdout); no rule: exit 0.
"""

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "kind-swap"
CORE = "registry.k8s.io/coredns/coredns:v1.11.3"
K = "kubectl --context kind-kind"
KS = f"{K} -n kube-system"
IMAGE_PATH = 'jsonpath={.spec.template.spec.containers[?(@.name=="coredns")].image}'
NOTE_PATH = "jsonpath={.metadata.annotations.clusterdns\\.dev/original-image}"
NSLOOKUP_OK = (
    "Server:\t\t10.96.0.10\\nAddress:\t10.96.0.10:53\\n\\n"
    "Name:\tkubernetes.default.svc.cluster.local\\nAddress: 10.96.0.1\\n"
)

STUB = r"""#!/usr/bin/env bash
line="$(basename "$0") $*"
printf '%s\n' "$line" >>"$STUB_LOG"
while IFS=$'\t' read -r pattern code out; do
  if [[ "$line" == *"$pattern"* ]]; then
    if [ -n "$out" ]; then printf '%b\n' "$out"; fi
    exit "$code"
  fi
done <"$STUB_RULES"
exit 0
"""


@dataclass
class Run:
    status: int
    calls: list[str]
    stderr: str


def run(tmp_path: Path, rules: list[tuple[str, int, str]], *args: str) -> Run:
    """Run kind-swap with fakes that answer by `rules` (substring, exit status, stdout)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("docker", "kind", "kubectl"):
        stub = bin_dir / name
        stub.write_text(STUB)
        stub.chmod(0o755)
    log = tmp_path / "calls.log"
    log.write_text("")
    rule_file = tmp_path / "rules.tsv"
    rule_file.write_text("".join(f"{p}\t{c}\t{o}\n" for p, c, o in rules))
    env = dict(os.environ)
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env['PATH']}",
        STUB_LOG=str(log),
        STUB_RULES=str(rule_file),
    )
    result = subprocess.run(
        ["bash", str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return Run(result.returncode, log.read_text().splitlines(), result.stderr)


# Two kind clusters, their kubectl contexts, and a daemon that answers.
PREFLIGHT_OK = [
    ("kind get clusters", 0, "dev\\nkind"),
    ("config get-contexts", 0, "kind-dev\\nkind-kind\\nprod"),
]


def cluster(
    *extra: tuple[str, int, str], nslookup: str = NSLOOKUP_OK
) -> list[tuple[str, int, str]]:
    """Rules for a kind cluster running CoreDNS; `extra` rules win."""
    return [
        *extra,
        *PREFLIGHT_OK,
        (IMAGE_PATH, 0, CORE),
        (NOTE_PATH, 0, ""),
        ("get svc kubernetes", 0, "10.96.0.1"),
        ("run clusterdns-check", 0, nslookup),
    ]


def preflight_calls(name: str = "kind") -> list[str]:
    return [
        "docker info",
        "kind get clusters",
        "kubectl config get-contexts -o name",
        f"kubectl --context kind-{name} -n kube-system get deploy coredns -o name",
    ]


def swap_calls(image: str = "clusterdns:dev", name: str = "kind") -> list[str]:
    k = f"kubectl --context kind-{name}"
    ks = f"{k} -n kube-system"
    return [
        *preflight_calls(name),
        f"docker build -t {image} {ROOT}",
        f"kind load docker-image {image} --name {name}",
        f"{ks} get deploy coredns -o {IMAGE_PATH}",
        f"{ks} get deploy coredns -o {NOTE_PATH}",
        f"{ks} annotate deploy/coredns clusterdns.dev/original-image={CORE}",
        f"{ks} set image deploy/coredns coredns={image}",
        f"{ks} rollout status deploy/coredns --timeout=120s",
        f"{k} -n default get svc kubernetes -o jsonpath={{.spec.clusterIP}}",
        f"{k} delete pod clusterdns-check --ignore-not-found",
        f"{k} run clusterdns-check --rm -i --restart=Never --image=busybox:1.36"
        " --pod-running-timeout=60s -- nslookup kubernetes.default.svc.cluster.local",
    ]


ROLLBACK = [
    f"{KS} set image deploy/coredns coredns={CORE}",
    f"{KS} rollout status deploy/coredns --timeout=120s",
]
CLEANUP = f"{K} delete pod clusterdns-check --ignore-not-found --wait=false"


def test_the_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True, timeout=10)
    assert os.access(SCRIPT, os.X_OK)


def test_a_good_swap_builds_loads_swaps_waits_and_checks_dns(tmp_path: Path) -> None:
    result = run(tmp_path, cluster())
    assert result.status == 0, result.stderr
    assert result.calls == [*swap_calls(), CLEANUP]
    assert "ok: coredns runs clusterdns:dev" in result.stderr


def test_cluster_and_image_flags_reach_every_command(tmp_path: Path) -> None:
    k = "kubectl --context kind-dev"
    rules = cluster()
    result = run(tmp_path, rules, "--cluster", "dev", "--image", "clusterdns:t1")
    assert result.status == 0, result.stderr
    assert result.calls == [*swap_calls("clusterdns:t1", "dev"), f"{CLEANUP.replace(K, k)}"]


def test_a_failed_rollout_rolls_back_to_the_remembered_image(tmp_path: Path) -> None:
    result = run(tmp_path, cluster(("rollout status", 1, "")))
    assert result.status == 1
    calls = swap_calls()
    assert result.calls == [*calls[:11], *ROLLBACK, CLEANUP]
    assert f"rolling coredns back to {CORE}" in result.stderr


def test_dns_that_does_not_answer_rolls_back(tmp_path: Path) -> None:
    failed = "Server:\\t10.96.0.10\\n** server can't find kubernetes.default.svc.cluster.local"
    result = run(tmp_path, cluster(nslookup=failed))
    assert result.status == 1
    assert result.calls == [*swap_calls(), *ROLLBACK, CLEANUP]


def test_the_dns_server_address_alone_is_not_an_answer(tmp_path: Path) -> None:
    # 10.96.0.10:53 starts with the kubernetes Service IP 10.96.0.1: it must not count.
    only_server = "Server:\\t10.96.0.10\\nAddress:\\t10.96.0.10:53\\n"
    result = run(tmp_path, cluster(nslookup=only_server))
    assert result.status == 1
    assert result.calls[-3:] == [*ROLLBACK, CLEANUP]


def test_a_failed_build_stops_before_touching_the_cluster(tmp_path: Path) -> None:
    result = run(tmp_path, cluster(("docker build", 3, "")))
    assert result.status == 1
    assert result.calls == [*preflight_calls(), f"docker build -t clusterdns:dev {ROOT}", CLEANUP]


def test_a_failed_image_load_stops_before_swapping(tmp_path: Path) -> None:
    result = run(tmp_path, cluster(("kind load", 1, "")))
    assert result.status == 1
    assert not [c for c in result.calls if "set image" in c]


def test_a_second_swap_keeps_the_original_and_restarts_the_same_tag(tmp_path: Path) -> None:
    rules = cluster(
        (IMAGE_PATH, 0, "clusterdns:dev"), (NOTE_PATH, 0, CORE), ("rollout status", 1, "")
    )
    result = run(tmp_path, rules)
    assert result.status == 1
    assert not [c for c in result.calls if " annotate " in c]
    assert f"{KS} rollout restart deploy/coredns" in result.calls
    # Rolling back to the same tag would help nothing: the original CoreDNS comes back.
    assert result.calls[-3:] == [*ROLLBACK, CLEANUP]


def test_rollback_sets_the_annotated_original_image_back(tmp_path: Path) -> None:
    result = run(tmp_path, [(NOTE_PATH, 0, CORE), *PREFLIGHT_OK], "--rollback")
    assert result.status == 0, result.stderr
    assert result.calls == [
        "kubectl config get-contexts -o name",
        f"{KS} get deploy coredns -o name",
        f"{KS} get deploy coredns -o {NOTE_PATH}",
        f"{KS} set image deploy/coredns coredns={CORE}",
        f"{KS} annotate deploy/coredns clusterdns.dev/original-image-",
        f"{KS} rollout status deploy/coredns --timeout=120s",
    ]


def test_rollback_without_annotation_undoes_the_last_rollout(tmp_path: Path) -> None:
    contexts = ("config get-contexts", 0, "kind-x")
    result = run(tmp_path, [(NOTE_PATH, 0, ""), contexts], "--rollback", "--cluster", "x")
    assert result.status == 0, result.stderr
    ks = "kubectl --context kind-x -n kube-system"
    assert result.calls[3:] == [
        f"{ks} rollout undo deploy/coredns",
        f"{ks} rollout status deploy/coredns --timeout=120s",
    ]


def test_a_failed_rollback_fails(tmp_path: Path) -> None:
    rules = [(NOTE_PATH, 0, CORE), ("rollout status", 1, ""), *PREFLIGHT_OK]
    result = run(tmp_path, rules, "--rollback")
    assert result.status != 0


@pytest.mark.parametrize("args", [["--bogus"], ["--cluster"], ["--image"]])
def test_bad_arguments_print_usage_and_run_nothing(tmp_path: Path, args: list[str]) -> None:
    result = run(tmp_path, [], *args)
    assert result.status == 2
    assert "usage" in result.stderr.lower() or "kind-swap" in result.stderr
    assert result.calls == []


def test_help_prints_the_usage_and_exits_0(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(SCRIPT), "--help"], capture_output=True, text=True, timeout=10, check=False
    )
    assert result.returncode == 0
    assert "scripts/kind-swap [--cluster NAME] --rollback" in result.stdout


@dataclass(frozen=True)
class Preflight:
    """A broken setup: the rule that breaks it, the message, and the calls made before it."""

    rules: list[tuple[str, int, str]]
    message: str
    calls: list[str]


PREFLIGHT_FAILURES = [
    pytest.param(
        Preflight([("docker info", 1, "")], "the docker daemon does not answer", ["docker info"]),
        id="docker-daemon-down",
    ),
    pytest.param(
        Preflight(
            [("kind get clusters", 0, "other")],
            "no kind cluster named 'kind' (have: other); create it with: kind create cluster",
            ["docker info", "kind get clusters"],
        ),
        id="no-such-kind-cluster",
    ),
    pytest.param(
        Preflight(
            [("config get-contexts", 0, "prod")],
            "kubectl has no context 'kind-kind': run kind export kubeconfig --name kind",
            preflight_calls()[:3],
        ),
        id="no-kubectl-context",
    ),
    pytest.param(
        Preflight(
            [("get deploy coredns -o name", 1, "")],
            "cannot read deployment kube-system/coredns through context 'kind-kind'",
            preflight_calls(),
        ),
        id="no-coredns-deployment",
    ),
]


@pytest.mark.parametrize("case", PREFLIGHT_FAILURES)
def test_cheap_checks_fail_before_the_build_with_a_clear_message(
    tmp_path: Path, case: Preflight
) -> None:
    result = run(tmp_path, cluster(*case.rules))
    assert result.status == 1
    assert f"kind-swap: {case.message}" in result.stderr
    assert result.calls == case.calls  # no build, nothing changed in the cluster


def test_a_missing_tool_is_named(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("docker", "kubectl"):  # no kind
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"}
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=10, check=False
    )
    assert result.returncode == 1
    assert "kind-swap: kind is not on PATH: install it first" in result.stderr
