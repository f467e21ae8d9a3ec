"""Every record the kubernetes plugin serves, as RFC 1035 zone files: SOA first, then sorted.

Records are not rebuilt here: each name a Service, endpoint or port gives is asked of
`answer()` for every type it can have, and the answer sections are collected, so the file
holds exactly what the server answers. Pod names (one per IP, unbounded) are described.
"""

from collections.abc import Iterator

from clusterdns.dns.names import longest_zone, reverse_pointer
from clusterdns.dns.records import Record, RType
from clusterdns.plugins.kubernetes.answer import answer
from clusterdns.plugins.kubernetes.options import KubernetesConfig, is_reverse_zone
from clusterdns.plugins.kubernetes.snapshot import ZoneSnapshot, ready_endpoints
from clusterdns.plugins.kubernetes.store import ServiceEntry

ADDRESS_TYPES = (RType.A, RType.AAAA)


def zone_file(snapshot: ZoneSnapshot, config: KubernetesConfig, zone: str, source: str) -> str:
    """The zone file of `zone` (one of `config.zones`): comments, SOA, then sorted records."""
    records = zone_records(snapshot, config, zone)
    lines = [
        f"; {zone} as the clusterdns kubernetes plugin serves it: {len(records)} records",
        f"; source: {source}",
        *(f"; {line}" for line in _notes(config, zone)),
        *(_line(record) for record in records),
    ]
    return "\n".join(lines) + "\n"


def _notes(config: KubernetesConfig, zone: str) -> list[str]:
    if is_reverse_zone(zone):
        fall = config.falls_through(zone)
        return [f"other names here {'fall through to the next plugin' if fall else 'are NXDOMAIN'}"]
    notes = [
        "_PORT._PROTOCOL names also answer A/AAAA with their Service's addresses (CoreDNS); "
        "only their SRV records are listed"
    ]
    if config.pods == "insecure":
        notes.append(
            f"pods insecure: every IP-WITH-DASHES.NAMESPACE.pod.{zone} answers the IP it spells "
            "(A or AAAA) for every existing namespace; not listed"
        )
    elif config.pods == "verified":
        notes.append(
            f"pods verified: IP-WITH-DASHES.NAMESPACE.pod.{zone} answers the IP of each pod "
            "in NAMESPACE; not listed"
        )
    else:
        notes.append("pods disabled: no pod records")
    return notes


def zone_records(snapshot: ZoneSnapshot, config: KubernetesConfig, zone: str) -> list[Record]:
    """SOA first, then every other record of `zone`, in canonical name order (RFC 4034 6.1)."""
    found: dict[Record, None] = {}
    for name, qtype in _questions(snapshot, config, zone):
        if longest_zone(name, config.zones) != zone:
            continue
        result = answer(snapshot, config, name, qtype)
        if result is not None:
            found.update(dict.fromkeys(r for r in result.answer if r.name == name))
    soa = [r for r in found if r.rtype == RType.SOA and r.name == zone]
    rest = sorted((r for r in found if r not in soa), key=_order)
    return soa + rest


def _order(record: Record) -> tuple[tuple[str, ...], int, str]:
    labels = tuple(reversed(record.name.rstrip(".").split(".")))
    return labels, int(record.rtype), record.data.text()


def _questions(
    snapshot: ZoneSnapshot, config: KubernetesConfig, zone: str
) -> Iterator[tuple[str, int]]:
    """Every (name, type) that can have records in `zone`."""
    yield zone, RType.SOA
    yield zone, RType.NS
    if is_reverse_zone(zone):
        addresses = {*snapshot.cluster_ip_index, *snapshot.endpoint_ip_index}
        for address in addresses:
            yield reverse_pointer(address), RType.PTR
        return
    yield f"dns-version.{zone}", RType.TXT
    for qtype in ADDRESS_TYPES:
        yield f"ns.dns.{zone}", qtype
    for (namespace, name), entry in snapshot.services.items():
        if config.exposes(namespace):
            yield from _service_questions(entry, config, f"{name}.{namespace}.svc.{zone}")


def _service_questions(
    entry: ServiceEntry, config: KubernetesConfig, base: str
) -> Iterator[tuple[str, int]]:
    service = entry.service
    if service is None:
        return
    if service.type == "ExternalName":
        yield base, RType.CNAME
        return
    yield base, RType.A
    yield base, RType.AAAA
    yield base, RType.SRV
    endpoints = list(ready_endpoints(entry, config.endpoint_pod_names))
    for endpoint in endpoints:
        for qtype in (*ADDRESS_TYPES, RType.SRV):
            yield f"{endpoint.label}.{base}", qtype
    ports = {(p.name, p.protocol) for p in service.ports}
    if service.headless:
        ports = {(p.name, p.protocol) for e in endpoints for p in e.ports}
    for port, protocol in ports:
        if port and protocol:
            yield f"_{port}._{protocol}.{base}", RType.SRV


def _line(record: Record) -> str:
    return f"{record.name}\t{record.ttl}\tIN\t{record.rtype.name}\t{record.data.text()}"
