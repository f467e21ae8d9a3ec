"""Why a Service name answers as it does: its type, slices, endpoints and ports.

Mirrors CoreDNS findServices as `answer._entries` implements it, to explain it only.
"""

import ipaddress
from collections.abc import Iterable

from clusterdns.dns.names import longest_zone as find_zone
from clusterdns.dns.records import RType
from clusterdns.explain.why import (
    Why,
    is_v6,
    listed,
    plural,
    slice_name,
    suggest,
    suggest_elsewhere,
)
from clusterdns.explain.why import type_name as _t
from clusterdns.plugins.kubernetes.objects import Port, Service
from clusterdns.plugins.kubernetes.options import KubernetesConfig
from clusterdns.plugins.kubernetes.snapshot import (
    ZoneSnapshot,
    live_slices,
    ready_addresses,
    ready_endpoints,
)
from clusterdns.plugins.kubernetes.store import ServiceEntry


def describe_service(service: Service) -> str:
    """`Service demo/web (ClusterIP 10.96.0.20)`, `ExternalName demo/docs → docs.example.com`."""
    where = f"{service.namespace}/{service.name}"
    if service.type == "ExternalName":
        return f"ExternalName {where} → {service.external_name}"
    if service.headless:
        return f"Service {where} (headless)"
    return f"Service {where} ({service.type} {', '.join(service.cluster_ips)})"


def explain_service(
    why: Why,
    snapshot: ZoneSnapshot,
    config: KubernetesConfig,
    zone: str,
    labels: list[str],
    namespace: str,
    qtype: int,
) -> None:
    """Reasons for SERVICE, ENDPOINT.SERVICE and _PORT._PROTOCOL.SERVICE names."""
    entry = snapshot.services.get((namespace, labels[-3]))
    if entry is None or entry.service is None:
        why.add("no-service", f'no Service "{labels[-3]}" in namespace "{namespace}"')
        names = [name for ns, name in snapshot.services if ns == namespace]
        suggest(why, labels[-3], names, labels, -3, zone)
        suggest_elsewhere(why, snapshot, labels, zone)
        return
    service = entry.service
    if service.type == "ExternalName":
        _external(why, config, service, len(labels) == 4, qtype)
        return
    endpoint = labels[0] if len(labels) == 4 else ""
    port = protocol = ""
    if len(labels) == 5:
        port, protocol = labels[0].removeprefix("_"), labels[1].removeprefix("_")
    why.add("service", describe_service(service))
    if service.headless or endpoint:
        _endpoints(why, entry, config, zone, labels, endpoint, port, protocol, qtype)
    else:
        _cluster_ip(why, entry, service, config, port, protocol, qtype)


def _external(
    why: Why, config: KubernetesConfig, service: Service, endpoint: bool, qtype: int
) -> None:
    target = service.external_name
    if endpoint:
        why.add("service", describe_service(service))
        why.add("externalname-endpoint", "an ExternalName Service has no endpoint names")
        return
    if _is_address(target.rstrip(".")):
        why.add("service", describe_service(service))
        why.add(
            "externalname-ip",
            f"externalName {target.rstrip('.')} is an IP address; CoreDNS answers only "
            "hostnames there, so the name does not exist",
        )
        return
    inside = find_zone(target, config.zones) is not None
    how = (
        "the target is answered from this zone"
        if inside
        else "the target is resolved by the upstream when served"
    )
    why.add("externalname", f"{describe_service(service)} ({how})")
    if qtype not in (RType.A, RType.AAAA, RType.CNAME, RType.TXT):
        why.add("wrong-type", f"an ExternalName Service has only a CNAME, no {_t(qtype)}")


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _slice_lines(why: Why, entry: ServiceEntry, headless: bool) -> None:
    """One line per EndpointSlice: its ready endpoints, and the not-ready ones left out."""
    live = live_slices(entry)
    for piece in entry.slices:
        if piece not in live:
            why.add(
                "endpoints-ignored",
                f"{slice_name(piece)} ignored: EndpointSlices exist for this Service",
            )
    for piece in live:
        members = list(piece.members())
        ready = [e for e in members if e.ready]
        left = [f"{e.address} (ready=false)" for e in members if not e.ready]
        text = f"{slice_name(piece)}: {len(ready)} ready endpoint{plural(ready)}"
        text += " used" if headless else ""
        if left:
            text += f", {len(left)} not ready left out: {listed(left)}"
        why.add("slice", text)
    if not entry.slices:
        why.add(
            "no-slices",
            f"no EndpointSlice is labelled kubernetes.io/service-name={_name_of(entry)}",
        )


def _name_of(entry: ServiceEntry) -> str:
    return entry.service.name if entry.service is not None else "?"


