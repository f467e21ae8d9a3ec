"""What `local` answers: localhost names and the 0/127/255 in-addr.arpa zones (pure)."""

from clusterdns.dns.names import longest_zone
from clusterdns.dns.records import Address, Answer, Rcode, Record, RType, Soa, Target

TTL = 604800  # a week, as CoreDNS's local plugin
ZONES = ("localhost.", "0.in-addr.arpa.", "127.in-addr.arpa.", "255.in-addr.arpa.")
_LOOPBACK_PTR = "1.0.0.127.in-addr.arpa."


def soa(origin: str) -> Record:
    """The SOA CoreDNS synthesizes for a local zone."""
    data = Soa("localhost.", "root.localhost.", 1, 0, 0, 0, TTL)
    return Record(origin, RType.SOA, TTL, data)


def loopback(name: str, qtype: int) -> Answer:
    """A/AAAA of the loopback for `name`; NODATA with SOA for other types."""
    if qtype == RType.A:
        return Answer(Rcode.NOERROR, (Record(name, RType.A, TTL, Address("127.0.0.1")),))
    if qtype == RType.AAAA:
        return Answer(Rcode.NOERROR, (Record(name, RType.AAAA, TTL, Address("::1")),))
    return Answer(Rcode.NOERROR, authority=(soa(name),))


def is_localhost_form(name: str, prefix: bool) -> bool:
    """`*.localhost.` (RFC 6761 6.3), or the legacy `localhost.<domain>` when `prefix`."""
    if name == "localhost.":
        return False
    return name.endswith(".localhost.") or (prefix and name.startswith("localhost."))


def answer(name: str, qtype: int, prefix: bool = True) -> Answer | None:
    """The reply to `name`/`qtype`, or None when it is not a local name."""
    if is_localhost_form(name, prefix):
        return loopback(name, qtype)
    zone = longest_zone(name, ZONES)
    if zone is None:
        return None
    if name in ZONES:
        if name == "localhost." and qtype in (RType.A, RType.AAAA):
            return loopback(name, qtype)
        if qtype == RType.SOA:
            return Answer(Rcode.NOERROR, (soa(name),))
        if qtype == RType.NS:
            ns = Record(name, RType.NS, TTL, Target("localhost."))
            return Answer(Rcode.NOERROR, (ns,))
        return Answer(Rcode.NOERROR, authority=(soa(name),))
    if name == _LOOPBACK_PTR:
        if qtype == RType.PTR:
            return Answer(Rcode.NOERROR, (Record(name, RType.PTR, TTL, Target("localhost.")),))
        return Answer(Rcode.NOERROR, authority=(soa(zone),))
    return Answer(Rcode.NXDOMAIN, authority=(soa(zone),))
