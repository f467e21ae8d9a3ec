"""RFC 1035 section 5 master files to records, with FILE:LINE errors naming the bad token.

Written here rather than taken from dnslib's parser so that every error names its line and
token, and nothing here runs per query. Supported: `$ORIGIN`, `$TTL`, `$INCLUDE`, `@`,
relative names, an omitted owner (the previous one), TTL and class in either order, `( )`
spanning lines, `;` comments, quoted strings with RFC 1035 5.1 escapes, BIND-style TTLs
(`1h30m`). Record types: A, AAAA, NS, CNAME, PTR, MX, TXT, SRV, SOA. Other registered types
are skipped with a warning (the zone still loads); an unknown mnemonic is an error.
"""

import ipaddress
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from clusterdns.corefile.lexer import CorefileError
from clusterdns.dns.names import ROOT, is_subdomain, normalize
from clusterdns.dns.records import Address, Mx, Record, RType, Soa, Srv, Target, Txt
from clusterdns.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_TTL = 3600  # miekg/dns (CoreDNS's parser) without $TTL or an earlier TTL
MAX_TTL = 2**31 - 1  # RFC 2181 8
_TTL = re.compile(r"(?:[0-9]+[smhdw])+|[0-9]+", re.ASCII | re.IGNORECASE)
_TTL_PART = re.compile(r"([0-9]+)([smhdw])", re.ASCII | re.IGNORECASE)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_CLASSES = ("IN", "CH", "CS", "HS")
_LABEL = re.compile(r"[a-z0-9_-]+|\*", re.ASCII)
# Registered types this server does not serve: skipped, with a warning, so real zone files
# (with CAA or DNSSEC records, say) still load. Anything else that is not a number is a typo.
SKIPPED_TYPES = frozenset(
    "HINFO MINFO RP AFSDB X25 ISDN RT NSAP SIG KEY PX GPOS LOC NXT EID NIMLOC ATMA NAPTR KX "
    "CERT A6 DNAME SINK APL DS SSHFP IPSECKEY RRSIG NSEC DNSKEY DHCID NSEC3 NSEC3PARAM TLSA "
    "SMIMEA HIP NINFO RKEY TALINK CDS CDNSKEY OPENPGPKEY CSYNC ZONEMD SVCB HTTPS SPF UINFO UID "
    "GID UNSPEC NID L32 L64 LP EUI48 EUI64 TKEY TSIG URI CAA AVC DOA AMTRELAY TA DLV WKS MB MG "
    "MR NULL MD MF NXNAME RESINFO WALLET".split()
)


@dataclass(frozen=True, slots=True)
class Loaded:
    """A record and where it came from: the zone file (or the file it includes) and the line."""

    record: Record
    line: int
    file: str


# Reads a file named by $INCLUDE; raises OSError (or ConfigError) when it cannot.
Include = Callable[[str], str]
MAX_INCLUDE_DEPTH = 7  # miekg/dns, CoreDNS's parser, stops at 7 nested includes


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    quoted: bool
    line: int


@dataclass(frozen=True, slots=True)
class _Reader:
    """Where errors point (the file being read), and how to read the files it includes."""

    filename: str
    include: Include | None = None
    depth: int = 0

    def error(self, line: int, problem: str) -> CorefileError:
        return CorefileError(self.filename, line, f"file: {problem}")


@dataclass(slots=True)
class _State:
    """The parser's position: zone, current $ORIGIN, TTLs and the last owner."""

    zone: str
    origin: str
    default_ttl: int | None = None
    last_ttl: int | None = None
    owner: str | None = None


def parse_zone(
    text: str, origin: str, filename: str, include: Include | None = None
) -> tuple[Loaded, ...]:
    """The records of zone file `text` for zone `origin`; CorefileError (FILE:LINE) if bad.

    `include` reads the files `$INCLUDE` names (relative to the including file's folder);
    without it, `$INCLUDE` is an error.
    """
    records: list[Loaded] = []
    _parse(text, _State(origin, origin), _Reader(filename, include), records)
    return tuple(records)


