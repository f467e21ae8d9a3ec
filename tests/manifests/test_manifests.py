"""The Kubernetes manifests under manifests/: schema-valid for kind's Kubernetes, and the contract.

Every object is checked against the Kubernetes JSON schemas that the `kubernetes-validate`
package ships inside its wheel (strict: unknown fields fail), with the network blocked, so
nothing is downloaded. The swap kustomization is rendered here as kustomize renders it, merged
into kubeadm's own coredns Deployment (`kubeadm-coredns-deployment.yaml` beside this file), and
the merge must differ from kubeadm's object in the image alone.
"""

import copy
import importlib.resources
import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import kubernetes_validate.utils  # type: ignore[import-untyped]
import pytest
import yaml
from referencing import Registry, Resource

from clusterdns.corefile.parser import parse_corefile

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
SWAP = MANIFESTS / "swap"
STANDALONE = MANIFESTS / "standalone"
KUBEADM_COREFILE = ROOT / "tests" / "data" / "corefiles" / "kubeadm.Corefile"
KUBEADM_DEPLOYMENT = Path(__file__).with_name("kubeadm-coredns-deployment.yaml")

# The Kubernetes of kind's default node image (kind v0.33.0: kindest/node:v1.37.0).
KUBERNETES_VERSION = "1.37.0"
# The one file that is a patch of a live object rather than a whole object.
SWAP_PATCH = SWAP / "coredns-image.yaml"

Obj = dict[str, Any]


def load_all(path: Path) -> list[Obj]:
    """Every non-empty YAML document of `path`."""
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


def load_one(path: Path) -> Obj:
    docs = load_all(path)
    assert len(docs) == 1, f"{path}: expected one document, found {len(docs)}"
    return docs[0]


def yaml_files() -> list[Path]:
    files = sorted([*MANIFESTS.rglob("*.yaml"), *MANIFESTS.rglob("*.yml")])
    assert files, "no manifests found"
    return files


def is_kustomization(path: Path) -> bool:
    return path.name in {"kustomization.yaml", "kustomization.yml", "Kustomization"}


def whole_objects() -> list[tuple[Path, Obj]]:
    """Every Kubernetes object under manifests/ that is applied as a whole object."""
    return [
        (path, obj)
        for path in yaml_files()
        if not is_kustomization(path) and path != SWAP_PATCH
        for obj in load_all(path)
    ]


def object_id(item: tuple[Path, Obj]) -> str:
    path, obj = item
    return f"{path.relative_to(MANIFESTS)}:{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def render(kustomization_dir: Path) -> list[Obj]:
    """`kustomize build` for what our kustomizations use: `resources:` files and `images:`."""
    kustomization = load_one(kustomization_dir / "kustomization.yaml")
    assert set(kustomization) <= {"apiVersion", "kind", "resources", "images"}, kustomization
    objects = [
        obj for name in kustomization["resources"] for obj in load_all(kustomization_dir / name)
    ]
    for image in kustomization.get("images", []):
        assert set(image) <= {"name", "newName", "newTag"}, image
        for obj in objects:
            for container in containers(obj):
                name, _, _tag = container["image"].partition(":")
                if name == image["name"]:
                    new_name = image.get("newName", name)
                    container["image"] = (
                        f"{new_name}:{image['newTag']}" if "newTag" in image else new_name
                    )
    return objects


def containers(obj: Obj) -> list[Obj]:
    if obj.get("kind") != "Deployment":
        return []
    result: list[Obj] = (
        obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    )
    return result


