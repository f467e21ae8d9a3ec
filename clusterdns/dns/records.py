"""Resource record values, rcodes and the answer a handler produces, independent of wire format."""

from dataclasses import dataclass
from enum import IntEnum


class RType(IntEnum):
    """Record types clusterdns names in code (any other type still passes as an int)."""

    A = 1
    NS = 2
    CNAME = 5
    SOA = 6
    PTR = 12
    MX = 15
    TXT = 16
    AAAA = 28
    SRV = 33
    OPT = 41
    IXFR = 251
    AXFR = 252
    ANY = 255


# Zone transfer questions (RFC 1995, RFC 5936): refused or left alone, never answered here.
ZONE_TRANSFERS = frozenset((RType.IXFR, RType.AXFR))


class Rcode(IntEnum):
    """Response codes (RFC 1035 4.1.1, RFC 6891 9 for BADVERS)."""

    NOERROR = 0
    FORMERR = 1
    SERVFAIL = 2
    NXDOMAIN = 3
    NOTIMP = 4
    REFUSED = 5
    BADVERS = 16


CLASS_IN = 1


@dataclass(frozen=True, slots=True)
class Address:
    """A or AAAA data: a canonical IP address string."""

    address: str

    def text(self) -> str:
        """Zone-file form of the data."""
        return self.address


@dataclass(frozen=True, slots=True)
class Target:
    """CNAME, PTR or NS data: one domain name."""

    target: str

    def text(self) -> str:
        """Zone-file form of the data."""
        return self.target


@dataclass(frozen=True, slots=True)
class Srv:
    """SRV data (RFC 2782)."""

    priority: int
    weight: int
    port: int
    target: str

    def text(self) -> str:
        """Zone-file form of the data."""
        return f"{self.priority} {self.weight} {self.port} {self.target}"


@dataclass(frozen=True, slots=True)
class Txt:
    """TXT data: character strings."""

    strings: tuple[str, ...]

    def text(self) -> str:
        """Zone-file form of the data."""
        return " ".join(f'"{s}"' for s in self.strings)


@dataclass(frozen=True, slots=True)
class Soa:
    """SOA data (RFC 1035 3.3.13)."""

    mname: str
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int

    def text(self) -> str:
        """Zone-file form of the data."""
        return (
            f"{self.mname} {self.rname} {self.serial} {self.refresh} "
            f"{self.retry} {self.expire} {self.minimum}"
        )


@dataclass(frozen=True, slots=True)
class Mx:
    """MX data (RFC 1035 3.3.9): preference and exchange host."""

    preference: int
    exchange: str

    def text(self) -> str:
        """Zone-file form of the data."""
        return f"{self.preference} {self.exchange}"


RData = Address | Target | Srv | Txt | Soa | Mx


@dataclass(frozen=True, slots=True)
class Record:
    """One resource record with a lowercase absolute owner name."""

    name: str
    rtype: RType
    ttl: int
    data: RData

    def zone_line(self) -> str:
        """The record as a zone-file line: `name ttl IN TYPE data`."""
        return f"{self.name} {self.ttl} IN {self.rtype.name} {self.data.text()}"


@dataclass(frozen=True, slots=True)
class Answer:
    """What a handler says to a question: rcode, flags and the three record sections."""

    rcode: Rcode
    answer: tuple[Record, ...] = ()
    authority: tuple[Record, ...] = ()
    additional: tuple[Record, ...] = ()
    authoritative: bool = False
    recursion_available: bool = False