def _parse(text: str, state: _State, reader: _Reader, records: list[Loaded]) -> None:
    for line, indented, tokens in _entries(text, reader):
        head = tokens[0]
        if not indented and not head.quoted and head.text.startswith("$"):
            _control(state, reader, line, tokens, records)
            continue
        record = _record(state, reader, line, indented, tokens)
        if record is not None:
            records.append(Loaded(record, line, reader.filename))


def _control(
    state: _State, reader: _Reader, line: int, tokens: list[_Token], records: list[Loaded]
) -> None:
    """$ORIGIN, $TTL (RFC 2308 4) and $INCLUDE (RFC 1035 5.1)."""
    keyword = tokens[0].text.upper()
    if keyword == "$ORIGIN":
        _expect(reader, tokens, 2, "$ORIGIN NAME")
        state.origin = _name(reader, tokens[1], state.origin)
    elif keyword == "$TTL":
        _expect(reader, tokens, 2, "$TTL TTL")
        state.default_ttl = _ttl(reader, tokens[1])
    elif keyword == "$INCLUDE":
        _include(state, reader, line, tokens, records)
    else:
        problem = f"'{tokens[0].text}' is not supported (only $ORIGIN, $TTL, $INCLUDE)"
        raise reader.error(line, problem)


def _include(
    state: _State, reader: _Reader, line: int, tokens: list[_Token], records: list[Loaded]
) -> None:
    """Read the named file with its own origin; RFC 1035 5.1: the origin and the current
    owner revert once it has been read."""
    if len(tokens) not in (2, 3):
        got = " ".join(t.text for t in tokens)
        raise reader.error(line, f"expected '$INCLUDE FILE [ORIGIN]', got '{got}'")
    if reader.include is None:
        raise reader.error(line, "$INCLUDE is not allowed here")
    if reader.depth >= MAX_INCLUDE_DEPTH:
        raise reader.error(line, f"$INCLUDE nested deeper than {MAX_INCLUDE_DEPTH}")
    path = tokens[1].text
    if not os.path.isabs(path):
        path = os.path.join(os.path.dirname(reader.filename), path)
    origin = _name(reader, tokens[2], state.origin) if len(tokens) == 3 else state.origin
    try:
        text = reader.include(path)
    except (OSError, ConfigError) as exc:
        raise reader.error(line, f"$INCLUDE {tokens[1].text}: cannot read it: {exc}") from None
    inner = _State(state.zone, origin, state.default_ttl, state.last_ttl)
    _parse(text, inner, _Reader(path, reader.include, reader.depth + 1), records)


def _record(
    state: _State, reader: _Reader, line: int, indented: bool, tokens: list[_Token]
) -> Record | None:
    """One resource record line; None for a type that is skipped."""
    if not indented:
        state.owner = _name(reader, tokens[0], state.origin)
        tokens = tokens[1:]
    owner = state.owner
    if owner is None:
        raise reader.error(line, "a record without an owner name, and none before it")
    ttl, rtype, rdata = _ttl_class_type(reader, line, tokens)
    if ttl is None:
        ttl = state.default_ttl if state.default_ttl is not None else state.last_ttl
    if rtype is None:
        return None  # a skipped type, already warned about
    if not is_subdomain(owner, state.zone):
        raise reader.error(line, f"owner '{owner}' is outside the zone {state.zone}")
    data = _rdata(reader, line, rtype, rdata, state.origin)
    if rtype == RType.SOA and ttl is None and isinstance(data, Soa):
        ttl = data.minimum  # RFC 1035 without $TTL: the SOA's own minimum
    state.last_ttl = DEFAULT_TTL if ttl is None else ttl
    return Record(owner, rtype, state.last_ttl, data)


