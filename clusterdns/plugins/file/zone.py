"""One loaded zone and the answers it gives: pure functions of (zone, name, type).

Follows CoreDNS's file plugin (plugin/file/lookup.go): the apex SOA and NS, referrals at zone
cuts, CNAME chains followed inside the zone (at most 8 links), wildcards (RFC 4592: synthesized
from `*.<closest encloser>`), NODATA and NXDOMAIN with the SOA in authority (RFC 2308 2.1, 2.2),
and A/AAAA of in-zone MX, SRV and NS targets in the additional section.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from clusterdns.corefile.lexer import CorefileError
from clusterdns.dns.names import ROOT, is_subdomain
from clusterdns.dns.records import Answer, Mx, Rcode, Record, RType, Soa, Srv, Target
from clusterdns.errors import ConfigError
from clusterdns.plugins.file.zonefile import Loaded

MAX_CHAIN = 8  # CoreDNS: at most 8 CNAMEs followed
Node = Mapping[int, tuple[Record, ...]]  # type → RRset of one owner name


@dataclass(frozen=True, slots=True)
class Zone:
    """A zone's records by owner and type, and every name that exists (empty non-terminals
    included), frozen; a reload builds a new one."""

    origin: str
    soa: Record
    ns: tuple[Record, ...]
    nodes: Mapping[str, Node]
    names: frozenset[str]

    @property
    def serial(self) -> int:
        """The SOA serial."""
        data = self.soa.data
        return data.serial if isinstance(data, Soa) else 0


@dataclass(frozen=True, slots=True)
class Result:
    """An answer; `external`: a CNAME target outside the zone whose records must be appended;
    `name_error`: no such name (or an empty non-terminal), which `fallthrough` may pass on."""

    answer: Answer
    external: str = ""
    name_error: bool = False


def build_zone(loaded: Iterable[Loaded], origin: str, filename: str) -> Zone:
    """The zone of parsed records; CorefileError (FILE:LINE) for data RFC 1034 forbids."""
    nodes: dict[str, dict[int, list[Record]]] = {}
    soa: Record | None = None
    for item in loaded:
        record = item.record
        if record.rtype == RType.SOA:
            if record.name != origin:
                problem = f"SOA of {record.name} in zone {origin}: it must be at the apex"
                raise CorefileError(item.file, item.line, f"file: {problem}")
            if soa is not None:
                raise CorefileError(item.file, item.line, "file: a second SOA record")
            soa = record
        node = nodes.setdefault(record.name, {})
        rrset = node.setdefault(record.rtype, [])
        if record not in rrset:
            rrset.append(record)
        _check_cname(node, record, item.file, item.line)
    if soa is None:
        raise ConfigError(f"{filename}: file: zone {origin} has no SOA record")
    names = {origin}
    for owner in nodes:
        names.update(_ancestors(owner, origin))
    frozen = {
        owner: MappingProxyType({t: tuple(r) for t, r in n.items()}) for owner, n in nodes.items()
    }
    ns = frozen.get(origin, MappingProxyType({})).get(RType.NS, ())
    return Zone(origin, soa, ns, MappingProxyType(frozen), frozenset(names))


def _check_cname(node: dict[int, list[Record]], record: Record, filename: str, line: int) -> None:
    """RFC 1034 3.6.2: a name with a CNAME has no other data, and one CNAME only."""
    cnames = node.get(RType.CNAME, [])
    if len(cnames) > 1:
        raise CorefileError(filename, line, f"file: a second CNAME for {record.name}")
    if cnames and len(node) > 1:
        raise CorefileError(filename, line, f"file: {record.name} has a CNAME and other data")


def _ancestors(name: str, origin: str) -> list[str]:
    """`name` and every name between it and `origin` (exclusive), nearest the origin first."""
    found: list[str] = []
    while name != origin and name != ROOT:
        found.append(name)
        name = name.split(".", 1)[1] or ROOT
    return found[::-1]


def lookup(zone: Zone, qname: str, qtype: int) -> Result:
    """The answer of `zone` for lowercase absolute `qname` (inside the zone) and `qtype`."""
    if qname == zone.origin and qtype == RType.SOA:
        return Result(_answer((zone.soa,), zone.ns, ()))
    if qname == zone.origin and qtype == RType.NS:
        return Result(_answer(zone.ns, (), _glue(zone, zone.ns)))
    referral = _referral(zone, qname)
    if referral is not None:
        return Result(referral)
    node = _node(zone, qname)
    if node is None:
        exists = qname in zone.names
        rcode = Rcode.NOERROR if exists else Rcode.NXDOMAIN
        return Result(_negative(zone, rcode, ()), name_error=True)
    cname = node.get(RType.CNAME)
    if cname and qtype != RType.CNAME:
        return _chase(zone, _owned(cname, qname), qtype)
    rrset = node.get(qtype)
    if not rrset:
        return Result(_negative(zone, Rcode.NOERROR, ()))
    records = _owned(rrset, qname)
    return Result(_answer(records, zone.ns, _glue(zone, records)))


def _node(zone: Zone, name: str) -> Node | None:
    """The records at `name`, or those of the wildcard that covers it (RFC 4592 3.3.1)."""
    node = zone.nodes.get(name)
    if node is not None or name in zone.names:
        return node
    encloser = name
    while encloser != zone.origin and encloser not in zone.names:
        encloser = encloser.split(".", 1)[1] or ROOT
    return zone.nodes.get("*." + encloser if encloser != ROOT else "*.")


def _referral(zone: Zone, qname: str) -> Answer | None:
    """A delegation at a zone cut above or at `qname` (CoreDNS: not authoritative)."""
    for name in _ancestors(qname, zone.origin):
        node = zone.nodes.get(name)
        cut = node.get(RType.NS) if node is not None else None
        if cut:
            return Answer(Rcode.NOERROR, authority=cut, additional=_glue(zone, cut))
    return None


def _chase(zone: Zone, chain: tuple[Record, ...], qtype: int) -> Result:
    """Follow CNAMEs inside the zone; a target outside it is left to the caller."""
    records = list(chain)
    for _ in range(MAX_CHAIN):
        target = _target(records[-1])
        if not is_subdomain(target, zone.origin):
            return Result(_answer(tuple(records), zone.ns, ()), external=target)
        referral = _referral(zone, target)
        if referral is not None:
            return Result(replace(referral, answer=tuple(records), authoritative=True))
        node = _node(zone, target)
        if node is None:
            rcode = Rcode.NOERROR if target in zone.names else Rcode.NXDOMAIN
            return Result(_negative(zone, rcode, tuple(records)))  # RFC 6604: the last rcode
        following = node.get(RType.CNAME)
        if following:
            if any(r.name == target for r in records):
                break  # a loop: stop with what there is
            records.extend(_owned(following, target))
            continue
        found = _owned(node.get(qtype, ()), target)
        if not found:
            return Result(_negative(zone, Rcode.NOERROR, tuple(records)))
        records.extend(found)
        break
    answer = tuple(records)
    return Result(_answer(answer, zone.ns, _glue(zone, answer)))


def _target(record: Record) -> str:
    data = record.data
    return data.target if isinstance(data, Target) else ""


def _owned(rrset: Iterable[Record], owner: str) -> tuple[Record, ...]:
    """`rrset` under `owner`: itself, or a wildcard's records synthesized for the name asked."""
    return tuple(r if r.name == owner else replace(r, name=owner) for r in rrset)


def _answer(
    answer: tuple[Record, ...], authority: tuple[Record, ...], additional: tuple[Record, ...]
) -> Answer:
    return Answer(Rcode.NOERROR, answer, authority, additional, authoritative=True)


def _negative(zone: Zone, rcode: Rcode, answer: tuple[Record, ...]) -> Answer:
    return Answer(rcode, answer, (zone.soa,), authoritative=True)


def _glue(zone: Zone, records: Iterable[Record]) -> tuple[Record, ...]:
    """A and AAAA in the zone for the hosts MX, SRV and NS records name."""
    extra: list[Record] = []
    for record in records:
        data = record.data
        host = (
            data.exchange
            if isinstance(data, Mx)
            else data.target
            if isinstance(data, Srv) or (isinstance(data, Target) and record.rtype == RType.NS)
            else ""
        )
        node = zone.nodes.get(host) if host else None
        if node is not None:
            for rtype in (RType.A, RType.AAAA):
                extra.extend(r for r in node.get(rtype, ()) if r not in extra)
    return tuple(extra)
