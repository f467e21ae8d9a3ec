"""Why the kubernetes plugin answers a name as it does: plain-language reasons naming objects.

Reads the same snapshot `answer()` reads and walks the same steps (kubernetes/dns
docs/specification.md, CoreDNS parse.go and findServices), but only to explain them: the
answer itself always comes from `clusterdns.plugins.kubernetes.answer.answer`.
"""

import ipaddress
from collections.abc import Iterable, Sized
from dataclasses import dataclass, field

from clusterdns.dns.mnemonics import type_text
from clusterdns.dns.names import address_from_dashed, address_from_reverse, labels_below
from clusterdns.dns.names import longest_zone as find_zone
from clusterdns.dns.records import RType
from clusterdns.explain.suggest import nearest
from clusterdns.plugins.kubernetes.objects import LEGACY_SLICE_PREFIX, EndpointSlice, Port, Service
from clusterdns.plugins.kubernetes.setup import KubernetesConfig, is_reverse_zone
from clusterdns.plugins.kubernetes.snapshot import (
    ZoneSnapshot,
    live_slices,
    owners,
    ready_addresses,
    ready_endpoints,
)
from clusterdns.plugins.kubernetes.store import ServiceEntry

MAX_LISTED = 5  # addresses or names listed in one reason before "and N more"


@dataclass(frozen=True, slots=True)
class Reason:
    """One line of the why: a stable `code` for scripts and the `text` for people."""

    code: str
    text: str


@dataclass(slots=True)
class Why:
    """The reasons for one answer, and names that do exist near a name that does not."""

    reasons: list[Reason] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)

    def add(self, code: str, text: str) -> None:
        """Append a reason."""
        self.reasons.append(Reason(code, text))


def explain_name(snapshot: ZoneSnapshot, config: KubernetesConfig, qname: str, qtype: int) -> Why:
    """The reasons behind `answer(snapshot, config, qname, qtype)` for a name in our zones."""
    why = Why()
    zone = find_zone(qname, config.zones)
    if zone is None:
        why.add("outside", f"{qname} is outside the kubernetes zones ({', '.join(config.zones)})")
        return why
    labels = labels_below(qname, zone)
    if not labels:
        _apex(why, config, zone, qtype)
    elif is_reverse_zone(zone):
        _reverse(why, snapshot, config, qname, qtype)
    elif labels == ["dns-version"]:
        if qtype == RType.TXT:
            why.add("dns-version", "the schema version of the kubernetes DNS specification")
        else:
            why.add("wrong-type", f"dns-version.{zone} has only a TXT record, no {_t(qtype)}")
    elif labels == ["dns"]:
        why.add("empty-name", f"dns.{zone} exists only above ns.dns.{zone}; it has no records")
    elif labels == ["ns", "dns"]:
        _nameserver(why, config, zone, qtype)
    else:
        _cluster(why, snapshot, config, zone, qname, labels, qtype)
    return why


def _t(qtype: int) -> str:
    return type_text(qtype)


def _family(qtype: int) -> str:
    return "IPv6" if qtype == RType.AAAA else "IPv4"


def _is_v6(address: str) -> bool:
    return ":" in address


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def _apex(why: Why, config: KubernetesConfig, zone: str, qtype: int) -> None:
    if qtype in (RType.SOA, RType.NS):
        why.add("apex", f"{zone} is the zone apex: its SOA, and NS ns.dns.{zone}")
    else:
        why.add("wrong-type", f"the zone apex {zone} has only SOA and NS records, no {_t(qtype)}")


def _nameserver(why: Why, config: KubernetesConfig, zone: str, qtype: int) -> None:
    addresses = list(config.ns_addresses)
    matching = [a for a in addresses if _is_v6(a) == (qtype == RType.AAAA)]
    if qtype in (RType.A, RType.AAAA) and matching:
        why.add("nameserver", f"ns.dns.{zone} names this server: {_listed(addresses)}")
    else:
        why.add("wrong-type", f"ns.dns.{zone} has only this server's addresses, no {_t(qtype)}")