def _entries(text: str, reader: _Reader) -> Iterator[tuple[int, bool, list[_Token]]]:
    """Logical entries: (first line, owner omitted, tokens), parentheses joining lines."""
    depth = 0
    tokens: list[_Token] = []
    start = 0
    indented = False
    for number, line in enumerate(text.splitlines(), 1):
        if depth == 0:
            start, indented, tokens = number, line[:1] in (" ", "\t"), []
        depth = _scan(reader, number, line, depth, tokens)
        if depth == 0 and tokens:
            yield start, indented, tokens
    if depth:
        raise reader.error(start, "'(' is never closed")


def _scan(reader: _Reader, number: int, line: str, depth: int, tokens: list[_Token]) -> int:
    """Append the tokens of one line; return the parenthesis depth after it."""
    at, end = 0, len(line)
    while at < end:
        char = line[at]
        if char in " \t\r":
            at += 1
        elif char == ";":
            break
        elif char == "(":
            depth, at = depth + 1, at + 1
        elif char == ")":
            if depth == 0:
                raise reader.error(number, "')' without '('")
            depth, at = depth - 1, at + 1
        elif char == '"':
            close = at + 1
            while close < end and line[close] != '"':
                close += 2 if line[close] == "\\" else 1
            if close >= end:
                raise reader.error(number, f"unterminated quoted string {line[at:]!r}")
            tokens.append(_Token(line[at + 1 : close], True, number))
            at = close + 1
        else:
            stop = at
            while stop < end and line[stop] not in ' \t\r;()"':
                stop += 2 if line[stop] == "\\" else 1
            tokens.append(_Token(line[at:stop], False, number))
            at = stop
    return depth


def _expect(reader: _Reader, tokens: list[_Token], count: int, form: str) -> None:
    if len(tokens) != count:
        got = " ".join(t.text for t in tokens)
        raise reader.error(tokens[0].line, f"expected '{form}', got '{got}'")


def _ttl_class_type(
    reader: _Reader, line: int, tokens: list[_Token]
) -> tuple[int | None, RType | None, list[_Token]]:
    """[TTL] [CLASS] TYPE, TTL and class in either order (RFC 1035 5.1), then the rdata."""
    ttl: int | None = None
    index = 0
    for _ in range(2):
        if index >= len(tokens):
            break
        word = tokens[index].text
        if ttl is None and word[:1].isdigit():
            ttl, index = _ttl(reader, tokens[index]), index + 1
        elif word.upper() in _CLASSES:
            if word.upper() != "IN":
                raise reader.error(tokens[index].line, f"class {word} is not supported, only IN")
            index += 1
    if index >= len(tokens):
        raise reader.error(line, "a record without a type")
    word = tokens[index].text.upper()
    if word in RType.__members__ and word not in ("OPT", "ANY"):
        return ttl, RType[word], tokens[index + 1 :]
    if word in SKIPPED_TYPES or re.fullmatch(r"TYPE[0-9]+", word):
        logger.warning(
            "%s:%d: file: %s records are not served; skipped", reader.filename, line, word
        )
        return ttl, None, []
    raise reader.error(tokens[index].line, f"unknown record type '{tokens[index].text}'")


def _ttl(reader: _Reader, token: _Token) -> int:
    text = token.text
    if not _TTL.fullmatch(text):
        raise reader.error(token.line, f"bad TTL '{text}'")
    value = int(text) if text.isdigit() else _units(text)
    if value > MAX_TTL:
        raise reader.error(token.line, f"TTL must be 0..{MAX_TTL}, got {text}")
    return value


def _units(text: str) -> int:
    return sum(int(n) * _UNIT[u.lower()] for n, u in _TTL_PART.findall(text))


