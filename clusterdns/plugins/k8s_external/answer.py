"""Answers for names under the k8s_external zones: a pure function of the kubernetes snapshot.

Follows CoreDNS's k8s_external (external.go, apex.go, msg_to_dns.go) and the kubernetes
plugin's External (plugin/kubernetes/external.go): `svc.ns.<zone>` holds the Service's
external IPs (spec.externalIPs, then the load balancer's ingress IPs; an ingress hostname is a
CNAME), `_port._proto.svc.ns.<zone>` its SRV records, and with `headless` a headless Service's
ready endpoints, also as `endpoint.svc.ns.<zone>`.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from clusterdns.dns.names import address_from_reverse, labels_below, longest_zone
from clusterdns.dns.records import Address, Answer, Rcode, Record, RType, Soa, Srv, Target
from clusterdns.plugins.k8s_external.options import ExternalConfig
from clusterdns.plugins.kubernetes.objects import Service
from clusterdns.plugins.kubernetes.options import KubernetesConfig
from clusterdns.plugins.kubernetes.snapshot import ZoneSnapshot, ready_endpoints

NO_PORT = -1  # CoreDNS's sentinel port for a Service without ports: addresses, no SRV


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer, and the hostnames (load balancer ingress) whose records must be appended."""

    answer: Answer
    lookups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Item:
    """One (host, port) a name stands for; `target` is the SRV target name of the host."""

    host: str  # an IP address, or an absolute hostname ending in "."
    port: int
    target: str


def answer(
    snapshot: ZoneSnapshot,
    kubernetes: KubernetesConfig,
    config: ExternalConfig,
    qname: str,
    qtype: int,
    reverse: Callable[[], Mapping[str, tuple[Service, ...]]],
) -> Reply | None:
    """The reply for lowercase absolute `qname`, or None when the next plugin should answer.

    `reverse()` gives `external_index(snapshot)`, asked only for PTR questions.
    """
    zone = longest_zone(qname, config.zones)
    if zone is None:
        return None
    soa = soa_record(snapshot, config, zone)
    if not snapshot.synced:
        return Reply(Answer(Rcode.SERVFAIL, authority=(soa,), authoritative=True))
    if qname == zone:
        return Reply(_apex(kubernetes, config, zone, qname, qtype, soa))
    apex = f"{config.apex}.{zone}"
    if qname == apex or qname.endswith("." + apex):
        return Reply(_sub_apex(kubernetes, config, zone, qname, qtype, soa))
    if qtype == RType.PTR and address_from_reverse(qname) is not None:
        records = _reverse(reverse(), kubernetes, config, qname)
    else:
        found = _items(snapshot, kubernetes, config, zone, qname)
        if found is None:
            records = None
        else:
            return Reply(*_records(config, qname, qtype, found, soa))
    if records is None:
        if config.falls_through(qname):
            return None
        return Reply(Answer(Rcode.NXDOMAIN, authority=(soa,), authoritative=True))
    return Reply(Answer(Rcode.NOERROR, tuple(records), authoritative=True))


def soa_record(snapshot: ZoneSnapshot, config: ExternalConfig, zone: str) -> Record:
    """ns1.<apex>.<zone> hostmaster.<apex>.<zone>, serial = the snapshot's, minimum = ttl."""
    apex = f"{config.apex}.{zone}"
    data = Soa(
        f"ns1.{apex}", f"hostmaster.{apex}", snapshot.serial % 2**32, 7200, 1800, 86400, config.ttl
    )
    return Record(zone, RType.SOA, config.ttl, data)


def _apex(
    kubernetes: KubernetesConfig,
    config: ExternalConfig,
    zone: str,
    qname: str,
    qtype: int,
    soa: Record,
) -> Answer:
    if qtype == RType.SOA:
        return Answer(Rcode.NOERROR, (soa,), authoritative=True)
    if qtype == RType.NS:
        server = f"ns1.{config.apex}.{zone}"
        glue = tuple(_addresses(server, kubernetes.ns_addresses, config.ttl, None))
        ns = Record(qname, RType.NS, config.ttl, Target(server))
        return Answer(Rcode.NOERROR, (ns,), additional=glue, authoritative=True)
    return Answer(Rcode.NOERROR, authority=(soa,), authoritative=True)


def _sub_apex(
    kubernetes: KubernetesConfig,
    config: ExternalConfig,
    zone: str,
    qname: str,
    qtype: int,
    soa: Record,
) -> Answer:
    """`dns.<zone>` is an empty non-terminal; `ns1.dns.<zone>` holds our addresses."""
    labels = labels_below(qname, zone)
    if len(labels) == 2 and labels[0] == "ns1":
        found = tuple(_addresses(qname, kubernetes.ns_addresses, config.ttl, qtype))
        if found:
            return Answer(Rcode.NOERROR, found, authoritative=True)
    elif len(labels) != 1:
        return Answer(Rcode.NXDOMAIN, authority=(soa,), authoritative=True)
    return Answer(Rcode.NOERROR, authority=(soa,), authoritative=True)