def strategic_merge(live: Any, patch: Any, path: str = "") -> Any:
    """kubectl apply's merge of `patch` into `live`, for maps and the by-name `containers` list.

    Any other list in the patch is refused rather than merged wrongly.
    """
    if isinstance(live, dict) and isinstance(patch, dict):
        merged = dict(live)
        for key, value in patch.items():
            merged[key] = (
                strategic_merge(live[key], value, f"{path}.{key}") if key in live else value
            )
        return merged
    if isinstance(patch, list):
        assert path.endswith(".containers"), f"the patch has a list at {path}: not merged here"
        by_name = {item["name"]: item for item in patch}
        merged_list = [strategic_merge(item, by_name.pop(item["name"], {}), path) for item in live]
        return merged_list + list(by_name.values())
    return patch


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    """The paths where two JSON-like values differ."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [
            diff
            for key in sorted(before.keys() | after.keys())
            for diff in differences(before.get(key), after.get(key), f"{path}.{key}")
        ]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            d
            for i, (b, a) in enumerate(zip(before, after, strict=True))
            for d in differences(b, a, f"{path}[{i}]")
        ]
    return [] if before == after else [path]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Validation must not download anything: any connection attempt fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access during manifest tests: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield


def validate(obj: Obj) -> None:
    """Strict schema validation for the pinned Kubernetes version, as kubernetes-validate does."""
    validated = kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    assert validated == "1.37"


# ---------------------------------------------------------------------------------------------
# Schemas


def test_the_pinned_kubernetes_version_has_its_own_schemas() -> None:
    """No silent fallback to an older schema set: the package ships exactly this version."""
    assert KUBERNETES_VERSION in kubernetes_validate.utils.all_versions()


@pytest.mark.parametrize("item", whole_objects(), ids=object_id)
def test_object_is_schema_valid(item: tuple[Path, Obj]) -> None:
    validate(item[1])


def test_strict_validation_rejects_a_misspelt_field() -> None:
    """The validator is really at work: a field the API does not know fails."""
    deployment = copy.deepcopy(load_one(STANDALONE / "deployment.yaml"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFileSystem"] = True
    with pytest.raises(jsonschema.ValidationError, match="readOnlyRootFileSystem"):
        validate(deployment)


def test_validation_rejects_a_wrong_type() -> None:
    service = copy.deepcopy(load_one(STANDALONE / "service.yaml"))
    service["spec"]["ports"][0]["port"] = "fifty-three"
    with pytest.raises(jsonschema.ValidationError):
        validate(service)


@cache
def patch_validator(kind: str, api_version: str) -> Any:
    """A strict validator from the same bundled schemas that checks names and types only.

    A patch leaves out fields the API requires of a whole object (selector, template), so
    `required` is switched off; unknown fields and wrong types still fail.
    """
    group = api_version.split("/")[0].split(".")[0] if "/" in api_version else ""
    version = api_version.split("/")[-1]
    schema_dir = (
        importlib.resources.files("kubernetes_validate")
        / "kubernetes-json-schema"
        / f"v{KUBERNETES_VERSION}-local-strict"
    )
    name = f"{kind.lower()}-{group}-{version}.json" if group else f"{kind.lower()}-{version}.json"
    schema = json.loads((schema_dir / name).read_text(encoding="utf-8"))
    definitions = json.loads((schema_dir / "_definitions.json").read_text(encoding="utf-8"))
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(definitions) @ registry
    lenient = jsonschema.validators.extend(
        jsonschema.Draft202012Validator, validators={"required": lambda *_: iter(())}
    )
    return lenient(schema, registry=registry)


def test_swap_patch_is_schema_valid_as_a_patch() -> None:
    patch = load_one(SWAP_PATCH)
    patch_validator(patch["kind"], patch["apiVersion"]).validate(patch)


def test_patch_validator_still_rejects_unknown_fields() -> None:
    patch = copy.deepcopy(load_one(SWAP_PATCH))
    patch["spec"]["template"]["spec"]["containers"][0]["imagee"] = "x"
    with pytest.raises(jsonschema.ValidationError, match="imagee"):
        patch_validator(patch["kind"], patch["apiVersion"]).validate(patch)


def test_kubeadm_reference_deployment_is_schema_valid() -> None:
    validate(load_one(KUBEADM_DEPLOYMENT))


# ---------------------------------------------------------------------------------------------
# Kustomizations


@pytest.mark.parametrize("directory", [SWAP, STANDALONE], ids=lambda p: p.name)
def test_kustomization_lists_every_manifest_of_its_folder(directory: Path) -> None:
    kustomization = load_one(directory / "kustomization.yaml")
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    on_disk = {p.name for p in directory.glob("*.yaml") if not is_kustomization(p)}
    assert set(listed) == on_disk


def test_swap_changes_only_the_image() -> None:
    rendered = render(SWAP)
    assert len(rendered) == 1
    patch = rendered[0]
    assert patch == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system"},
        "spec": {
            "template": {"spec": {"containers": [{"name": "coredns", "image": "clusterdns:dev"}]}}
        },
    }
    kubeadm = load_one(KUBEADM_DEPLOYMENT)
    swapped = strategic_merge(kubeadm, patch)
    image = ".spec.template.spec.containers[0].image"
    assert differences(kubeadm, swapped) == [image]
    assert swapped["spec"]["template"]["spec"]["containers"][0]["image"] == "clusterdns:dev"
    validate(swapped)


def test_swap_kustomization_tags_through_images() -> None:
    """The patch names the image `clusterdns`; the tag comes from kustomize's `images:`."""
    kustomization = load_one(SWAP / "kustomization.yaml")
    assert kustomization["images"] == [{"name": "clusterdns", "newTag": "dev"}]
    assert containers(load_one(SWAP_PATCH))[0]["image"] == "clusterdns"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("directory", [SWAP, STANDALONE], ids=lambda p: p.name)
