"""A loopback Kubernetes API server speaking the real list/watch wire protocol, with faults."""

from __future__ import annotations

import base64
import bisect
import copy
import enum
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

Json = dict[str, Any]


@dataclass(frozen=True)
class _Route:
    plural: str
    kind: str
    api_version: str
    namespaced: bool


ROUTES = {
    "/api/v1/services": _Route("services", "Service", "v1", True),
    "/apis/discovery.k8s.io/v1/endpointslices": _Route(
        "endpointslices", "EndpointSlice", "discovery.k8s.io/v1", True
    ),
    "/api/v1/namespaces": _Route("namespaces", "Namespace", "v1", False),
    "/api/v1/pods": _Route("pods", "Pod", "v1", True),
}
_BY_PLURAL = {route.plural: route for route in ROUTES.values()}
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class WatchFault(enum.Enum):
    """What the next watch stream does wrong."""

    ERROR_410 = "error-410"  # an ERROR event holding a 410 Status, then the end
    GARBAGE = "garbage"  # a line that is not JSON, then the end
    CUT = "cut"  # half of the next event, then the connection dies
    STALL = "stall"  # headers, then silence until release_stalls() or close()
    UNKNOWN_TYPE = "unknown-type"  # an event of a type nobody knows, then normal service


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it, with the status it answered."""

    method: str
    path: str
    verb: str
    resource: str
    query: Mapping[str, str]
    status: int
    authorization: str


@dataclass
class _Fault:
    status: int
    remaining: int | None
    verb: str | None
    resource: str | None


@dataclass(frozen=True)
class _Event:
    version: int
    resource: str
    type: str
    obj: Json


class _ClientGone(Exception):
    """The client closed its end while we were writing."""


class _Server(ThreadingHTTPServer):
    """Tracks open connections so close() can end even idle keep-alive ones."""

    api: FakeKubeAPI

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler, bind_and_activate=False)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # a safety net: close() shuts every connection down long before this

    def do_GET(self) -> None:
        cast(_Server, self.server).api._serve(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        return  # the request log replaces stderr noise


class FakeKubeAPI:
    """Serves services, endpointslices, namespaces and pods to the real `kubernetes` client."""

    def __init__(
        self,
        *,
        token: str = "fake-token",
        history_limit: int = 10_000,
        start: bool = True,
        on_request: Callable[[], None] | None = None,
    ) -> None:
        self.token = token
        self.history_limit = history_limit
        self.on_request = on_request
        # Split every event line into HTTP chunks this big (None: one chunk per batch of events).
        self.chunk_size: int | None = None
        self._cond = threading.Condition()
        self._version = 100
        self._objects: dict[str, dict[tuple[str, str], Json]] = {p: {} for p in _BY_PLURAL}
        self._history: list[_Event] = []
        self._history_versions: list[int] = []
        self._compacted = 0  # a watch from below this version gets 410
        self._faults: list[_Fault] = []
        self._watch_faults: list[tuple[str | None, WatchFault]] = []
        self._stream_epoch = 0
        self._abrupt_end = False
        self._bookmark_epoch = 0
        self._stall_epoch = 0
        self._snapshots: dict[int, tuple[int, list[Json]]] = {}
        self._next_snapshot = 1
        self._log: list[RecordedRequest] = []
        self._closed = False
        self._server = _Server()
        self._server.api = self
        self._server.server_bind()
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None
        if start:
            self.start()

    @property
    def url(self) -> str:
        """Base URL of the API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def resource_version(self) -> str:
        """The newest resourceVersion handed out."""
        with self._cond:
            return str(self._version)

    def start(self) -> None:
        """Listen and serve (until then the bound port refuses connections)."""
        if self._thread is not None:
            return
        self._server.server_activate()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """End every stream and connection and join every server thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._server.shutdown()
        with self._server.connections_lock:
            connections = list(self._server.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue  # already closed by its handler
        self._server.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join()

    def write_kubeconfig(self, path: str | Path, context: str = "fake") -> str:
        """Write a kubeconfig (JSON is YAML) pointing at this server with token auth."""
        Path(path).write_text(json.dumps(self.kubeconfig(context)))
        return str(path)

    def kubeconfig(self, context: str = "fake") -> Json:
        """A kubeconfig document for this server."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": self.token}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            "current-context": context,
        }

    # Objects

    def add(self, resource: str, obj: Json, *, deliver: bool = True) -> str:
        """Create an object; returns its resourceVersion."""
        return self._change(resource, "ADDED", obj, deliver)

    def modify(self, resource: str, obj: Json, *, deliver: bool = True) -> str:
        """Replace an existing object; returns its new resourceVersion."""
        return self._change(resource, "MODIFIED", obj, deliver)

    def delete(self, resource: str, obj: Json, *, deliver: bool = True) -> str:
        """Delete an object (namespace and name are enough)."""
        return self._change(resource, "DELETED", obj, deliver)

    def objects(self, resource: str) -> list[Json]:
        """Current objects of a resource."""
        with self._cond:
            return [copy.deepcopy(o) for o in self._objects[resource].values()]

    def _change(self, resource: str, kind: str, obj: Json, deliver: bool) -> str:
        key = _key(obj)
        with self._cond:
            store = self._objects[resource]
            exists = key in store
            if (kind == "ADDED") == exists:
                raise KeyError(f"{resource} {key}: {'exists' if exists else 'not found'}")
            self._version += 1
            stored = copy.deepcopy(store[key] if kind == "DELETED" else obj)
            stored.pop("kind", None)
            stored.pop("apiVersion", None)
            stored.setdefault("metadata", {})["resourceVersion"] = str(self._version)
            if kind == "DELETED":
                del store[key]
            else:
                store[key] = stored
            if deliver:
                self._history.append(_Event(self._version, resource, kind, stored))
                self._history_versions.append(self._version)
                self._trim_history()
                self._cond.notify_all()
            else:
                # As if compaction took the event: only a relist can learn of this change.
                self._compacted = self._version
            return str(self._version)

    def _trim_history(self) -> None:
        excess = len(self._history) - self.history_limit
        if excess > 0:
            self._compacted = max(self._compacted, self._history[excess - 1].version)
            del self._history[:excess]
            del self._history_versions[:excess]

    def compact(self) -> None:
        """Forget all history: watches from any older version get 410."""
        with self._cond:
            self._compacted = self._version
            self._history.clear()
            self._history_versions.clear()

    # Faults and stream control

    def fail_next(
        self,
        status: int,
        *,
        count: int | None = 1,
        verb: str | None = None,
        resource: str | None = None,
    ) -> None:
        """Answer the next `count` matching requests (None: all until cleared) with `status`."""
        with self._cond:
            self._faults.append(_Fault(status, count, verb, resource))

    def clear_faults(self) -> None:
        """Serve normally again."""
        with self._cond:
            self._faults.clear()
            self._watch_faults.clear()

    def inject_watch_fault(self, fault: WatchFault, resource: str | None = None) -> None:
        """Make the next watch stream (of `resource`, or any) misbehave."""
        with self._cond:
            self._watch_faults.append((resource, fault))

    def end_watches(self, *, abrupt: bool = False) -> None:
        """End every open stream: cleanly, or by killing the connection."""
        with self._cond:
            self._stream_epoch += 1
            self._abrupt_end = abrupt
            self._cond.notify_all()

    def release_stalls(self) -> None:
        """Let stalled streams go (their connections are then dropped)."""
        with self._cond:
            self._stall_epoch += 1
            self._cond.notify_all()

    def bookmark(self) -> None:
        """Send a BOOKMARK at the current version to every stream that allows them."""
        with self._cond:
            self._bookmark_epoch += 1
            self._cond.notify_all()

    # Request log

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far."""
        with self._cond:
            return list(self._log)

    def requests_for(
        self, verb: str | None = None, resource: str | None = None
    ) -> list[RecordedRequest]:
        """Requests with this verb and resource."""
        return [
            r
            for r in self.requests
            if (verb is None or r.verb == verb) and (resource is None or r.resource == resource)
        ]

    def _record(self, request: RecordedRequest) -> None:
        with self._cond:
            self._log.append(request)
        if self.on_request is not None:
            self.on_request()

    # Serving

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        path = parts.path.rstrip("/")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        route = ROUTES.get(path)
        watching = query.get("watch", "").lower() in ("1", "true")
        if handler.command != "GET":
            verb = _VERBS.get(handler.command, handler.command.lower())
        elif route is None:
            verb = "get"
        else:
            verb = "watch" if watching else "list"
        resource = route.plural if route else ""
        authorization = handler.headers.get("Authorization", "")

        def answer(status: int) -> RecordedRequest:
            return RecordedRequest(
                handler.command, path, verb, resource, query, status, authorization
            )

        try:
            if authorization != f"Bearer {self.token}":
                self._fail(handler, answer(401), "Unauthorized", "Unauthorized")
            elif (status := self._take_fault(verb, resource)) is not None:
                self._fail(handler, answer(status), *_fault_text(status, verb, resource))
            elif route is None or handler.command != "GET":
                self._fail(handler, answer(404), "NotFound", f"{verb} {path}: not served")
            elif verb == "list":
                self._list(handler, route, query, answer)
            else:
                self._watch(handler, route, query, answer)
        except (_ClientGone, ConnectionError, TimeoutError):
            handler.close_connection = True

    def _take_fault(self, verb: str, resource: str) -> int | None:
        with self._cond:
            for fault in self._faults:
                if fault.verb not in (None, verb) or fault.resource not in (None, resource):
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault.status
        return None

    def _fail(
        self, handler: BaseHTTPRequestHandler, request: RecordedRequest, reason: str, message: str
    ) -> None:
        self._record(request)
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": request.status,
        }
        _send_json(handler, request.status, body)

    def _list(
        self,
        handler: BaseHTTPRequestHandler,
        route: _Route,
        query: Mapping[str, str],
        answer: Callable[[int], RecordedRequest],
    ) -> None:
        limit = int(query.get("limit") or 0)
        page = self._page(route, limit, query.get("continue", ""))
        if page is None:
            self._fail(handler, answer(410), "Expired", "continue token too old; relist")
            return
        items, metadata = page
        self._record(answer(200))
        body = {
            "apiVersion": route.api_version,
            "kind": f"{route.kind}List",
            "metadata": metadata,
            "items": items,
        }
        _send_json(handler, 200, body)

    def _page(self, route: _Route, limit: int, token: str) -> tuple[list[Json], Json] | None:
        """One page and the list metadata; every page of a list shows one snapshot."""
        with self._cond:
            if token:
                snapshot_id, offset = _decode_token(token)
                snapshot = self._snapshots.pop(snapshot_id, None)
                if snapshot is None:
                    return None
            else:
                snapshot_id, offset = self._next_snapshot, 0
                self._next_snapshot += 1
                objects = self._objects[route.plural]
                snapshot = (self._version, [objects[k] for k in sorted(objects)])
            version, items = snapshot
            end = offset + limit if limit > 0 else len(items)
            metadata: Json = {"resourceVersion": str(version)}
            if end < len(items):
                self._snapshots[snapshot_id] = snapshot
                metadata["continue"] = _encode_token(snapshot_id, end)
                metadata["remainingItemCount"] = len(items) - end
            return items[offset:end], metadata

    def _watch(
        self,
        handler: BaseHTTPRequestHandler,
        route: _Route,
        query: Mapping[str, str],
        answer: Callable[[int], RecordedRequest],
    ) -> None:
        since = query.get("resourceVersion", "")
        timeout = float(query.get("timeoutSeconds") or 1800)
        bookmarks = query.get("allowWatchBookmarks", "").lower() in ("1", "true")
        # Everything the stream starts from is fixed before the request shows in the log.
        with self._cond:
            fault = self._take_watch_fault(route.plural)
            epoch, bookmark_epoch = self._stream_epoch, self._bookmark_epoch
            compacted = self._compacted
            if since in ("", "0"):
                # resourceVersion unset or "0": synthetic ADDED events for the current state.
                initial = [_event(route, "ADDED", o) for o in self._objects[route.plural].values()]
                cursor = self._version
            elif int(since) < compacted:
                initial = None
                cursor = 0
            else:
                initial = []
                cursor = int(since)
        self._record(answer(200))
        stream = _ChunkedStream(handler, self.chunk_size)
        if fault is WatchFault.STALL:
            self._stall(stream)
            return
        if fault is WatchFault.ERROR_410:
            stream.send(_error_410(f"too old resource version: {since}"))
            stream.end()
            return
        if fault is WatchFault.GARBAGE:
            stream.send_raw(b"{this is not json\n")
            stream.end()
            return
        if fault is WatchFault.UNKNOWN_TYPE:
            stream.send([{"type": "SURPRISE", "object": {"kind": "Surprise", "metadata": {}}}])
        if initial is None:
            stream.send(_error_410(f"too old resource version: {since} ({compacted})"))
            stream.end()
            return
        stream.send(initial)
        deadline = time.monotonic() + timeout
        cut = fault is WatchFault.CUT
        while True:
            with self._cond:
                while True:
                    ended = self._closed or self._stream_epoch != epoch
                    events = self._events_after(route.plural, cursor)
                    mark = bookmarks and self._bookmark_epoch != bookmark_epoch
                    remaining = deadline - time.monotonic()
                    if ended or events or mark or remaining <= 0:
                        break
                    self._cond.wait(remaining)
                abrupt = self._abrupt_end
                bookmark_epoch = self._bookmark_epoch
                now = self._version
            if cut and events:
                line = json.dumps(_event(route, events[0].type, events[0].obj)).encode()
                stream.send_raw(line[: len(line) // 2])
                stream.abort()
                return
            stream.send([_event(route, e.type, e.obj) for e in events])
            if events:
                cursor = events[-1].version
            if mark:
                bookmark: Json = {
                    "kind": route.kind,
                    "apiVersion": route.api_version,
                    "metadata": {"resourceVersion": str(now)},
                }
                stream.send([{"type": "BOOKMARK", "object": bookmark}])
                cursor = now
            if ended or remaining <= 0:
                break
        if ended and abrupt:
            stream.abort()
        else:
            stream.end()

    def _take_watch_fault(self, resource: str) -> WatchFault | None:
        for index, (wanted, fault) in enumerate(self._watch_faults):
            if wanted in (None, resource):
                del self._watch_faults[index]
                return fault
        return None

    def _events_after(self, resource: str, cursor: int) -> list[_Event]:
        start = bisect.bisect_right(self._history_versions, cursor)
        return [e for e in self._history[start:] if e.resource == resource]

    def _stall(self, stream: _ChunkedStream) -> None:
        with self._cond:
            epoch = self._stall_epoch
            self._cond.wait_for(lambda: self._closed or self._stall_epoch != epoch)
        stream.abort()


class _ChunkedStream:
    """Writes a chunked response body, optionally cutting lines into tiny chunks."""

    def __init__(self, handler: BaseHTTPRequestHandler, chunk_size: int | None) -> None:
        self._handler = handler
        self._chunk_size = chunk_size
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        self._write(b"")

    def send(self, events: list[Json]) -> None:
        if events:
            self.send_raw(b"".join(json.dumps(e).encode() + b"\n" for e in events))

    def send_raw(self, data: bytes) -> None:
        size = self._chunk_size or len(data)
        pieces = [data[i : i + size] for i in range(0, len(data), size)]
        self._write(b"".join(b"%X\r\n%s\r\n" % (len(p), p) for p in pieces))

    def end(self) -> None:
        self._write(b"0\r\n\r\n")

    def abort(self) -> None:
        self._handler.close_connection = True
        try:
            self._handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            return  # the client is gone already

    def _write(self, data: bytes) -> None:
        try:
            if data:
                self._handler.wfile.write(data)
            self._handler.wfile.flush()
        except OSError as exc:
            raise _ClientGone() from exc


def _send_json(handler: BaseHTTPRequestHandler, status: int, body: Json) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
    handler.wfile.flush()


def _event(route: _Route, kind: str, obj: Json) -> Json:
    # Watch events carry kind and apiVersion; list items do not.
    return {"type": kind, "object": {"kind": route.kind, "apiVersion": route.api_version, **obj}}


def _error_410(message: str) -> list[Json]:
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Expired",
        "code": 410,
    }
    return [{"type": "ERROR", "object": status}]


def _fault_text(status: int, verb: str, resource: str) -> tuple[str, str]:
    if status == 403:
        group = (
            _BY_PLURAL[resource].api_version.rpartition("/")[0] if resource in _BY_PLURAL else ""
        )
        return "Forbidden", (
            f'{resource} is forbidden: User "system:serviceaccount:kube-system:coredns" '
            f'cannot {verb} resource "{resource}" in API group "{group}" at the cluster scope'
        )
    if status == 410:
        return "Expired", "too old resource version"
    return "InternalError", f"injected failure {status}"


def _key(obj: Json) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return (metadata.get("namespace", ""), metadata["name"])


def _encode_token(snapshot: int, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([snapshot, offset]).encode()).decode()


def _decode_token(token: str) -> tuple[int, int]:
    snapshot, offset = json.loads(base64.urlsafe_b64decode(token))
    return int(snapshot), int(offset)


# Raw API objects, shaped as `kubectl get -o json` items (no kind: the list carries it).


def service(
    name: str,
    namespace: str = "default",
    cluster_ip: str | None = "10.96.0.10",
    *,
    port: int = 80,
    **spec: Any,
) -> Json:
    """A raw v1 Service."""
    body: Json = {"ports": [{"name": "http", "protocol": "TCP", "port": port}], **spec}
    if cluster_ip is not None:
        body.setdefault("clusterIP", cluster_ip)
        body.setdefault("clusterIPs", [cluster_ip])
    return {"metadata": {"name": name, "namespace": namespace}, "spec": body}


def endpoint_slice(
    name: str,
    service_name: str,
    addresses: list[str],
    namespace: str = "default",
    *,
    port: int = 80,
) -> Json:
    """A raw discovery.k8s.io/v1 EndpointSlice of `service_name`, one endpoint per address."""
    labels = {"kubernetes.io/service-name": service_name}
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "addressType": "IPv6" if addresses and ":" in addresses[0] else "IPv4",
        "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in addresses],
        "ports": [{"name": "http", "protocol": "TCP", "port": port}],
    }


def namespace(name: str) -> Json:
    """A raw v1 Namespace."""
    return {"metadata": {"name": name}, "status": {"phase": "Active"}}


def pod(name: str, ip: str, namespace: str = "default") -> Json:
    """A raw v1 Pod with one IP."""
    return {
        "metadata": {"name": name, "namespace": namespace},
        "status": {"podIP": ip, "podIPs": [{"ip": ip}]},
    }