def _items(
    snapshot: ZoneSnapshot,
    kubernetes: KubernetesConfig,
    config: ExternalConfig,
    zone: str,
    qname: str,
) -> list[_Item] | None:
    """What `qname` stands for ([] for a namespace: it exists, empty); None: no such name."""
    labels = labels_below(qname, zone)
    namespace = labels[-1]
    if namespace not in snapshot.namespaces or not kubernetes.exposes(namespace):
        return None
    if len(labels) == 1:
        return []
    if len(labels) > 4:
        return None
    entry = snapshot.services.get((namespace, labels[-2]))
    service = entry.service if entry is not None else None
    if entry is None or service is None:
        return None
    endpoint = labels[0] if len(labels) == 3 else ""
    port, protocol = ("", "") if len(labels) != 4 else (labels[0], labels[1])
    port, protocol = port.removeprefix("_"), protocol.removeprefix("_")
    base = f"{service.name}.{service.namespace}.{zone}"
    items: list[_Item] = []
    if config.headless and not service.external and (service.headless or endpoint):
        for view in ready_endpoints(entry, kubernetes.endpoint_pod_names):
            if endpoint and view.label != endpoint:
                continue
            for p in view.ports:
                if _matches(port, protocol, p.name, p.protocol):
                    items.append(_Item(view.address, p.port, f"{view.label}.{base}"))
    elif not endpoint:
        items.extend(_external(service, port, protocol, base))
    return items or None


def _external(service: Service, port: str, protocol: str, base: str) -> Iterator[_Item]:
    ports = [(p.name, p.protocol, p.port) for p in service.ports] or [("", "", NO_PORT)]
    for host in service.external:
        for name, proto, number in ports:
            if _matches(port, protocol, name, proto):
                yield _Item(host, number, base)


def _matches(port: str, protocol: str, name: str, proto: str) -> bool:
    """An empty or `*` label matches any port name or protocol (CoreDNS kubernetes match)."""
    return port in ("", "*", name) and protocol in ("", "*", proto)


def _records(
    config: ExternalConfig, qname: str, qtype: int, items: list[_Item], soa: Record
) -> tuple[Answer, tuple[str, ...]]:
    records: list[Record] = []
    extra: list[Record] = []
    lookups: list[str] = []
    if qtype in (RType.A, RType.AAAA):
        for item in items:
            if item.host.endswith("."):
                records.append(Record(qname, RType.CNAME, config.ttl, Target(item.host)))
                lookups.append(item.host)
            elif _address_type(item.host) == qtype:
                records.append(Record(qname, RType(qtype), config.ttl, Address(item.host)))
    elif qtype == RType.SRV:
        records, extra = _srv(config, qname, items)
    records, extra = _unique(records), _unique(extra)
    if not records:
        return Answer(Rcode.NOERROR, authority=(soa,), authoritative=True), ()
    answer = Answer(Rcode.NOERROR, tuple(records), additional=tuple(extra), authoritative=True)
    return answer, tuple(dict.fromkeys(lookups))


def _srv(
    config: ExternalConfig, qname: str, items: list[_Item]
) -> tuple[list[Record], list[Record]]:
    """SRV with CoreDNS's weight: 100 / (number of targets), all at priority 0."""
    weight = max(1, 100 // len(items))
    records: list[Record] = []
    extra: list[Record] = []
    for item in items:
        if item.port == NO_PORT:
            continue
        target = item.host if item.host.endswith(".") else item.target
        records.append(Record(qname, RType.SRV, config.ttl, Srv(0, weight, item.port, target)))
        if not item.host.endswith("."):
            rtype = _address_type(item.host)
            extra.append(Record(target, rtype, config.ttl, Address(item.host)))
    return records, extra


def _reverse(
    index: Mapping[str, tuple[Service, ...]],
    kubernetes: KubernetesConfig,
    config: ExternalConfig,
    qname: str,
) -> list[Record] | None:
    """PTR for an external IP: `svc.ns.<first zone>` of every Service holding it."""
    address = address_from_reverse(qname)
    targets = [
        f"{service.name}.{service.namespace}.{config.zones[0]}"
        for service in index.get(address or "", ())
        if kubernetes.exposes(service.namespace)
    ]
    if not targets:
        return None
    return [Record(qname, RType.PTR, config.ttl, Target(t)) for t in sorted(set(targets))]


def external_index(snapshot: ZoneSnapshot) -> dict[str, tuple[Service, ...]]:
    """External IP → the Services holding it: built on the first PTR question per snapshot,
    not with every snapshot, since almost nobody asks."""
    index: dict[str, tuple[Service, ...]] = {}
    for entry in snapshot.services.values():
        service = entry.service
        if service is not None:
            for host in service.external:
                index[host] = (*index.get(host, ()), service)
    return index


def _addresses(
    owner: str, addresses: tuple[str, ...], ttl: int, qtype: int | None
) -> Iterator[Record]:
    for text in addresses:
        rtype = _address_type(text)
        if qtype is None or rtype == qtype:
            yield Record(owner, rtype, ttl, Address(text))


def _address_type(address: str) -> RType:
    return RType.AAAA if ":" in address else RType.A


def _unique(records: list[Record]) -> list[Record]:
    return list(dict.fromkeys(records))
