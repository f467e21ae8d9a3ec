"""The Kubernetes API adapter: connection config, paginated lists and watch streams as raw JSON."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import threading
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import urllib3

from clusterdns.errors import ConfigError, KubeAPIError
from clusterdns.plugins.kubernetes.objects import ENDPOINT_SLICE, NAMESPACE, POD, SERVICE


def _bare_packages(*names: str) -> None:
    """Register packages of the `kubernetes` distribution without running their `__init__`.

    `kubernetes/__init__.py` imports every part of the distribution: the dynamic client, the
    websocket streams, leader election, informers, and `utils`, whose own `__init__` brings
    kubernetes-validate, jsonschema and YAML object creation. `kubernetes/config/__init__.py`
    imports the kubeconfig loader, and with it oauthlib and requests. clusterdns uses the REST
    client (which needs two small `utils` modules) and one config loader, so it registers these
    packages bare and imports only the modules it uses: 5 MiB less RSS with a kubeconfig,
    11 MiB less in a pod (the service-account loader needs neither oauthlib nor requests).
    Where something imported a package before us, it stays as it is.
    """
    for name in names:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.submodule_search_locations is None:
            continue  # not installed: the import below fails as it always did
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, package)


_bare_packages("kubernetes", "kubernetes.config", "kubernetes.utils")
# After _bare_packages: these import the modules named, not the packages' __init__ files.
from kubernetes import client as k8s_client  # noqa: E402
from kubernetes.config import incluster_config  # noqa: E402
from kubernetes.config.config_exception import ConfigException  # noqa: E402

logger = logging.getLogger(__name__)

JsonObject = dict[str, object]
QueryParams = list[tuple[str, str]]  # an API request's URL query: (name, value) pairs

USER_AGENT = "clusterdns"
# A Status body can be large (an admission webhook's report); errors keep only its start.
_MAX_MESSAGE = 300
_READ_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Resource:
    """One cluster-wide collection the reflectors list and watch."""

    plural: str
    group_version: str  # "v1" for the core group, else "group/version"
    kind: str
    label_selector: str = ""  # the `labels` / `namespace_labels` options, as the API takes them

    @property
    def path(self) -> str:
        """The collection's URL path across all namespaces."""
        prefix = "/api" if "/" not in self.group_version else "/apis"
        return f"{prefix}/{self.group_version}/{self.plural}"

    @property
    def group(self) -> str:
        """The API group, '' for the core group (as RBAC rules name it)."""
        return self.group_version.rpartition("/")[0]


SERVICES = Resource("services", "v1", SERVICE)
ENDPOINT_SLICES = Resource("endpointslices", "discovery.k8s.io/v1", ENDPOINT_SLICE)
NAMESPACES = Resource("namespaces", "v1", NAMESPACE)
PODS = Resource("pods", "v1", POD)
RESOURCES = (SERVICES, ENDPOINT_SLICES, NAMESPACES, PODS)


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a list: raw items (without `kind`), the list's version and the next token."""

    items: tuple[JsonObject, ...]
    resource_version: str
    continue_token: str


class ApiRequestError(KubeAPIError):
    """A list or watch that failed; `status` is the HTTP status, None when no response came."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


class GoneError(ApiRequestError):
    """HTTP 410: the resourceVersion or continue token is too old; the caller must relist."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 410)


class EventStream(Protocol):
    """Raw watch events `{"type", "object"}`; `close()` may come from another thread."""

    def __iter__(self) -> Iterator[JsonObject]:
        """The stream itself."""
        ...

    def __next__(self) -> JsonObject:
        """The next event; StopIteration when the server ends the stream."""
        ...

    def close(self) -> None:
        """Abort the stream, waking a read blocked in another thread."""
        ...


