"""What the cache decides about a reply: its kind, and for how long it may be kept.

These are CoreDNS's rules (plugin/pkg/response/typify.go, plugin/pkg/dnsutil/ttl.go and
computeTTL in plugin/cache/cache.go), applied to a `Shape` that both structured answers and
foreign wire replies reduce to.
"""

from dataclasses import dataclass
from enum import Enum

from clusterdns.dns.records import ZONE_TRANSFERS, Answer, Rcode, RType, Soa

# CoreDNS dnsutil.MaximumDefaulTTL and MinimalDefaultTTL.
MAX_DEFAULT_TTL = 3600
MIN_DEFAULT_TTL = 5


class Kind(Enum):
    """CoreDNS's response types that matter to the cache."""

    NO_ERROR = "noerror"
    DELEGATION = "delegation"
    NAME_ERROR = "nxdomain"
    NO_DATA = "nodata"
    SERVER_ERROR = "servfail"
    OTHER = "other"  # other errors and zone transfers: never cached

    @property
    def cache(self) -> str:
        """The cache that holds this kind: "success", "denial", or "" for none."""
        return _CACHE_OF[self]


_CACHE_OF = {
    Kind.NO_ERROR: "success",
    Kind.DELEGATION: "success",
    Kind.NAME_ERROR: "denial",
    Kind.NO_DATA: "denial",
    Kind.SERVER_ERROR: "denial",
    Kind.OTHER: "",
}


@dataclass(frozen=True, slots=True)
class Shape:
    """What a reply holds, as far as the cache cares: rcode, TC, section facts and TTLs."""

    rcode: int  # including EDNS extended bits
    truncated: bool
    answers: int
    authority_soa: bool
    authority_ns: bool
    records: int  # every record but OPT
    lowest_ttl: int  # over every record but OPT; MAX_DEFAULT_TTL when there are none
    soa_minimum: int | None  # the lowest MINIMUM of the SOA records in authority


def shape_of_answer(answer: Answer) -> Shape:
    """The shape of a structured answer."""
    records = answer.answer + answer.authority + answer.additional
    minimums = [r.data.minimum for r in answer.authority if isinstance(r.data, Soa)]
    return Shape(
        rcode=int(answer.rcode),
        truncated=False,
        answers=len(answer.answer),
        authority_soa=bool(minimums),
        authority_ns=any(r.rtype == RType.NS for r in answer.authority),
        records=len(records),
        lowest_ttl=min((r.ttl for r in records), default=MAX_DEFAULT_TTL),
        soa_minimum=min(minimums, default=None),
    )


def classify(shape: Shape, qtype: int) -> Kind:
    """CoreDNS response.Typify, without its DNSSEC signature-expiry check."""
    if qtype in ZONE_TRANSFERS:
        return Kind.OTHER
    if shape.answers and shape.rcode == Rcode.NOERROR:
        return Kind.NO_ERROR
    if shape.authority_soa and shape.rcode == Rcode.NOERROR:
        return Kind.NO_DATA
    if shape.authority_soa and shape.rcode == Rcode.NXDOMAIN:
        return Kind.NAME_ERROR
    if shape.rcode in (Rcode.SERVFAIL, Rcode.NOTIMP):
        return Kind.SERVER_ERROR
    if shape.authority_ns and shape.rcode == Rcode.NOERROR:
        return Kind.DELEGATION
    if shape.rcode == Rcode.NOERROR:
        return Kind.NO_ERROR
    return Kind.OTHER


def message_ttl(shape: Shape, kind: Kind) -> int:
    """CoreDNS dnsutil.MinimalTTL: the lowest record TTL, at most an hour, 5s if nothing to go by.

    For denials the SOA's MINIMUM counts too: RFC 2308 section 5 caps the negative TTL at
    min(SOA TTL, SOA MINIMUM).
    """
    if kind not in (Kind.NO_ERROR, Kind.NAME_ERROR, Kind.NO_DATA) or not shape.records:
        return MIN_DEFAULT_TTL
    ttl = min(shape.lowest_ttl, MAX_DEFAULT_TTL)
    if kind is not Kind.NO_ERROR and shape.soa_minimum is not None:
        ttl = min(ttl, shape.soa_minimum)
    return ttl


def clamp(ttl: int, lowest: int, highest: int) -> int:
    """CoreDNS computeTTL: raise to `lowest`, then cap at `highest`."""
    return min(max(ttl, lowest), highest)
