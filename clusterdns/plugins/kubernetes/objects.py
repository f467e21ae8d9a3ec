"""Slim frozen cluster objects, made at once from raw API dicts, holding only what answers need."""

import ipaddress
import re
import socket
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from clusterdns.errors import ObjectError
from clusterdns.plugins.kubernetes.apinames import valid_name

NAMESPACE = "Namespace"
SERVICE = "Service"
ENDPOINT_SLICE = "EndpointSlice"
ENDPOINTS = "Endpoints"
POD = "Pod"

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# Legacy Endpoints become slices under this name so both kinds share one code path.
LEGACY_SLICE_PREFIX = "endpoints/"


@dataclass(frozen=True, slots=True)
class Namespace:
    """A namespace: its existence is all DNS needs."""

    name: str


@dataclass(frozen=True, slots=True)
class Port:
    """A Service or EndpointSlice port; `name` is '' for an unnamed port."""

    name: str
    protocol: str
    port: int


@dataclass(frozen=True, slots=True)
class Service:
    """A Service: its type, cluster IPs, ports and external name."""

    namespace: str
    name: str
    type: str
    cluster_ips: tuple[str, ...]
    ports: tuple[Port, ...]
    external_name: str = ""
    selector: bool = False
    # spec.externalIPs then status.loadBalancer.ingress (ip, else hostname as an absolute
    # name ending in "."), as CoreDNS's object.Service.ExternalIPs: for k8s_external.
    external: tuple[str, ...] = ()

    @property
    def headless(self) -> bool:
        """True for a selector-style Service without cluster IPs (clusterIP: None)."""
        return self.type != "ExternalName" and not self.cluster_ips


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One address of a slice's endpoint, ready or not, with its hostname.

    The API allows several addresses per endpoint (in practice there is one); each becomes
    its own Endpoint, which keeps 100k-endpoint clusters inside the memory budget.
    """

    address: str
    ready: bool
    hostname: str = ""
    pod_name: str = ""  # kept only for `endpoint_pod_names`


@dataclass(frozen=True, slots=True)
class EndpointSlice:
    """An EndpointSlice joined to its Service by name.

    In `endpoints`, a bare address string stands for a ready endpoint without a hostname, the
    usual case: it saves an object per endpoint (7 MiB at 100k). `members()` hides the trick.
    """

    namespace: str
    name: str
    service: str
    endpoints: tuple[Endpoint | str, ...]
    ports: tuple[Port, ...]

    def members(self) -> Iterator[Endpoint]:
        """Every endpoint address as an Endpoint."""
        for item in self.endpoints:
            yield Endpoint(item, True) if isinstance(item, str) else item


@dataclass(frozen=True, slots=True)
class Pod:
    """A pod's IPs, for `pods verified`."""

    namespace: str
    name: str
    ips: tuple[str, ...]


ClusterObject = Namespace | Service | EndpointSlice | Pod

RawObject = Mapping[str, Any]


def _get(raw: RawObject, path: str) -> Any:
    """Walk a dotted path of mappings; None where any step is missing.

    Objects come from JSON or YAML, so every mapping is a dict: `isinstance(x, dict)` is
    several times cheaper than the ABC check against Mapping, and this runs 10^6 times in a
    100k-Service sync.
    """
    node: Any = raw
    for key in _path_keys(path):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


@lru_cache(maxsize=256)
def _path_keys(path: str) -> tuple[str, ...]:
    """The keys of a dotted path, split once per distinct path (a few dozen in all)."""
    return tuple(path.split("."))


def _text(raw: RawObject, path: str, required: bool = True) -> str:
    value = _get(raw, path)
    if value is None or value == "":
        if required:
            raise ObjectError(path, "missing")
        return ""
    if not isinstance(value, str):
        raise ObjectError(path, f"must be a string, got {type(value).__name__}")
    return value


def _list(raw: RawObject | Any, path: str) -> list[Any]:
    value = _get(raw, path) if isinstance(raw, dict) else None
    if value is None:
        return []
    if not isinstance(value, list):
        raise ObjectError(path, f"must be a list, got {type(value).__name__}")
    return value


def _address(value: Any, field: str) -> str:
    """Canonical text of an IP address, or ObjectError naming `field`."""
    if not isinstance(value, str):
        raise ObjectError(field, f"must be an IP address, got {value!r}")
    if ":" not in value:
        # inet_pton is strict dotted-quad (no octal, no short forms) and 20x faster than
        # ipaddress; a valid IPv4 text is already canonical.
        try:
            socket.inet_pton(socket.AF_INET, value)
            return value
        except OSError:
            raise ObjectError(field, f"malformed IP address {value!r}") from None
    try:
        return str(ipaddress.IPv6Address(value))
    except ValueError:
        raise ObjectError(field, f"malformed IP address {value!r}") from None