def _cluster(
    why: Why,
    snapshot: ZoneSnapshot,
    config: KubernetesConfig,
    zone: str,
    qname: str,
    labels: list[str],
    qtype: int,
) -> None:
    kind = labels[-1]
    if kind not in ("svc", "pod"):
        why.add(
            "unknown-kind",
            f'"{kind}" is neither "svc" nor "pod": names here are SERVICE.NAMESPACE.svc.{zone} '
            f"or POD-IP.NAMESPACE.pod.{zone}",
        )
        why.suggestions += [_swap(labels, -1, k, zone) for k in nearest(kind, ("svc", "pod"))]
        return
    if len(labels) > 5:
        why.add(
            "too-many-labels",
            f"{len(labels)} labels below {zone}; the longest names have 5 "
            f"(_PORT._PROTOCOL.SERVICE.NAMESPACE.svc)",
        )
        return
    if len(labels) == 1:
        why.add("empty-name", f"{kind}.{zone} holds namespaces; it has no records of its own")
        return
    namespace = labels[-2]
    if namespace not in snapshot.namespaces:
        why.add("no-namespace", f'namespace "{namespace}" does not exist')
        why.suggestions += [
            _swap(labels, -2, n, zone) for n in nearest(namespace, snapshot.namespaces)
        ]
        if kind == "svc" and len(labels) >= 3:
            _elsewhere(why, snapshot, labels, zone)
        return
    if not config.exposes(namespace):
        why.add(
            "namespace-not-served",
            f'namespace "{namespace}" exists but the kubernetes plugin serves only '
            f"namespaces {', '.join(sorted(config.namespaces))}",
        )
        return
    if len(labels) == 2:
        example = f"SERVICE.{namespace}.svc" if kind == "svc" else f"POD-IP.{namespace}.pod"
        why.add(
            "empty-name",
            f'namespace "{namespace}" exists; it has no records of its own '
            f"(names below it: {example}.{zone})",
        )
        return
    if kind == "pod":
        _pod(why, snapshot, config, labels, namespace, qtype)
    else:
        _service(why, snapshot, config, zone, labels, namespace, qtype)


def _swap(labels: list[str], index: int, value: str, zone: str) -> str:
    changed = list(labels)
    changed[index] = value
    return ".".join(changed) + "." + zone


def _elsewhere(why: Why, snapshot: ZoneSnapshot, labels: list[str], zone: str) -> None:
    """Namespaces holding a Service of the asked name, as suggestions."""
    name = labels[-3]
    found = sorted(ns for ns, svc in snapshot.services if svc == name)
    if found:
        why.add(
            "service-elsewhere",
            f'a Service "{name}" exists in namespace {", ".join(found[:MAX_LISTED])}',
        )
        why.suggestions += [_swap(labels, -2, ns, zone) for ns in found[:3]]


def _pod(
    why: Why,
    snapshot: ZoneSnapshot,
    config: KubernetesConfig,
    labels: list[str],
    namespace: str,
    qtype: int,
) -> None:
    if len(labels) != 3:
        why.add("pod-form", "pod names have exactly one label before NAMESPACE.pod: the dashed IP")
        return
    if config.pods == "disabled":
        why.add(
            "pods-disabled",
            "pod records are off (`pods disabled`, the default of a bare kubernetes stanza)",
        )
        return
    address = address_from_dashed(labels[0])
    if address is None:
        why.add("pod-not-ip", f'"{labels[0]}" is not an IP address with dashes (e.g. 10-244-1-5)')
        return
    if config.pods == "verified":
        if namespace not in snapshot.pod_ips.get(address, ()):
            why.add(
                "pod-not-found",
                f'no pod in namespace "{namespace}" has IP {address} (`pods verified`)',
            )
            return
        why.add("pod-verified", f'a pod in namespace "{namespace}" has IP {address}')
    else:
        why.add(
            "pod-insecure",
            f"{labels[0]} stands for {address}; `pods insecure` answers it without checking "
            "that a pod has this IP",
        )
    if qtype in (RType.A, RType.AAAA) and _is_v6(address) != (qtype == RType.AAAA):
        why.add("wrong-family", f"{_t(qtype)}: {address} is not an {_family(qtype)} address")
    elif qtype not in (RType.A, RType.AAAA):
        why.add("wrong-type", f"pod names have only A or AAAA records, no {_t(qtype)}")