def _cluster_ip(
    why: Why,
    entry: ServiceEntry,
    service: Service,
    config: KubernetesConfig,
    port: str,
    protocol: str,
    qtype: int,
) -> None:
    _slice_lines(why, entry, headless=False)
    if not ready_addresses(entry):
        if config.ignore_empty_service:
            why.add(
                "empty-service",
                "the Service has no ready endpoints and `ignore empty_service` makes that NXDOMAIN",
            )
            return
        why.add(
            "no-ready-endpoints",
            "the Service has no ready endpoints: its name resolves to the cluster IP, but "
            "connections to it will fail",
        )
    if not service.ports:
        why.add(
            "no-ports",
            "the Service has no ports; a ClusterIP name is answered once per port, so it "
            "does not exist",
        )
        return
    if (port or protocol) and not _port_found(why, service.ports, port, protocol):
        return
    _address_types(why, list(service.cluster_ips), "the Service", qtype, srv=True)


def _port_found(why: Why, ports: Iterable[Port], port: str, protocol: str) -> bool:
    """True when a port matches `_port._protocol`; else say why none does."""
    named = [(p.name, p.protocol) for p in ports]
    if any((not port or port == n) and (not protocol or protocol == pr) for n, pr in named):
        why.add("port", f"port {port or '*'}/{(protocol or '*').upper()} matches")
        return True
    names = sorted({n for n, _ in named if n})
    listed = ", ".join(names) or "none named"
    if port and port not in names:
        why.add("no-port", f'Service has no port named "{port}" (ports: {listed})')
    else:
        protocols = sorted({pr.upper() for n, pr in named if not port or n == port})
        why.add(
            "no-port",
            f'port "{port}" is {"/".join(protocols)}, not {protocol.upper()}'
            if port
            else f"no port uses protocol {protocol.upper()} (ports: {listed})",
        )
    return False


def _address_types(why: Why, addresses: list[str], what: str, qtype: int, srv: bool) -> None:
    """Say which records the addresses give for `qtype`, or why there are none (NODATA)."""
    if qtype in (RType.A, RType.AAAA):
        matching = [a for a in addresses if is_v6(a) == (qtype == RType.AAAA)]
        if matching:
            return
        other = "IPv6" if qtype == RType.A else "IPv4"
        verb = "are" if what.endswith("s") else "is"
        why.add(f"{other.lower()}-only", f"{_t(qtype)}: {what} {verb} {other}-only")
    elif qtype == RType.SRV and srv:
        return
    else:
        kinds = "A/AAAA and SRV" if srv else "A/AAAA"
        verb = "have" if what.endswith("s") else "has"
        why.add("wrong-type", f"{what} {verb} {kinds} records only, no {_t(qtype)}")


def _endpoints(
    why: Why,
    entry: ServiceEntry,
    config: KubernetesConfig,
    zone: str,
    labels: list[str],
    endpoint: str,
    port: str,
    protocol: str,
    qtype: int,
) -> None:
    _slice_lines(why, entry, headless=True)
    ready = list(ready_endpoints(entry, config.endpoint_pod_names))
    if endpoint:
        chosen = [e for e in ready if e.label == endpoint]
        if not chosen:
            _no_endpoint(why, entry, zone, labels, endpoint, [e.label for e in ready])
            return
        why.add(
            "endpoint",
            f"endpoint {endpoint} → {listed(sorted({e.address for e in chosen}))}",
        )
        ready = chosen
    elif not ready:
        why.add("no-ready-endpoints", "headless Service has no ready endpoints")
        return
    if port or protocol:
        ports = [p for e in ready for p in e.ports]
        if not _port_found(why, ports, port, protocol):
            return
    addresses = [e.address for e in ready]
    if qtype == RType.SRV and not any(e.ports for e in ready):
        why.add("no-ports", "the endpoints have no ports, so there are no SRV records")
        return
    _address_types(why, addresses, "the Service's ready endpoints", qtype, srv=True)


def _no_endpoint(
    why: Why, entry: ServiceEntry, zone: str, labels: list[str], endpoint: str, known: list[str]
) -> None:
    waiting = [
        e.address
        for piece in live_slices(entry)
        for e in piece.members()
        if not e.ready and (e.hostname == endpoint or e.address.replace(".", "-") == endpoint)
    ]
    service = _name_of(entry)
    where = f"{entry.service.namespace}/{service}" if entry.service else service
    if waiting:
        why.add(
            "endpoint-not-ready",
            f'endpoint "{endpoint}" ({", ".join(waiting)}) of Service {where} is not ready '
            "(ready=false)",
        )
        return
    why.add(
        "no-endpoint",
        f'no ready endpoint "{endpoint}" in Service {where} '
        f"(ready endpoints: {listed(sorted(set(known))) or 'none'})",
    )
    suggest(why, endpoint, known, labels, 0, zone)