def test_kubectl_kustomize_agrees_with_render(directory: Path) -> None:
    """Where kubectl is at hand, its kustomize builds what `render` does (order aside)."""
    kubectl = shutil.which("kubectl")
    assert kubectl is not None
    built = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    key = json.dumps
    ours = sorted(render(directory), key=key)
    theirs = sorted((doc for doc in yaml.safe_load_all(built) if doc is not None), key=key)
    assert theirs == ours


# ---------------------------------------------------------------------------------------------
# The standalone install: the drop-in contract, object by object


def standalone(kind: str) -> Obj:
    found = [obj for obj in render(STANDALONE) if obj["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def test_standalone_objects_live_in_the_clusterdns_namespace() -> None:
    kinds = sorted(obj["kind"] for obj in render(STANDALONE))
    assert kinds == sorted(
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "ConfigMap",
            "Deployment",
            "PodDisruptionBudget",
            "Service",
        ]
    )
    for obj in render(STANDALONE):
        if obj["kind"] in {"Namespace", "ClusterRole", "ClusterRoleBinding"}:
            assert "namespace" not in obj["metadata"]
        else:
            assert obj["metadata"]["namespace"] == "clusterdns", obj["kind"]
    assert standalone("Namespace")["metadata"]["name"] == "clusterdns"


def test_cluster_role_is_corednss_list_and_watch_only() -> None:
    rules = standalone("ClusterRole")["rules"]
    granted = {
        (group, resource): frozenset(rule["verbs"])
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert granted == {
        ("", "endpoints"): {"list", "watch"},
        ("", "services"): {"list", "watch"},
        ("", "pods"): {"list", "watch"},
        ("", "namespaces"): {"list", "watch"},
        ("discovery.k8s.io", "endpointslices"): {"list", "watch"},
    }
    for rule in rules:
        assert "get" not in rule["verbs"]
        assert set(rule) == {"apiGroups", "resources", "verbs"}


def test_cluster_role_binding_ties_the_role_to_the_service_account() -> None:
    binding = standalone("ClusterRoleBinding")
    role = standalone("ClusterRole")
    account = standalone("ServiceAccount")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }
    ]
    pod = standalone("Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]


def test_configmap_holds_kubeadms_corefile_and_it_parses() -> None:
    configmap = standalone("ConfigMap")
    assert configmap["metadata"]["name"] == "clusterdns"
    corefile = configmap["data"]["Corefile"]
    assert corefile == KUBEADM_COREFILE.read_text(encoding="utf-8")
    parsed = parse_corefile(corefile)
    assert [d.name for d in parsed.blocks[0].directives] == [
        "errors",
        "health",
        "ready",
        "kubernetes",
        "prometheus",
        "forward",
        "cache",
        "loop",
        "reload",
        "loadbalance",
    ]


def the_container() -> Obj:
    pod = standalone("Deployment")["spec"]["template"]["spec"]
    assert len(pod["containers"]) == 1
    container: Obj = pod["containers"][0]
    return container


def test_deployment_shape() -> None:
    deployment = standalone("Deployment")
    spec = deployment["spec"]
    labels = {"k8s-app": "clusterdns"}
    assert spec["replicas"] == 2
    assert spec["selector"] == {"matchLabels": labels}
    assert spec["template"]["metadata"]["labels"].items() >= labels.items()
    pod = spec["template"]["spec"]
    assert pod["dnsPolicy"] == "Default"
    # Not the cluster's DNS, so no system-cluster-critical priority (see deployment.yaml).
    assert "priorityClassName" not in pod
    term = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term == [
        {
            "weight": 100,
            "podAffinityTerm": {
                "labelSelector": {
                    "matchExpressions": [
                        {"key": "k8s-app", "operator": "In", "values": ["clusterdns"]}
                    ]
                },
                "topologyKey": "kubernetes.io/hostname",
            },
        }
    ]
    assert the_container()["image"] == "clusterdns:dev"


def test_args_are_corednss() -> None:
    assert the_container()["args"] == ["-conf", "/etc/coredns/Corefile"]
    assert "command" not in the_container()


def test_corefile_is_mounted_read_only_at_etc_coredns() -> None:
    container = the_container()
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert len(mounts) == 1
    (name, mount), *_ = mounts.items()
    assert mount == {"name": name, "mountPath": "/etc/coredns", "readOnly": True}
    volumes = {
        v["name"]: v for v in standalone("Deployment")["spec"]["template"]["spec"]["volumes"]
    }
    assert volumes[name]["configMap"] == {
        "name": standalone("ConfigMap")["metadata"]["name"],
        "items": [{"key": "Corefile", "path": "Corefile"}],
    }


def test_security_context_is_kubeadms() -> None:
    assert the_container()["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
    }


def test_probes_are_kubeadms() -> None:
    container = the_container()
    assert container["livenessProbe"] == {
        "httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"},
        "initialDelaySeconds": 60,
        "timeoutSeconds": 5,
        "successThreshold": 1,
        "failureThreshold": 5,
    }
    assert container["readinessProbe"] == {
        "httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"}
    }


