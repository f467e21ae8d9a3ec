"""Slim frozen cluster objects, made at once from raw API dicts, holding only what answers need."""

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clusterdns.errors import ObjectError

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

    @property
    def headless(self) -> bool:
        """True for a selector-style Service without cluster IPs (clusterIP: None)."""
        return self.type != "ExternalName" and not self.cluster_ips


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One ready-or-not endpoint of a slice: its addresses and names."""

    addresses: tuple[str, ...]
    ready: bool
    hostname: str = ""
    pod_name: str = ""


@dataclass(frozen=True, slots=True)
class EndpointSlice:
    """An EndpointSlice joined to its Service by name."""

    namespace: str
    name: str
    service: str
    endpoints: tuple[Endpoint, ...]
    ports: tuple[Port, ...]


@dataclass(frozen=True, slots=True)
class Pod:
    """A pod's IPs, for `pods verified`."""

    namespace: str
    name: str
    ips: tuple[str, ...]


ClusterObject = Namespace | Service | EndpointSlice | Pod

RawObject = Mapping[str, Any]


def _get(raw: RawObject, path: str) -> Any:
    """Walk a dotted path of mappings; None where any step is missing."""
    node: Any = raw
    for key in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


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
    value = _get(raw, path) if isinstance(raw, Mapping) else None
    if value is None:
        return []
    if not isinstance(value, list):
        raise ObjectError(path, f"must be a list, got {type(value).__name__}")
    return value


def _address(value: Any, field: str) -> str:
    """Canonical text of an IP address, or ObjectError naming `field`."""
    if not isinstance(value, str):
        raise ObjectError(field, f"must be an IP address, got {value!r}")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ObjectError(field, f"malformed IP address {value!r}") from None


def _ports(items: list[Any], field: str) -> tuple[Port, ...]:
    ports = []
    for index, item in enumerate(items):
        where = f"{field}[{index}]"
        if not isinstance(item, Mapping):
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
        ports.append(Port(name.lower(), protocol.lower(), number))
    return tuple(ports)


def parse_namespace(raw: RawObject) -> Namespace:
    """A Namespace from its API dict."""
    return Namespace(_text(raw, "metadata.name").lower())


def parse_service(raw: RawObject) -> Service:
    """A Service from its API dict (v1, dual-stack aware)."""
    namespace = _text(raw, "metadata.namespace", required=False) or "default"
    name = _text(raw, "metadata.name").lower()
    kind = _text(raw, "spec.type", required=False) or "ClusterIP"
    if kind not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        raise ObjectError("spec.type", f"unknown Service type {kind!r}")
    ports = _ports(_list(raw, "spec.ports"), "spec.ports")
    if kind == "ExternalName":
        external = _text(raw, "spec.externalName").lower().rstrip(".")
        return Service(namespace.lower(), name, kind, (), ports, external + ".")
    ips = _list(raw, "spec.clusterIPs") or [
        ip for ip in [_get(raw, "spec.clusterIP")] if ip is not None
    ]
    addresses = tuple(
        _address(ip, f"spec.clusterIPs[{i}]") for i, ip in enumerate(ips) if ip not in ("None", "")
    )
    selector = bool(_get(raw, "spec.selector"))
    return Service(namespace.lower(), name, kind, addresses, ports, selector=selector)


def _endpoint(item: Any, field: str, address_type: str) -> Endpoint:
    if not isinstance(item, Mapping):
        raise ObjectError(field, "must be a mapping")
    raw_addresses = _list(item, "addresses")
    addresses = tuple(_address(a, f"{field}.addresses[{i}]") for i, a in enumerate(raw_addresses))
    wanted = 4 if address_type == "IPv4" else 6
    for index, address in enumerate(addresses):
        if ipaddress.ip_address(address).version != wanted:
            raise ObjectError(f"{field}.addresses[{index}]", f"not an {address_type} address")
    # Kubernetes API: an unset `ready` condition must be read as ready.
    ready = _get(item, "conditions.ready") is not False
    hostname = item.get("hostname") or ""
    target = item.get("targetRef") or {}
    pod_name = target.get("name", "") if isinstance(target, Mapping) else ""
    return Endpoint(addresses, ready, str(hostname).lower(), str(pod_name or "").lower())