def describe_service(service: Service) -> str:
    """`Service demo/web (ClusterIP 10.96.0.20)`, `ExternalName demo/docs → docs.example.com`."""
    where = f"{service.namespace}/{service.name}"
    if service.type == "ExternalName":
        return f"ExternalName {where} → {service.external_name}"
    if service.headless:
        return f"Service {where} (headless)"
    return f"Service {where} ({service.type} {', '.join(service.cluster_ips)})"


def _service(
    why: Why,
    snapshot: ZoneSnapshot,
    config: KubernetesConfig,
    zone: str,
    labels: list[str],
    namespace: str,
    qtype: int,
) -> None:
    entry = snapshot.services.get((namespace, labels[-3]))
    if entry is None or entry.service is None:
        why.add("no-service", f'no Service "{labels[-3]}" in namespace "{namespace}"')
        names = [name for ns, name in snapshot.services if ns == namespace]
        why.suggestions += [_swap(labels, -3, n, zone) for n in nearest(labels[-3], names)]
        _elsewhere(why, snapshot, labels, zone)
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
                f"{_slice_name(piece)} ignored: EndpointSlices exist for this Service",
            )
    for piece in live:
        members = list(piece.members())
        ready = [e for e in members if e.ready]
        left = [f"{e.address} (ready=false)" for e in members if not e.ready]
        text = f"{_slice_name(piece)}: {len(ready)} ready endpoint{_s(ready)}"
        text += " used" if headless else ""
        if left:
            text += f", {len(left)} not ready left out: {_listed(left)}"
        why.add("slice", text)
    if not entry.slices:
        why.add(
            "no-slices",
            f"no EndpointSlice is labelled kubernetes.io/service-name={_name_of(entry)}",
        )


def _name_of(entry: ServiceEntry) -> str:
    return entry.service.name if entry.service is not None else "?"


def _slice_name(piece: EndpointSlice) -> str:
    if piece.name.startswith(LEGACY_SLICE_PREFIX):
        return f"Endpoints {piece.namespace}/{piece.name.removeprefix(LEGACY_SLICE_PREFIX)}"
    return f"EndpointSlice {piece.namespace}/{piece.name}"


def _s(items: Sized) -> str:
    return "" if len(items) == 1 else "s"


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
        matching = [a for a in addresses if _is_v6(a) == (qtype == RType.AAAA)]
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
            f"endpoint {endpoint} → {_listed(sorted({e.address for e in chosen}))}",
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
        f"(ready endpoints: {_listed(sorted(set(known))) or 'none'})",
    )
    why.suggestions += [_swap(labels, 0, label, zone) for label in nearest(endpoint, known)]


def _reverse(
    why: Why, snapshot: ZoneSnapshot, config: KubernetesConfig, qname: str, qtype: int
) -> None:
    if qtype != RType.PTR:
        why.add("reverse-not-ptr", f"only PTR records exist in the reverse zones, no {_t(qtype)}")
        return
    address = address_from_reverse(qname)
    if address is None:
        why.add("reverse-partial", "not the full reverse name of one IP address")
        return
    services = [k for k in owners(snapshot.cluster_ip_index, address) if config.exposes(k[0])]
    if services:
        entry = snapshot.services[services[0]]
        if entry.service is not None:
            why.add("ptr-service", f"{describe_service(entry.service)} has cluster IP {address}")
        return
    found = False
    for key in owners(snapshot.endpoint_ip_index, address):
        if not config.exposes(key[0]):
            continue
        for piece in live_slices(snapshot.services[key]):
            for member in piece.members():
                if member.ready and member.address == address:
                    found = True
                    why.add(
                        "ptr-endpoint",
                        f"{_slice_name(piece)} of Service {key[0]}/{key[1]} has ready "
                        f"endpoint {address}",
                    )
    if not found:
        why.add("no-owner", f"no Service cluster IP and no ready endpoint is {address}")