def test_ports_are_kubeadms() -> None:
    assert the_container()["ports"] == [
        {"containerPort": 53, "name": "dns", "protocol": "UDP"},
        {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
        {"containerPort": 9153, "name": "metrics", "protocol": "TCP"},
    ]


def test_resources_are_kubeadms() -> None:
    assert the_container()["resources"] == {
        "requests": {"cpu": "100m", "memory": "70Mi"},
        "limits": {"memory": "170Mi"},
    }


def test_the_container_matches_kubeadms_but_for_name_and_image() -> None:
    """Everything of the container but its name and image is kubeadm's, field for field."""
    ours = {k: v for k, v in the_container().items() if k not in {"name", "image"}}
    kubeadm = containers(load_one(KUBEADM_DEPLOYMENT))[0]
    assert ours == {k: v for k, v in kubeadm.items() if k not in {"name", "image"}}


def test_pod_disruption_budget() -> None:
    pdb = standalone("PodDisruptionBudget")
    assert pdb["spec"] == {
        "minAvailable": 1,
        "selector": {"matchLabels": {"k8s-app": "clusterdns"}},
    }


def test_service() -> None:
    service = standalone("Service")
    assert service["metadata"]["name"] == "clusterdns"
    assert service["metadata"]["annotations"] == {
        "prometheus.io/port": "9153",
        "prometheus.io/scrape": "true",
    }
    assert service["spec"]["selector"] == {"k8s-app": "clusterdns"}
    assert [
        (p["name"], p["port"], p["protocol"], p["targetPort"]) for p in service["spec"]["ports"]
    ] == [
        ("dns", 53, "UDP", 53),
        ("dns-tcp", 53, "TCP", 53),
        ("metrics", 9153, "TCP", 9153),
    ]
