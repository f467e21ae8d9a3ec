"""Answers for names in the kubernetes zones: a pure function of snapshot, config, name and type.

Follows kubernetes/dns docs/specification.md (schema 1.1.0) and, where it is silent, CoreDNS's
`kubernetes` plugin (parse.go, kubernetes.go findServices/findPods, backend_lookup.go).
"""

import ipaddress
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from functools import partial

from clusterdns.dns.names import (
    address_from_dashed,
    address_from_reverse,
    dashed_address,
    is_subdomain,
    labels_below,
    packed_from_dashed,
)
from clusterdns.dns.names import longest_zone as find_zone
from clusterdns.dns.records import (
    Address,
    Answer,
    Rcode,
    Record,
    RType,
    Soa,
    Srv,
    Target,
    Txt,
)
from clusterdns.plugin import Family
from clusterdns.plugins.kubernetes.options import REVERSE_ZONES, KubernetesConfig
from clusterdns.plugins.kubernetes.snapshot import (
    ZoneSnapshot,
    live_slices,
    owners,
    ready_addresses,
    ready_endpoints,
)
from clusterdns.plugins.kubernetes.store import Changes, ServiceEntry, ServiceKey

SCHEMA_VERSION = "1.1.0"
DNS_VERSION_TTL = 28800
_BELOW_REVERSE = tuple("." + zone for zone in REVERSE_ZONES)
NO_PORT = -1  # CoreDNS's sentinel for endpoints without ports: addresses, but no SRV.


@dataclass(frozen=True, slots=True)
class _Entry:
    """One (host, port) a name resolves to: an IP address, or a CNAME target when `alias`."""

    host: str
    port: int
    name: str
    alias: bool = False


class _NameError(Exception):
    """The name does not exist (NXDOMAIN, or fall through)."""


Found = tuple[list[Record], list[Record]]  # (answer, additional)


# Negative answers of one snapshot, by (zone, rcode): they do not name the question, so every
# name below a zone shares one object (and, through it, the server's encodings of it).
Negatives = dict[tuple[str, Rcode], Answer]


@dataclass(frozen=True, slots=True)
class Question:
    """A question name parsed once for every use (CoreDNS parse.go's recordRequest)."""

    name: str
    zone: str
    labels: tuple[str, ...]  # left of the zone, leftmost first
    reverse: bool  # the zone is inside in-addr.arpa or ip6.arpa

    @property
    def parent(self) -> str:
        """The name without its first label."""
        return self.name.partition(".")[2]


def parse_question(config: KubernetesConfig, qname: str) -> Question | None:
    """`qname` (lowercase, absolute) split at the longest of our zones; None outside them."""
    zone = find_zone(qname, config.zones)
    if zone is None:
        return None
    reverse = zone in REVERSE_ZONES or zone.endswith(_BELOW_REVERSE)  # is_reverse_zone, inline
    return Question(qname, zone, tuple(labels_below(qname, zone)), reverse)


def answer(
    snapshot: ZoneSnapshot,
    config: KubernetesConfig,
    qname: str,
    qtype: int,
    negatives: Negatives | None = None,
) -> Answer | None:
    """The answer for a lowercase absolute `qname`, or None when it is not ours to answer.

    `negatives`, when given, must hold only answers made from this `snapshot` and `config`.
    """
    question = parse_question(config, qname)
    if question is None:
        return None
    return answer_question(snapshot, config, question, qtype, negatives)


def answer_question(
    snapshot: ZoneSnapshot,
    config: KubernetesConfig,
    question: Question,
    qtype: int,
    negatives: Negatives | None = None,
) -> Answer | None:
    """`answer` for a question already parsed: the same result, without parsing it again.

    Returns None only where `answer` does: a name error in a `fallthrough` zone.
    """
    zone, qname = question.zone, question.name
    if not snapshot.synced:
        # CoreDNS: before the first sync, SERVFAIL rather than a wrong NXDOMAIN.
        return negative_answer(snapshot, config, zone, Rcode.SERVFAIL, negatives)
    try:
        records, extra = _lookup(snapshot, config, question, qtype)
    except _NameError:
        if config.falls_through(qname):
            return None
        return negative_answer(snapshot, config, zone, Rcode.NXDOMAIN, negatives)
    if not records:
        # RFC 2308 2.2: NODATA is NOERROR with the SOA in authority.
        return negative_answer(snapshot, config, zone, Rcode.NOERROR, negatives)
    return Answer(
        Rcode.NOERROR, tuple(_unique(records)), (), tuple(_unique(extra)), authoritative=True
    )