def _name(value: str) -> str:
    """A lowercase name, interned: namespaces, Service names and ports repeat across objects."""
    return sys.intern(value.lower())


def _unique_name(value: str) -> str:
    """A lowercase name that no other object repeats (slice names): not worth interning."""
    return value if value.islower() else value.lower()


@lru_cache(maxsize=4096)
def _port(name: str, protocol: str, number: int) -> Port:
    """One shared Port per distinct value: most Services repeat a handful of ports."""
    return Port(_name(name), _name(protocol), number)


def _ports(items: list[Any], field: str) -> tuple[Port, ...]:
    ports = []
    for index, item in enumerate(items):
        where = f"{field}[{index}]"
        if not isinstance(item, dict):
            raise ObjectError(where, "must be a mapping")
        number = item.get("port")
        if number is None:
            continue  # EndpointSlice ports may leave the number unset: "all ports".
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= 65535:
            raise ObjectError(f"{where}.port", f"must be 0..65535, got {number!r}")
        name = item.get("name") or ""
        protocol = item.get("protocol") or "TCP"
        if not isinstance(name, str) or not isinstance(protocol, str):
            raise ObjectError(where, "name and protocol must be strings")
        ports.append(_port(name, protocol, number))
    return _port_tuple(tuple(ports))


@lru_cache(maxsize=4096)
def _port_tuple(ports: tuple[Port, ...]) -> tuple[Port, ...]:
    """One shared tuple per distinct port list."""
    return ports


def parse_namespace(raw: RawObject) -> Namespace:
    """A Namespace from its API dict."""
    return Namespace(_name(_text(raw, "metadata.name")))


def _namespaced(raw: RawObject) -> tuple[str, str]:
    """(namespace, name) of an object, interned; the namespace defaults to `default`."""
    namespace = _text(raw, "metadata.namespace", required=False) or "default"
    return _name(namespace), _name(_text(raw, "metadata.name"))


def parse_service(raw: RawObject) -> Service:
    """A Service from its API dict (v1, dual-stack aware)."""
    namespace, name = _namespaced(raw)
    kind = sys.intern(_text(raw, "spec.type", required=False) or "ClusterIP")
    if kind not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        raise ObjectError("spec.type", f"unknown Service type {kind!r}")
    ports = _ports(_list(raw, "spec.ports"), "spec.ports")
    if kind == "ExternalName":
        external = _text(raw, "spec.externalName").lower().rstrip(".")
        return Service(namespace, name, kind, (), ports, external + ".")
    ips = _list(raw, "spec.clusterIPs")
    # Errors name the field the document has: a hand-written manifest often sets only
    # spec.clusterIP, and the API server fills in spec.clusterIPs from it.
    fields = [f"spec.clusterIPs[{i}]" for i in range(len(ips))]
    if not ips and (single := _get(raw, "spec.clusterIP")) is not None:
        ips, fields = [single], ["spec.clusterIP"]
    addresses = tuple(
        _address(ip, field) for ip, field in zip(ips, fields, strict=True) if ip not in ("None", "")
    )
    selector = bool(_get(raw, "spec.selector"))
    return Service(
        namespace, name, kind, addresses, ports, selector=selector, external=_external(raw)
    )


_HOSTNAME = re.compile(r"[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*", re.ASCII)


def _external(raw: RawObject) -> tuple[str, ...]:
    """spec.externalIPs and the load balancer's ingress IPs or hostnames, in that order."""
    found = [
        _address(ip, f"spec.externalIPs[{i}]")
        for i, ip in enumerate(_list(raw, "spec.externalIPs"))
    ]
    for i, item in enumerate(_list(raw, "status.loadBalancer.ingress")):
        if not isinstance(item, dict):
            raise ObjectError(f"status.loadBalancer.ingress[{i}]", "must be a mapping")
        if item.get("ip"):
            found.append(_address(item["ip"], f"status.loadBalancer.ingress[{i}].ip"))
        elif item.get("hostname"):
            host = item["hostname"]
            name = host.lower().rstrip(".") if isinstance(host, str) else ""
            if not _HOSTNAME.fullmatch(name) or len(name) > 253:
                field = f"status.loadBalancer.ingress[{i}].hostname"
                raise ObjectError(field, f"must be a DNS name, got {host!r}")
            found.append(sys.intern(name + "."))
    return tuple(found) if found else ()


def _endpoints(item: Any, field: str, address_type: str, pod_names: bool) -> list[Endpoint | str]:
    if not isinstance(item, dict):
        raise ObjectError(field, "must be a mapping")
    # Kubernetes API: an unset `ready` condition must be read as ready.
    ready = _get(item, "conditions.ready") is not False
    hostname = _name(str(item.get("hostname") or ""))
    pod = _pod_name(item) if pod_names else ""
    endpoints: list[Endpoint | str] = []
    for index, raw in enumerate(_list(item, "addresses")):
        address = _address(raw, f"{field}.addresses[{index}]")
        if (":" in address) != (address_type == "IPv6"):
            raise ObjectError(f"{field}.addresses[{index}]", f"not an {address_type} address")
        endpoints.append(_compact(Endpoint(address, ready, hostname, pod)))
    return endpoints