def parse_endpoint_slice(raw: RawObject) -> EndpointSlice | None:
    """An EndpointSlice from its API dict; None for FQDN slices, which DNS does not serve."""
    namespace = (_text(raw, "metadata.namespace", required=False) or "default").lower()
    name = _text(raw, "metadata.name").lower()
    labels = _get(raw, "metadata.labels") or {}
    service = labels.get(SERVICE_NAME_LABEL, "") if isinstance(labels, Mapping) else ""
    if not service:
        raise ObjectError(f"metadata.labels[{SERVICE_NAME_LABEL}]", "missing")
    address_type = _text(raw, "addressType")
    if address_type == "FQDN":
        return None
    if address_type not in ("IPv4", "IPv6"):
        raise ObjectError("addressType", f"unknown address type {address_type!r}")
    endpoints = tuple(
        _endpoint(item, f"endpoints[{i}]", address_type)
        for i, item in enumerate(_list(raw, "endpoints"))
    )
    ports = _ports(_list(raw, "ports"), "ports")
    return EndpointSlice(namespace, name, str(service).lower(), endpoints, ports)


def parse_endpoints(raw: RawObject) -> EndpointSlice:
    """A legacy v1 Endpoints object, converted to one slice of its Service."""
    namespace = (_text(raw, "metadata.namespace", required=False) or "default").lower()
    name = _text(raw, "metadata.name").lower()
    endpoints: list[Endpoint] = []
    ports: list[Port] = []
    for s, subset in enumerate(_list(raw, "subsets")):
        where = f"subsets[{s}]"
        ports.extend(_ports(_list(subset, "ports"), f"{where}.ports"))
        for key, ready in (("addresses", True), ("notReadyAddresses", False)):
            for a, item in enumerate(_list(subset, key)):
                field = f"{where}.{key}[{a}]"
                if not isinstance(item, Mapping):
                    raise ObjectError(field, "must be a mapping")
                address = _address(item.get("ip"), f"{field}.ip")
                target = item.get("targetRef") or {}
                endpoints.append(
                    Endpoint(
                        (address,),
                        ready,
                        str(item.get("hostname") or "").lower(),
                        str(target.get("name", "") if isinstance(target, Mapping) else "").lower(),
                    )
                )
    unique_ports = tuple(dict.fromkeys(ports))
    return EndpointSlice(
        namespace, LEGACY_SLICE_PREFIX + name, name, tuple(endpoints), unique_ports
    )


def parse_pod(raw: RawObject) -> Pod:
    """A Pod's namespace, name and IPs."""
    namespace = (_text(raw, "metadata.namespace", required=False) or "default").lower()
    name = _text(raw, "metadata.name").lower()
    ips = [entry.get("ip") for entry in _list(raw, "status.podIPs") if isinstance(entry, Mapping)]
    if not ips and _get(raw, "status.podIP"):
        ips = [_get(raw, "status.podIP")]
    addresses = tuple(_address(ip, f"status.podIPs[{i}]") for i, ip in enumerate(ips))
    return Pod(namespace, name, addresses)


def parse_object(raw: RawObject) -> ClusterObject | None:
    """The slim object for any supported kind; None for objects DNS ignores (FQDN slices)."""
    kind = raw.get("kind")
    if kind == NAMESPACE:
        return parse_namespace(raw)
    if kind == SERVICE:
        return parse_service(raw)
    if kind == ENDPOINT_SLICE:
        return parse_endpoint_slice(raw)
    if kind == ENDPOINTS:
        return parse_endpoints(raw)
    if kind == POD:
        return parse_pod(raw)
    raise ObjectError(
        "kind",
        f"unsupported kind {kind!r} (want Namespace, Service, EndpointSlice, Endpoints or Pod)",
    )