def negative_answer(
    snapshot: ZoneSnapshot,
    config: KubernetesConfig,
    zone: str,
    rcode: Rcode,
    negatives: Negatives | None = None,
) -> Answer:
    """`rcode` with the zone's SOA in authority (NXDOMAIN, NODATA, SERVFAIL before sync)."""
    key = (zone, rcode)
    found = negatives.get(key) if negatives is not None else None
    if found is None:
        found = Answer(rcode, authority=(soa_record(snapshot, config, zone),), authoritative=True)
        if negatives is not None:
            negatives[key] = found
    return found


def sibling_family(
    snapshot: ZoneSnapshot,
    config: KubernetesConfig,
    question: Question,
    qtype: int,
    rcode: Rcode,
) -> Family | None:
    """The siblings sharing the answer `rcode` to `question` (plugin.Family), or None.

    Claimed for the names never-repeated names are made of: one label below a Service that
    names none of its endpoints (a random subdomain), one label below a namespace that names
    no Service, and pod names (`pods insecure`).
    """
    labels = question.labels
    if question.reverse or len(labels) not in (3, 4):
        return None
    parent = question.parent
    if any(z != parent and is_subdomain(z, parent) for z in config.fallthrough):
        return None  # siblings below that zone fall through instead of failing
    if rcode == Rcode.NXDOMAIN and labels[-1] == "svc":
        return _name_error_family(snapshot, config, question)
    if rcode == Rcode.NOERROR and labels[-1] == "pod" and config.pods == "insecure":
        return _pod_family(question, qtype)
    return None


def _pod_family(question: Question, qtype: int) -> Family | None:
    """Pod names of the same address family: the same reply, but for the address itself."""
    packed = packed_from_dashed(question.labels[0]) if len(question.labels) == 3 else None
    if packed is None:
        return None
    v6 = len(packed) == 16
    data = _packed_address if qtype == (RType.AAAA if v6 else RType.A) else None
    # With no record for the type asked, the reply is NODATA and carries the SOA.
    scope = PODS_SCOPE if data is not None else ZONE_SCOPE
    return Family(question.parent, partial(_not_a_pod_address, v6), scope, data, ("pod", v6))


def _not_a_pod_address(v6: bool, label: str) -> bool:
    packed = packed_from_dashed(label)
    return packed is None or (len(packed) == 16) != v6


def _packed_address(label: str) -> bytes:
    return packed_from_dashed(label) or b""


def _name_error_family(
    snapshot: ZoneSnapshot, config: KubernetesConfig, question: Question
) -> Family | None:
    # A name error carries the zone's SOA, whose serial moves with every change: any change
    # drops it (ZONE_SCOPE), so the claim's `taken` need only hold for this snapshot.
    labels = question.labels
    parent = question.parent
    if len(labels) == 4:
        view = snapshot.services.get((labels[2], labels[1]))
        if view is None:
            return None
        named = frozenset(e.label for e in ready_endpoints(view, config.endpoint_pod_names))
        service: Hashable = ("svc", labels[2], labels[1])
        return Family(parent, named.__contains__, ZONE_SCOPE, kind=service)
    if len(labels) == 3:
        kind: Hashable = ("namespace", labels[1])
        taken = partial(_names_service, snapshot.services, labels[1])
        return Family(parent, taken, ZONE_SCOPE, kind=kind)
    return None


def _names_service(services: Mapping[ServiceKey, ServiceEntry], namespace: str, label: str) -> bool:
    return (namespace, label) in services


def answer_scope(config: KubernetesConfig, qname: str) -> Hashable:
    """The zone data an answer for `qname` depends on, as `changed_scopes` names it."""
    return question_scope(parse_question(config, qname))


def reply_scope(question: Question, result: Answer) -> Hashable:
    """The scope of `result`: a negative answer's SOA serial moves with every change."""
    if not result.answer and result.authority:
        return ZONE_SCOPE  # NXDOMAIN and NODATA carry the SOA
    return question_scope(question)


def question_scope(question: Question | None) -> Hashable:
    """`answer_scope` of a parsed question (None: outside our zones)."""
    if question is None or question.reverse:
        return REVERSE_SCOPE
    labels = question.labels
    if len(labels) >= 3 and labels[-1] == "svc":
        return ("svc", labels[-2], labels[-3])
    if len(labels) >= 3 and labels[-1] == "pod":
        return PODS_SCOPE
    return ZONE_SCOPE  # the apex (whose SOA serial moves with every change), ENTs, oddities


def changed_scopes(changes: Changes) -> frozenset[Hashable] | None:
    """The answer scopes a store change invalidates; None when it may touch every answer."""
    if changes.namespaces:
        return None  # whole namespaces appear or vanish: every name below them may change
    scopes: set[Hashable] = {ZONE_SCOPE, REVERSE_SCOPE}
    scopes.update(("svc", namespace, name) for namespace, name in changes.services)
    if changes.pods:
        scopes.add(PODS_SCOPE)
    return frozenset(scopes)


ZONE_SCOPE = ("zone",)
REVERSE_SCOPE = ("reverse",)
PODS_SCOPE = ("pods",)