def _name(reader: _Reader, token: _Token, origin: str) -> str:
    """An absolute lowercase name: `@` is the origin, a relative name gets it appended."""
    text = token.text
    if text == "@":
        return origin
    if "\\" in text or token.quoted:
        raise reader.error(token.line, f"escaped or quoted names are not supported: '{text}'")
    if text.endswith("."):
        name = normalize(text)
    else:
        name = normalize(text + "." + origin.lstrip(".") if origin != ROOT else text + ".")
    if name != ROOT:
        labels = name[:-1].split(".")
        bad = next((label for label in labels if not _LABEL.fullmatch(label)), None)
        if bad is not None or len(name) > 254 or any(len(label) > 63 for label in labels):
            raise reader.error(token.line, f"bad name '{text}'")
        if "*" in name[1:]:
            raise reader.error(token.line, f"'*' must be a whole leftmost label, got '{text}'")
    return name


def _rdata(
    reader: _Reader, line: int, rtype: RType, rdata: list[_Token], origin: str
) -> Address | Target | Srv | Txt | Soa | Mx:
    fields = {
        RType.A: 1,
        RType.AAAA: 1,
        RType.NS: 1,
        RType.CNAME: 1,
        RType.PTR: 1,
        RType.MX: 2,
        RType.SRV: 4,
        RType.SOA: 7,
    }
    wanted = fields.get(rtype)
    if wanted is not None and len(rdata) != wanted:
        got = " ".join(t.text for t in rdata) or "nothing"
        raise reader.error(line, f"{rtype.name} needs {wanted} data fields, got '{got}'")
    if rtype in (RType.A, RType.AAAA):
        return Address(_address(reader, rdata[0], rtype))
    if rtype in (RType.NS, RType.CNAME, RType.PTR):
        return Target(_name(reader, rdata[0], origin))
    if rtype == RType.MX:
        return Mx(_number(reader, rdata[0], 0xFFFF), _name(reader, rdata[1], origin))
    if rtype == RType.SRV:
        priority, weight, port = (_number(reader, t, 0xFFFF) for t in rdata[:3])
        return Srv(priority, weight, port, _name(reader, rdata[3], origin))
    if rtype == RType.SOA:
        mname, rname = (_name(reader, t, origin) for t in rdata[:2])
        serial = _number(reader, rdata[2], 2**32 - 1)
        refresh, retry, expire, minimum = (_ttl(reader, t) for t in rdata[3:])
        return Soa(mname, rname, serial, refresh, retry, expire, minimum)
    if rtype == RType.TXT:
        if not rdata:
            raise reader.error(line, "TXT needs at least one string")
        return Txt(tuple(_string(reader, t) for t in rdata))
    raise reader.error(line, f"{rtype.name} records cannot be loaded from a zone file")


def _address(reader: _Reader, token: _Token, rtype: RType) -> str:
    try:
        if rtype == RType.A:
            return str(ipaddress.IPv4Address(token.text))
        return str(ipaddress.IPv6Address(token.text))
    except ValueError:
        raise reader.error(token.line, f"bad {rtype.name} address '{token.text}'") from None


def _number(reader: _Reader, token: _Token, most: int) -> int:
    if not token.text.isdigit() or int(token.text) > most:
        raise reader.error(token.line, f"expected a number 0..{most}, got '{token.text}'")
    return int(token.text)


def _string(reader: _Reader, token: _Token) -> str:
    """A character-string with RFC 1035 5.1 escapes (`\\X` is X, `\\DDD` is a byte)."""
    out: list[str] = []
    text, at = token.text, 0
    while at < len(text):
        char = text[at]
        if char == "\\" and text[at + 1 : at + 4].isdigit() and len(text[at + 1 : at + 4]) == 3:
            code = int(text[at + 1 : at + 4])
            if code > 255:
                raise reader.error(token.line, f"bad escape in '{text}'")
            out.append(chr(code))
            at += 4
        elif char == "\\" and at + 1 < len(text):
            out.append(text[at + 1])
            at += 2
        else:
            out.append(char)
            at += 1
    value = "".join(out)
    if len(value.encode()) > 255:
        raise reader.error(token.line, "a TXT string is longer than 255 bytes")
    return value
