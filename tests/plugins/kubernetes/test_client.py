"""KubeClient and load_api_config, through the real kubernetes client against FakeKubeAPI."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from clusterdns.errors import ConfigError
from clusterdns.plugins.kubernetes.client import (
    ENDPOINT_SLICES,
    NAMESPACES,
    PODS,
    RESOURCES,
    SERVICES,
    ApiRequestError,
    GoneError,
    JsonObject,
    KubeClient,
    Resource,
    load_api_config,
)
from tests.fakes.kube_api import (
    FakeKubeAPI,
    WatchFault,
    endpoint_slice,
    namespace,
    pod,
    service,
)
from tests.plugins.kubernetes.conftest import Signal, make_client

# Config


def test_kubeconfig_points_the_client_at_its_server(fake_api: FakeKubeAPI, kubeconfig: str) -> None:
    config = load_api_config(kubeconfig=kubeconfig)
    assert config.host == fake_api.url
    assert config.source == f"kubeconfig {kubeconfig}"


def test_kubeconfig_env_is_used_without_a_flag(fake_api: FakeKubeAPI, kubeconfig: str) -> None:
    config = load_api_config(environ={"KUBECONFIG": kubeconfig})
    assert config.host == fake_api.url


def test_context_picks_its_cluster(fake_api: FakeKubeAPI, tmp_path: Path) -> None:
    document = fake_api.kubeconfig("fake")
    document["clusters"].append({"name": "other", "cluster": {"server": "http://10.9.9.9:6443"}})
    document["contexts"].append({"name": "other", "context": {"cluster": "other", "user": "fake"}})
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(document))
    assert load_api_config(kubeconfig=str(path)).host == fake_api.url
    other = load_api_config(kubeconfig=str(path), context="other")
    assert other.host == "http://10.9.9.9:6443"
    assert "context other" in other.source


def test_explicit_api_server_and_token_reach_the_server(fake_api: FakeKubeAPI) -> None:
    config = load_api_config(api_server=fake_api.url + "/", token=fake_api.token)
    assert config.host == fake_api.url
    client = KubeClient(config)
    try:
        assert client.list(SERVICES, 10).items == ()
    finally:
        client.close()
    assert fake_api.requests[-1].authorization == f"Bearer {fake_api.token}"


@dataclass(frozen=True)
class BadConfig:
    """Arguments to load_api_config and a substring of the one-line error."""

    kwargs: dict[str, object]
    error: str


BAD_CONFIGS = [
    pytest.param(
        BadConfig({"kubeconfig": "/nonexistent/kubeconfig"}, "no such file"), id="no-file"
    ),
    pytest.param(BadConfig({"context": "nope"}, "context 'nope'"), id="unknown-context"),
    pytest.param(BadConfig({"kubeconfig": "GARBAGE"}, "kubeconfig"), id="not-a-kubeconfig"),
    pytest.param(BadConfig({"api_server": "127.0.0.1:6443"}, "--api-server"), id="url-no-scheme"),
    pytest.param(
        BadConfig({"api_server": "https://k8s:6443", "ca_file": "/nonexistent/ca"}, "CA file"),
        id="missing-ca",
    ),
    pytest.param(BadConfig({}, "--kubeconfig"), id="nothing-and-not-in-cluster"),
    pytest.param(BadConfig({"context": "x", "kubeconfig": ""}, "--context"), id="context-alone"),
]


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_config_problems_are_one_line_errors(
    case: BadConfig, fake_api: FakeKubeAPI, kubeconfig: str, tmp_path: Path
) -> None:
    kwargs = dict(case.kwargs)
    if kwargs.get("kubeconfig") == "GARBAGE":
        garbage = tmp_path / "garbage"
        garbage.write_text("clusters: [[[")
        kwargs["kubeconfig"] = str(garbage)
    elif "context" in kwargs and "kubeconfig" not in kwargs:
        kwargs["kubeconfig"] = kubeconfig
    elif kwargs.get("kubeconfig") == "":
        kwargs["kubeconfig"] = None
    with pytest.raises(ConfigError) as caught:
        load_api_config(**kwargs, environ={})  # type: ignore[arg-type]
    message = str(caught.value)
    assert case.error in message
    assert "\n" not in message


# Lists


def test_list_pages_with_limit_and_continue(fake_api: FakeKubeAPI, kube_client: KubeClient) -> None:
    for i in range(250):
        fake_api.add("services", service(f"svc-{i:03}", cluster_ip=f"10.96.{i // 200}.{i % 200}"))
    pages = [kube_client.list(SERVICES, 100)]
    while pages[-1].continue_token:
        pages.append(kube_client.list(SERVICES, 100, pages[-1].continue_token))
    assert [len(page.items) for page in pages] == [100, 100, 50]
    assert {page.resource_version for page in pages} == {fake_api.resource_version}
    names = [_name(item) for page in pages for item in page.items]
    assert names == [f"svc-{i:03}" for i in range(250)]
    assert all("kind" not in item for page in pages for item in page.items)
    lists = fake_api.requests_for("list", "services")
    assert [r.query.get("limit") for r in lists] == ["100"] * 3
    assert ["continue" in r.query for r in lists] == [False, True, True]


def test_list_pages_form_one_snapshot(fake_api: FakeKubeAPI, kube_client: KubeClient) -> None:
    for i in range(3):
        fake_api.add("services", service(f"svc-{i}"))
    first = kube_client.list(SERVICES, 2)
    fake_api.add("services", service("svc-late"))
    rest = kube_client.list(SERVICES, 2, first.continue_token)
    assert rest.resource_version == first.resource_version
    assert [_name(item) for item in first.items + rest.items] == ["svc-0", "svc-1", "svc-2"]


RAW_OBJECTS = [
    pytest.param(SERVICES, service("web"), id="services"),
    pytest.param(ENDPOINT_SLICES, endpoint_slice("web-x1", "web", ["10.1.0.1"]), id="slices"),
    pytest.param(NAMESPACES, namespace("prod"), id="namespaces"),
    pytest.param(PODS, pod("web-0", "10.1.0.1"), id="pods"),
]


@pytest.mark.parametrize(("resource", "raw"), RAW_OBJECTS)
def test_every_resource_lists_cluster_wide(
    resource: Resource, raw: JsonObject, fake_api: FakeKubeAPI, kube_client: KubeClient
) -> None:
    fake_api.add(resource.plural, raw)
    page = kube_client.list(resource, 10)
    assert [_name(item) for item in page.items] == [_name(raw)]
    assert fake_api.requests[-1].path == resource.path


# Watches


def test_watch_yields_events_after_the_version_and_ends_on_time(
    fake_api: FakeKubeAPI, kube_client: KubeClient
) -> None:
    fake_api.add("services", service("old"))
    since = fake_api.resource_version
    fake_api.add("services", service("web"))
    fake_api.modify("services", service("web", cluster_ip="10.96.0.11"))
    fake_api.delete("services", service("web"))
    events = list(kube_client.watch(SERVICES, since, timeout_seconds=1))
    assert [(e["type"], _name(_object(e))) for e in events] == [
        ("ADDED", "web"),
        ("MODIFIED", "web"),
        ("DELETED", "web"),
    ]
    query = fake_api.requests[-1].query
    assert query == {
        "watch": "true",
        "allowWatchBookmarks": "true",
        "resourceVersion": since,
        "timeoutSeconds": "1",
    }


@pytest.mark.parametrize("chunk_size", [1, 3, 50, None], ids=lambda n: f"chunks-of-{n}")
def test_watch_reassembles_lines_across_chunks(
    chunk_size: int | None, fake_api: FakeKubeAPI, kube_client: KubeClient
) -> None:
    since = fake_api.resource_version
    for i in range(20):
        fake_api.add("services", service(f"svc-{i}"))
    fake_api.chunk_size = chunk_size
    stream = kube_client.watch(SERVICES, since, timeout_seconds=5)
    events = list(itertools.islice(stream, 20))
    stream.close()
    assert [_name(_object(e)) for e in events] == [f"svc-{i}" for i in range(20)]


def test_watch_passes_bookmarks_through(fake_api: FakeKubeAPI, kube_client: KubeClient) -> None:
    since = fake_api.resource_version
    fake_api.add("services", service("web"))
    fake_api.add("namespaces", namespace("elsewhere"))
    stream = kube_client.watch(SERVICES, since, timeout_seconds=5)
    types = []
    for event in stream:
        types.append(event["type"])
        if event["type"] == "ADDED":
            fake_api.bookmark()
        else:
            bookmark_version = _object(event)["metadata"]
            break
    stream.close()
    assert types == ["ADDED", "BOOKMARK"]
    assert bookmark_version == {"resourceVersion": fake_api.resource_version}


@dataclass(frozen=True)
class Failure:
    """An injected HTTP status, the request it hits, and what the error must say."""

    status: int
    verb: str
    words: tuple[str, ...]
    gone: bool = False


FAILURES = [
    pytest.param(Failure(403, "list", ("403", "list", "services", "RBAC")), id="list-403"),
    pytest.param(Failure(403, "watch", ("403", "watch", "services", "RBAC")), id="watch-403"),
    pytest.param(Failure(500, "list", ("500", "injected failure")), id="list-500"),
    pytest.param(Failure(410, "watch", ("410",), gone=True), id="watch-410"),
    pytest.param(Failure(410, "list", ("410",), gone=True), id="list-410"),
]


@pytest.mark.parametrize("case", FAILURES)
def test_http_failures_carry_status_and_say_what_failed(
    case: Failure, fake_api: FakeKubeAPI, kube_client: KubeClient
) -> None:
    fake_api.fail_next(case.status, verb=case.verb)
    with pytest.raises(ApiRequestError) as caught:
        if case.verb == "list":
            kube_client.list(SERVICES, 10)
        else:
            kube_client.watch(SERVICES, fake_api.resource_version, 1)
    assert caught.value.status == case.status
    assert isinstance(caught.value, GoneError) == case.gone
    for word in case.words:
        assert word in caught.value.message


def test_rejected_token_is_401(fake_api: FakeKubeAPI) -> None:
    client = KubeClient(load_api_config(api_server=fake_api.url, token="wrong"))
    try:
        with pytest.raises(ApiRequestError, match="401 Unauthorized") as caught:
            client.list(SERVICES, 10)
    finally:
        client.close()
    assert caught.value.status == 401


@pytest.mark.parametrize(
    "fault",
    [WatchFault.GARBAGE, WatchFault.CUT],
    ids=["garbage-line", "cut-mid-json"],
)
def test_broken_streams_raise_after_the_good_events(
    fault: WatchFault, fake_api: FakeKubeAPI, kube_client: KubeClient
) -> None:
    since = fake_api.resource_version
    fake_api.add("services", service("web"))
    fake_api.inject_watch_fault(fault)
    with pytest.raises(ApiRequestError) as caught:
        list(kube_client.watch(SERVICES, since, timeout_seconds=5))
    assert caught.value.status is None
    assert "watch services" in caught.value.message


def test_error_event_is_passed_on(fake_api: FakeKubeAPI, kube_client: KubeClient) -> None:
    fake_api.inject_watch_fault(WatchFault.ERROR_410)
    events = list(kube_client.watch(SERVICES, fake_api.resource_version, timeout_seconds=5))
    assert [e["type"] for e in events] == ["ERROR"]
    assert _object(events[0])["code"] == 410


def test_stalled_stream_hits_the_read_timeout(
    fake_api: FakeKubeAPI, kube_client: KubeClient
) -> None:
    fake_api.inject_watch_fault(WatchFault.STALL)
    started = time.monotonic()
    with pytest.raises(ApiRequestError, match="timed out"):
        list(kube_client.watch(SERVICES, fake_api.resource_version, timeout_seconds=1))
    # timeoutSeconds 1 plus the fixture's slack of 0.3 s, with room for a slow machine.
    assert 1.0 <= time.monotonic() - started < 4.0


def test_close_from_another_thread_wakes_a_blocked_read(
    fake_api: FakeKubeAPI, kubeconfig: str
) -> None:
    client = make_client(kubeconfig, watch_slack=30.0)
    fake_api.inject_watch_fault(WatchFault.STALL)
    try:
        stream = client.watch(SERVICES, fake_api.resource_version, timeout_seconds=30)
        closer = threading.Thread(target=stream.close)
        started = time.monotonic()
        closer.start()
        assert list(stream) == []
        closer.join()
    finally:
        client.close()
    assert time.monotonic() - started < 5.0


def test_unreachable_server_has_no_status(signal: Signal, tmp_path: Path) -> None:
    fake = FakeKubeAPI(start=False)  # bound, not listening: connections are refused
    try:
        client = make_client(fake.write_kubeconfig(tmp_path / "kubeconfig"))
        with pytest.raises(ApiRequestError, match="refused") as caught:
            client.list(SERVICES, 10)
        client.close()
    finally:
        fake.close()
    assert caught.value.status is None


def test_only_list_and_watch_are_ever_sent(fake_api: FakeKubeAPI, kube_client: KubeClient) -> None:
    fake_api.add("services", service("web"))
    for resource in RESOURCES:
        page = kube_client.list(resource, 500)
        kube_client.watch(resource, page.resource_version, timeout_seconds=5).close()
    requests = fake_api.requests
    assert {(r.method, r.verb) for r in requests} == {("GET", "list"), ("GET", "watch")}
    assert {r.path for r in requests} == {resource.path for resource in RESOURCES}
    assert all(r.authorization == f"Bearer {fake_api.token}" for r in requests)


def _object(event: JsonObject) -> JsonObject:
    obj = event["object"]
    assert isinstance(obj, dict)
    return obj


def _name(item: JsonObject) -> str:
    metadata = item["metadata"]
    assert isinstance(metadata, dict)
    return str(metadata["name"])


# What the client imports. A fresh interpreter lists Services from the fake API, then reports
# which parts of the kubernetes distribution (and their dependencies) it loaded.

_IMPORTS_PROBE = """
import json, sys
from clusterdns.plugins.kubernetes.client import SERVICES, KubeClient, load_api_config
flags = json.loads(sys.argv[1])
client = KubeClient(load_api_config(**flags))
page = client.list(SERVICES, 10)
client.close()
print(json.dumps({"names": [item["metadata"]["name"] for item in page.items],
                  "modules": sorted(sys.modules)}))