class KubeSource(Protocol):
    """What a reflector needs from the API: list pages and watch streams of one resource."""

    def list(self, resource: Resource, limit: int, continue_token: str = "") -> ListPage:
        """One page of `resource` across all namespaces."""
        ...

    def watch(self, resource: Resource, resource_version: str, timeout_seconds: int) -> EventStream:
        """Events of `resource` after `resource_version`, ending after `timeout_seconds`."""
        ...


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Where the API server is, how we found it, and the client settings to reach it."""

    host: str
    source: str
    configuration: object = field(repr=False, compare=False)


def load_api_config(
    kubeconfig: str | None = None,
    context: str | None = None,
    api_server: str | None = None,
    token: str | None = None,
    ca_file: str | None = None,
    insecure: bool = False,
    environ: Mapping[str, str] | None = None,
) -> ApiConfig:
    """Config from `--api-server`, else a kubeconfig (or KUBECONFIG), else the pod's account."""
    env = os.environ if environ is None else environ
    if api_server:
        return _explicit_config(api_server, token, ca_file, insecure)
    path = kubeconfig or env.get("KUBECONFIG", "")
    if path:
        return _kubeconfig_config(path, context)
    if context:
        raise ConfigError(f"--context {context!r} needs --kubeconfig or KUBECONFIG")
    return _in_cluster_config(env)


def _base_configuration() -> Any:
    configuration = k8s_client.Configuration()
    # One quick retry covers a stale pooled connection; the reflector's backoff does the rest.
    configuration.retries = urllib3.util.Retry(total=1, redirect=0, status=0, raise_on_status=False)
    # Idle watches through proxies and load balancers die silently without TCP keepalive.
    configuration.keep_alive = True
    return configuration