def soa_record(snapshot: ZoneSnapshot, config: KubernetesConfig, zone: str) -> Record:
    """The zone's SOA: ns.dns.<zone>, hostmaster.<zone>, minimum = ttl (TTL capped at 300)."""
    data = Soa(
        "ns.dns." + zone,
        "hostmaster." + zone,
        snapshot.serial % 2**32,
        7200,
        1800,
        86400,
        config.ttl,
    )
    return Record(zone, RType.SOA, min(config.ttl, 300), data)


def _lookup(
    snapshot: ZoneSnapshot, config: KubernetesConfig, question: Question, qtype: int
) -> Found:
    zone, qname, labels = question.zone, question.name, question.labels
    if not labels:
        return _apex(snapshot, config, zone, qname, qtype)
    if question.reverse:
        if qtype != RType.PTR:
            raise _NameError  # CoreDNS: only PTR exists in the reverse zones.
        return _reverse(snapshot, config, qname), []
    if labels == ("dns-version",):
        # Specification 2.3.1: the schema version as TXT.
        if qtype == RType.TXT:
            return [Record(qname, RType.TXT, DNS_VERSION_TTL, Txt((SCHEMA_VERSION,)))], []
        return [], []
    if labels == ("dns",):
        return [], []  # empty non-terminal above ns.dns.<zone>
    if labels == ("ns", "dns"):
        return _addresses(qname, config.ns_addresses, config.ttl, qtype), []
    kind = labels[-1]
    if kind not in ("svc", "pod") or len(labels) > 5:
        raise _NameError
    if len(labels) == 1:
        return [], []  # svc.<zone> and pod.<zone> are empty non-terminals
    namespace = labels[-2]
    if namespace not in snapshot.namespaces or not config.exposes(namespace):
        raise _NameError
    if len(labels) == 2:
        return [], []  # an existing namespace has no records of its own
    if kind == "pod":
        return _pod(snapshot, config, qname, labels, namespace, qtype), []
    return _service(snapshot, config, zone, qname, labels, namespace, qtype)


def _apex(
    snapshot: ZoneSnapshot, config: KubernetesConfig, zone: str, qname: str, qtype: int
) -> Found:
    if qtype == RType.SOA:
        return [soa_record(snapshot, config, zone)], []
    if qtype == RType.NS:
        target = "ns.dns." + zone
        glue = [
            r
            for t in (RType.A, RType.AAAA)
            for r in _addresses(target, config.ns_addresses, config.ttl, t)
        ]
        return [Record(qname, RType.NS, config.ttl, Target(target))], glue
    return [], []


def _addresses(owner: str, addresses: tuple[str, ...], ttl: int, qtype: int) -> list[Record]:
    records = []
    for text in addresses:
        rtype = _address_type(text)
        if rtype == qtype:
            records.append(Record(owner, rtype, ttl, Address(text)))
    return records


def _pod(
    snapshot: ZoneSnapshot,
    config: KubernetesConfig,
    qname: str,
    labels: tuple[str, ...],
    namespace: str,
    qtype: int,
) -> list[Record]:
    if len(labels) != 3 or config.pods == "disabled":
        raise _NameError
    address = address_from_dashed(labels[0])
    if address is None:
        raise _NameError
    if config.pods == "verified" and namespace not in snapshot.pod_ips.get(address, ()):
        raise _NameError
    return _addresses(qname, (address,), config.ttl, qtype)


def _service(
    snapshot: ZoneSnapshot,
    config: KubernetesConfig,
    zone: str,
    qname: str,
    labels: tuple[str, ...],
    namespace: str,
    qtype: int,
) -> Found:
    view = snapshot.services.get((namespace, labels[-3]))
    if view is None:
        raise _NameError
    endpoint = port = protocol = ""
    if len(labels) == 4:
        endpoint = labels[0]
    elif len(labels) == 5:
        # parse.go: two extra labels are _port._protocol (underscores optional).
        port, protocol = labels[0].removeprefix("_"), labels[1].removeprefix("_")
    entries = _entries(view, zone, endpoint, port, protocol, config)
    if not entries:
        raise _NameError
    if qtype in (RType.A, RType.AAAA):
        return [
            _alias(qname, e, config)
            if e.alias
            else Record(qname, RType(qtype), config.ttl, Address(e.host))
            for e in entries
            if e.alias or _address_type(e.host) == qtype
        ], []
    if qtype == RType.SRV:
        return _srv(qname, [e for e in entries if not e.alias], config.ttl)
    if qtype in (RType.CNAME, RType.TXT):
        return [_alias(qname, e, config) for e in entries[:1] if e.alias], []
    return [], []


def _alias(qname: str, entry: _Entry, config: KubernetesConfig) -> Record:
    return Record(qname, RType.CNAME, config.ttl, Target(entry.host))