"""

# Parts of `kubernetes` clusterdns never uses, and what they bring in (about 4 MiB of RSS).
_NEVER_USED = (
    "kubernetes.dynamic",
    "kubernetes.stream",
    "kubernetes.informer",
    "kubernetes.leaderelection",
    "kubernetes.watch",
    "kubernetes.utils.create_from_yaml",
    "websocket",
    "jsonschema",
    "kubernetes_validate",
)


@dataclass(frozen=True)
class ImportCase:
    """How the API is found, and whether the kubeconfig loader (oauthlib, requests) is needed."""

    flags: str  # which load_api_config arguments the case passes
    kubeconfig_loader: bool


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(ImportCase("kubeconfig", kubeconfig_loader=True), id="kubeconfig"),
        pytest.param(ImportCase("api_server", kubeconfig_loader=False), id="api-server-token"),
    ],
)
def test_the_client_imports_only_the_parts_of_kubernetes_it_uses(
    fake_api: FakeKubeAPI, kubeconfig: str, case: ImportCase
) -> None:
    fake_api.add("services", service("web", "prod", "10.96.0.10"))
    flags = (
        {"kubeconfig": kubeconfig}
        if case.flags == "kubeconfig"
        else {"api_server": fake_api.url, "token": fake_api.token}
    )
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTS_PROBE, json.dumps(flags)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[3],
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["names"] == ["web"]
    modules = set(report["modules"])
    assert "kubernetes.client.api_client" in modules  # the real REST client did the list
    assert sorted(modules.intersection(_NEVER_USED)) == []
    assert ("oauthlib" in modules) == case.kubeconfig_loader
    assert ("kubernetes.config.kube_config" in modules) == case.kubeconfig_loader
    assert ("yaml" in modules) == case.kubeconfig_loader  # a kubeconfig is YAML