def _pod_name(item: Any) -> str:
    """The name of the Pod behind an endpoint (targetRef), lowercased; '' if not a DNS label.

    Pod names are RFC 1123 subdomains: one with a dot or over 63 characters cannot be a single
    label, so such an endpoint keeps its dashed-IP name instead.
    """
    target = item.get("targetRef") if isinstance(item, dict) else None
    if isinstance(target, dict) and target.get("kind", "Pod") == "Pod":
        name = target.get("name")
        if isinstance(name, str) and name and valid_name("label", name):
            return name.lower()
    return ""


def _compact(endpoint: Endpoint) -> Endpoint | str:
    """The bare address for a ready endpoint with no names (see EndpointSlice)."""
    plain = endpoint.ready and not endpoint.hostname and not endpoint.pod_name
    return endpoint.address if plain else endpoint


def parse_endpoint_slice(raw: RawObject, pod_names: bool = False) -> EndpointSlice | None:
    """An EndpointSlice from its API dict; None for FQDN slices, which DNS does not serve.

    `pod_names` keeps each endpoint's Pod name, for `endpoint_pod_names`.
    """
    namespace = _name(_text(raw, "metadata.namespace", required=False) or "default")
    name = _unique_name(_text(raw, "metadata.name"))
    labels = _get(raw, "metadata.labels") or {}
    service = labels.get(SERVICE_NAME_LABEL, "") if isinstance(labels, dict) else ""
    if not service:
        raise ObjectError(f"metadata.labels[{SERVICE_NAME_LABEL}]", "missing")
    address_type = _text(raw, "addressType")
    if address_type == "FQDN":
        return None
    if address_type not in ("IPv4", "IPv6"):
        raise ObjectError("addressType", f"unknown address type {address_type!r}")
    endpoints = tuple(
        endpoint
        for i, item in enumerate(_list(raw, "endpoints"))
        for endpoint in _endpoints(item, f"endpoints[{i}]", address_type, pod_names)
    )
    ports = _ports(_list(raw, "ports"), "ports")
    return EndpointSlice(namespace, name, _name(str(service)), endpoints, ports)


def parse_endpoints(raw: RawObject, pod_names: bool = False) -> EndpointSlice:
    """A legacy v1 Endpoints object, converted to one slice of its Service."""
    namespace, name = _namespaced(raw)
    endpoints: list[Endpoint | str] = []
    ports: list[Port] = []
    for s, subset in enumerate(_list(raw, "subsets")):
        where = f"subsets[{s}]"
        ports.extend(_ports(_list(subset, "ports"), f"{where}.ports"))
        for key, ready in (("addresses", True), ("notReadyAddresses", False)):
            for a, item in enumerate(_list(subset, key)):
                field = f"{where}.{key}[{a}]"
                if not isinstance(item, dict):
                    raise ObjectError(field, "must be a mapping")
                address = _address(item.get("ip"), f"{field}.ip")
                hostname = _name(str(item.get("hostname") or ""))
                pod = _pod_name(item) if pod_names else ""
                endpoints.append(_compact(Endpoint(address, ready, hostname, pod)))
    unique_ports = _port_tuple(tuple(dict.fromkeys(ports)))
    return EndpointSlice(
        namespace, LEGACY_SLICE_PREFIX + name, name, tuple(endpoints), unique_ports
    )


def parse_pod(raw: RawObject) -> Pod:
    """A Pod's namespace, name and IPs."""
    namespace, name = _namespaced(raw)
    ips = [entry.get("ip") for entry in _list(raw, "status.podIPs") if isinstance(entry, dict)]
    if not ips and _get(raw, "status.podIP"):
        ips = [_get(raw, "status.podIP")]
    addresses = tuple(_address(ip, f"status.podIPs[{i}]") for i, ip in enumerate(ips))
    return Pod(namespace, name, addresses)


def parse_object(raw: RawObject, pod_names: bool = False) -> ClusterObject | None:
    """The slim object for any supported kind; None for objects DNS ignores (FQDN slices)."""
    kind = raw.get("kind")
    if kind == NAMESPACE:
        return parse_namespace(raw)
    if kind == SERVICE:
        return parse_service(raw)
    if kind == ENDPOINT_SLICE:
        return parse_endpoint_slice(raw, pod_names)
    if kind == ENDPOINTS:
        return parse_endpoints(raw, pod_names)
    if kind == POD:
        return parse_pod(raw)
    raise ObjectError(
        "kind",
        f"unsupported kind {kind!r} (want Namespace, Service, EndpointSlice, Endpoints or Pod)",
    )