def _entries(
    view: ServiceEntry, zone: str, endpoint: str, port: str, protocol: str, config: KubernetesConfig
) -> list[_Entry]:
    """CoreDNS findServices: what one Service name (filtered by endpoint or port) resolves to."""
    service = view.service
    if service is None:
        return []  # snapshots hold only entries with a Service; this keeps the types honest
    base = f"{service.name}.{service.namespace}.svc.{zone}"
    if service.type == "ExternalName":
        # CoreDNS answers only hostnames here: an IP in externalName names nothing. It has no
        # endpoints and no ports either, so endpoint, port or protocol labels name nothing.
        if endpoint or port or protocol or _is_address(service.external_name.rstrip(".")):
            return []
        return [_Entry(service.external_name, 0, base, alias=True)]
    entries: list[_Entry] = []
    if endpoint and not _names_endpoint(view, endpoint, config.endpoint_pod_names):
        return []  # checked first without building views: random names below a Service
    if service.headless or endpoint:
        for ep in ready_endpoints(view, config.endpoint_pod_names):
            if endpoint and ep.label != endpoint:
                continue
            ports = [(p.name, p.protocol, p.port) for p in ep.ports] or [("", "", NO_PORT)]
            for name, proto, number in ports:
                if _port_matches(port, protocol, name, proto):
                    entries.append(_Entry(ep.address, number, f"{ep.label}.{base}"))
        return entries
    if config.ignore_empty_service and not ready_addresses(view):
        return []  # `ignore empty_service`: NXDOMAIN for a ClusterIP with nothing behind it
    for p in service.ports:
        if _port_matches(port, protocol, p.name, p.protocol):
            entries.extend(_Entry(ip, p.port, base) for ip in service.cluster_ips)
    return entries


def _names_endpoint(view: ServiceEntry, endpoint: str, pod_names: bool) -> bool:
    """True when a ready endpoint of `view` is labelled `endpoint` (as `ready_endpoints` labels)."""
    # Addresses are canonical (objects.py), so a dashed one uses only these characters: a
    # label with any other (a random subdomain, most hostnames) can only match a hostname.
    dashed = not endpoint.strip("0123456789abcdef-")
    for piece in live_slices(view):
        for item in piece.endpoints:
            if isinstance(item, str):  # a ready endpoint without a hostname (objects.py)
                if dashed and dashed_address(item) == endpoint:
                    return True
                continue
            if not item.ready:
                continue
            if item.hostname or (pod_names and item.pod_name):
                if (item.hostname or item.pod_name) == endpoint:
                    return True
            elif dashed and dashed_address(item.address) == endpoint:
                return True
    return False


def _port_matches(port: str, protocol: str, name: str, proto: str) -> bool:
    return (not port or port == name) and (not protocol or protocol == proto)


def _srv(qname: str, entries: list[_Entry], ttl: int) -> Found:
    """SRV records with CoreDNS's weights: floor(100 / N) for N equal-priority targets."""
    if not entries:
        return [], []
    weight = max(1, 100 // len(entries))
    records: list[Record] = []
    extra: list[Record] = []
    for entry in entries:
        if entry.port == NO_PORT:
            continue
        records.append(Record(qname, RType.SRV, ttl, Srv(0, weight, entry.port, entry.name)))
        rtype = _address_type(entry.host)
        extra.append(Record(entry.name, rtype, ttl, Address(entry.host)))
    return records, extra


def _reverse(snapshot: ZoneSnapshot, config: KubernetesConfig, qname: str) -> list[Record]:
    """PTR: a cluster IP names its Service; otherwise every endpoint with that address."""
    address = address_from_reverse(qname)
    if address is None:
        raise _NameError
    zone = config.primary_zone
    targets: list[str] = []
    exposed = [k for k in owners(snapshot.cluster_ip_index, address) if config.exposes(k[0])]
    for namespace, name in exposed[:1]:
        targets.append(f"{name}.{namespace}.svc.{zone}")
    if not targets:
        for key in owners(snapshot.endpoint_ip_index, address):
            if not config.exposes(key[0]):
                continue
            view = snapshot.services[key]
            targets.extend(
                f"{ep.label}.{key[1]}.{key[0]}.svc.{zone}"
                for ep in ready_endpoints(view, config.endpoint_pod_names)
                if ep.address == address
            )
    if not targets:
        raise _NameError
    return [Record(qname, RType.PTR, config.ttl, Target(t)) for t in targets]


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _address_type(address: str) -> RType:
    """A or AAAA for a canonical address (objects.py validated it; only IPv6 has colons)."""
    return RType.AAAA if ":" in address else RType.A


def _unique(records: list[Record]) -> list[Record]:
    """Records in first-seen order without repeats (CoreDNS dnsutil.Dedup)."""
    return list(dict.fromkeys(records))