def _explicit_config(
    api_server: str, token: str | None, ca_file: str | None, insecure: bool
) -> ApiConfig:
    parts = urlsplit(api_server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--api-server: want http(s)://HOST[:PORT], got {api_server!r}")
    if ca_file and not os.path.isfile(ca_file):
        raise ConfigError(f"API server CA file: no such file {ca_file!r}")
    configuration = _base_configuration()
    host = api_server.rstrip("/")
    configuration.host = host
    if token:
        configuration.api_key = {"BearerToken": token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
    if ca_file:
        configuration.ssl_ca_cert = ca_file
    configuration.verify_ssl = not insecure
    return ApiConfig(host, f"--api-server {host}", configuration)


def _kubeconfig_config(path: str, context: str | None) -> ApiConfig:
    files = [p for p in path.split(os.pathsep) if p]
    if not any(os.path.isfile(os.path.expanduser(p)) for p in files):
        raise ConfigError(f"kubeconfig: no such file {path!r}")
    configuration = _base_configuration()
    # Imported here: the kubeconfig loader brings oauthlib, requests and YAML (6 MiB), which a
    # pod reading its service account never needs.
    from kubernetes.config import kube_config

    try:
        # persist_config=False: never write token refreshes back (read-only root filesystem).
        kube_config.load_kube_config(  # type: ignore[no-untyped-call]  # untyped loader
            config_file=path,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except Exception as exc:  # the loader raises YAML, OS, key and its own errors alike
        where = f"kubeconfig {path}" + (f" context {context!r}" if context else "")
        raise ConfigError(f"{where}: {_one_line(exc)}") from exc
    host = str(configuration.host)
    source = f"kubeconfig {path}" + (f" (context {context})" if context else "")
    return ApiConfig(host, source, configuration)


def _in_cluster_config(env: Mapping[str, str]) -> ApiConfig:
    configuration = _base_configuration()
    loader = incluster_config.InClusterConfigLoader(  # type: ignore[no-untyped-call]  # untyped
        token_filename=incluster_config.SERVICE_TOKEN_FILENAME,
        cert_filename=incluster_config.SERVICE_CERT_FILENAME,
        environ=env,
    )
    try:
        loader.load_and_set(configuration)  # type: ignore[no-untyped-call]  # untyped loader
    except (ConfigException, OSError) as exc:
        raise ConfigError(
            f"no Kubernetes API config: in-cluster service account unusable ({_one_line(exc)}); "
            "pass --kubeconfig PATH, set KUBECONFIG, or pass --api-server URL"
        ) from exc
    return ApiConfig(str(configuration.host), "in-cluster service account", configuration)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:_MAX_MESSAGE]


def quiet_urllib3() -> None:
    """Keep urllib3's per-attempt warnings ("Retrying (Retry(...)) after connection broken")
    out of the log: the reflector says once per outage what failed, and when it recovered.

    Left alone when the process logs at DEBUG, where the detail is wanted, or when someone
    set urllib3's level already.
    """
    urllib3_logger = logging.getLogger("urllib3")
    if urllib3_logger.level == logging.NOTSET and not logging.getLogger().isEnabledFor(
        logging.DEBUG
    ):
        urllib3_logger.setLevel(logging.ERROR)


class KubeClient:
    """Lists and watches cluster-wide collections over one connection pool; never `get`."""

    def __init__(
        self,
        config: ApiConfig,
        *,
        connect_timeout: float = 10.0,
        list_timeout: float = 60.0,
        watch_slack: float = 30.0,
    ) -> None:
        self.config = config
        self._connect_timeout = connect_timeout
        self._list_timeout = list_timeout
        # A watch may be silent for its whole timeoutSeconds; only longer silence is a hang.
        self._watch_slack = watch_slack
        # Any: the generated client is only partly typed, and we use its untyped corners.
        self._api: Any = k8s_client.ApiClient(config.configuration)
        self._api.user_agent = USER_AGENT
        quiet_urllib3()

    def list(self, resource: Resource, limit: int, continue_token: str = "") -> ListPage:
        """One page of `resource` across all namespaces (`limit` items at most)."""
        query = [("limit", str(limit))]
        if resource.label_selector:
            query.append(("labelSelector", resource.label_selector))
        if continue_token:
            query.append(("continue", continue_token))
        response = self._request(resource, "list", query, self._list_timeout)
        try:
            body = response.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            response.close()
            raise ApiRequestError(f"list {resource.plural}: {_one_line(exc)}") from exc
        finally:
            response.release_conn()
        return _parse_list(resource, body)

    def watch(self, resource: Resource, resource_version: str, timeout_seconds: int) -> EventStream:
        """Events of `resource` after `resource_version`, with bookmarks, for `timeout_seconds`."""
        query = [("watch", "true"), ("allowWatchBookmarks", "true")]
        if resource.label_selector:
            query.append(("labelSelector", resource.label_selector))
        if resource_version:
            query.append(("resourceVersion", resource_version))
        query.append(("timeoutSeconds", str(timeout_seconds)))
        response = self._request(resource, "watch", query, timeout_seconds + self._watch_slack)
        return WatchStream(response, f"watch {resource.plural}")

    def close(self) -> None:
        """Drop pooled connections."""
        self._api.close()

    def _request(
        self, resource: Resource, verb: str, query: QueryParams, read_timeout: float
    ) -> Any:
        """Send a GET and return the unread urllib3 response, or raise ApiRequestError."""
        what = f"{verb} {resource.plural}"
        try:
            method, url, headers, body, post = self._api.param_serialize(
                method="GET",
                resource_path=resource.path,
                query_params=query,
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
            result = self._api.call_api(
                method,
                url,
                header_params=headers,
                body=body,
                post_params=post,
                _request_timeout=(self._connect_timeout, read_timeout),
            )
        except k8s_client.ApiException as exc:
            raise ApiRequestError(f"{what}: {_one_line(exc)}", exc.status or None) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ApiRequestError(f"{what}: {_one_line(exc)}") from exc
        response = result.response
        if 200 <= response.status < 300:
            return response
        try:
            detail = _status_message(response.read(64 * 1024))
        except (urllib3.exceptions.HTTPError, OSError):
            detail = ""
        finally:
            response.close()
            response.release_conn()
        raise _status_error(resource, verb, response.status, detail)


def _status_error(resource: Resource, verb: str, status: int, detail: str) -> ApiRequestError:
    """The error for an HTTP status, saying what to fix where we know it."""
    what = f"{verb} {resource.plural}"
    suffix = f": {detail}" if detail else ""
    if status == 410:
        return GoneError(f"{what}: 410 Gone (resourceVersion or continue token expired){suffix}")
    if status == 403:
        group = resource.group or '"" (core)'
        return ApiRequestError(
            f"{what}: 403 Forbidden: RBAC does not allow verb {verb!r} on resource "
            f"{resource.plural!r} in API group {group} at cluster scope; "
            f"grant list and watch on {resource.plural}{suffix}",
            status,
        )
    if status == 401:
        return ApiRequestError(f"{what}: 401 Unauthorized: credentials rejected{suffix}", status)
    return ApiRequestError(f"{what}: HTTP {status}{suffix}", status)


def _status_message(body: bytes) -> str:
    """The `message` of a Status body, or the start of whatever came."""
    try:
        document = json.loads(body)
    except ValueError:
        return " ".join(body[:_MAX_MESSAGE].decode("utf-8", "replace").split())
    if isinstance(document, dict) and isinstance(document.get("message"), str):
        return " ".join(document["message"].split())[:_MAX_MESSAGE]
    return ""


def _parse_list(resource: Resource, body: bytes) -> ListPage:
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise ApiRequestError(f"list {resource.plural}: malformed JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ApiRequestError(f"list {resource.plural}: response is not a JSON object")
    metadata = document.get("metadata")
    items = document.get("items") or []
    if not isinstance(metadata, dict) or not isinstance(items, list):
        raise ApiRequestError(f"list {resource.plural}: response lacks metadata or items")
    version = metadata.get("resourceVersion")
    token = metadata.get("continue") or ""
    if not isinstance(version, str) or not version or not isinstance(token, str):
        raise ApiRequestError(f"list {resource.plural}: response lacks metadata.resourceVersion")
    if not all(isinstance(item, dict) for item in items):
        raise ApiRequestError(f"list {resource.plural}: items must be JSON objects")
    return ListPage(tuple(items), version, token)


class WatchStream:
    """One watch response read as JSON lines; lines may span chunks, chunks may hold many."""

    def __init__(self, response: Any, what: str) -> None:
        self._response = response
        self._what = what
        self._closed = threading.Event()  # close() was called
        self._released = threading.Event()  # the response is closed or back in the pool
        self._events = self._read_events()

    def __iter__(self) -> Iterator[JsonObject]:
        """The stream itself."""
        return self

    def __next__(self) -> JsonObject:
        """The next event; StopIteration when the server ends the stream."""
        return next(self._events)

    def close(self) -> None:
        """Abort the stream; from another thread this wakes a read blocked on the socket."""
        self._closed.set()
        if not self._released.is_set():
            try:
                # shutdown() (urllib3 >= 2.3) is the one thread-safe way to end a blocked recv.
                self._response.shutdown()
            except (ValueError, RuntimeError, OSError) as exc:
                logger.debug("%s: cannot shut the socket down: %s", self._what, exc)
        try:
            self._events.close()
        except ValueError:
            # The generator runs in the reader's thread; the shutdown above ends its read.
            logger.debug("%s: closed while its reader runs", self._what)

    def _read_events(self) -> Generator[JsonObject, None, None]:
        pending = bytearray()
        clean_end = False
        try:
            for chunk in self._chunks():
                pending += chunk
                if b"\n" in chunk:
                    *lines, rest = bytes(pending).split(b"\n")
                    pending = bytearray(rest)
                    for line in lines:
                        if line.strip():
                            yield _parse_event(self._what, line)
            if self._closed.is_set():
                return
            if pending.strip():
                raise ApiRequestError(f"{self._what}: stream ended inside an event")
            clean_end = True
        finally:
            self._released.set()
            if not clean_end:
                self._response.close()  # unread data: the connection cannot be reused
            self._response.release_conn()

    def _chunks(self) -> Iterator[bytes]:
        """Body bytes as they arrive, until the server ends the body or close() is called."""
        while not self._closed.is_set():
            try:
                chunk: bytes = self._response.read1(_READ_SIZE)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if self._closed.is_set():
                    return
                raise ApiRequestError(f"{self._what}: {_one_line(exc)}") from exc
            if not chunk:
                return
            yield chunk


def _parse_event(what: str, line: bytes) -> JsonObject:
    try:
        event = json.loads(line)
    except ValueError as exc:
        raise ApiRequestError(f"{what}: malformed event line: {_one_line(exc)}") from exc
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("type"), str)
        or not isinstance(event.get("object"), dict)
    ):
        raise ApiRequestError(f"{what}: event lacks type or object")
    return event
