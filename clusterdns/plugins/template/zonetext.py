"""One resource record in zone-file text (RFC 1035 5.1) made into a record ready to write.

As miekg/dns NewRR reads what CoreDNS templates produce: `OWNER [TTL] [CLASS] TYPE RDATA` (TTL
and class in either order), relative names taken as absolute (the origin is the root), TTL 3600
when absent, parentheses joining lines, `;` comments, quoted strings. Types: A, AAAA, CNAME,
NS, PTR, DNAME, MX, SRV, TXT, SOA, HINFO, and any type in RFC 3597's generic form
(`TYPE65280 \\# 2 abcd`).
"""

import ipaddress
import re
import struct

from clusterdns.dns.editable import Rr, valid_name
from clusterdns.dns.mnemonics import class_text, type_text
from clusterdns.dns.records import (
    CLASS_IN,
    Address,
    RData,
    Record,
    RType,
    Soa,
    Srv,
    Target,
    Txt,
)
from clusterdns.dns.wire import Section

DEFAULT_TTL = 3600  # miekg/dns defaultTtl
_TYPES = {type_text(n): n for n in (*range(1, 300), 32768, 32769)}
_CLASSES = {class_text(n): n for n in (1, 3, 4, 254, 255)}
_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|(;.*)|([()])|((?:[^\s"();\\]|\\.)+))')
_NAME_TYPES = {"CNAME": 5, "NS": 2, "PTR": 12, "DNAME": 39}


class RecordTextError(ValueError):
    """Text that is not one valid resource record."""


def parse_record(text: str, section: Section) -> Rr:
    """The record `text` describes, in `section`; RecordTextError naming the bad part."""
    tokens = _tokens(text)
    if len(tokens) < 2:
        raise RecordTextError(f"'{text}' is not a resource record")
    owner = _name(tokens[0][1])
    ttl, rclass, index = DEFAULT_TTL, 1, 1
    for _ in range(2):
        if index < len(tokens) and not tokens[index][0]:
            word = tokens[index][1]
            if word.isdigit():
                ttl = int(word)
                index += 1
            elif word.upper() in _CLASSES or re.fullmatch(r"CLASS[0-9]+", word.upper()):
                rclass = _CLASSES.get(word.upper()) or int(word[5:])
                index += 1
    if index >= len(tokens):
        raise RecordTextError(f"'{text}' has no type")
    mnemonic = tokens[index][1].upper()
    rtype = _TYPES.get(mnemonic)
    if rtype is None and re.fullmatch(r"TYPE[0-9]{1,5}", mnemonic):
        rtype = int(mnemonic[4:])
    if rtype is None or rtype > 65535:
        raise RecordTextError(f"unknown type '{tokens[index][1]}'")
    if ttl > 2**31 - 1 or rclass > 65535:
        raise RecordTextError(f"TTL or class out of range in '{text}'")
    rdata = tokens[index + 1 :]
    head, names, tail = _rdata(mnemonic, rtype, rdata)
    return Rr(section, owner, rtype, rclass, ttl, head, names, tail)


def _tokens(text: str) -> list[tuple[bool, str]]:
    """(quoted, text) tokens; parentheses and comments dropped."""
    tokens: list[tuple[bool, str]] = []
    position = 0
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            if text[position:].strip():
                raise RecordTextError(f"cannot read '{text[position:]}'")
            break
        quoted, comment, paren, word = found.groups()
        if quoted is not None:
            tokens.append((True, quoted))
        elif word is not None:
            tokens.append((False, word))
        elif comment is not None:
            break
        position = found.end()
        del paren
    return tokens


def _name(text: str) -> str:
    name = text if text.endswith(".") and not text.endswith("\\.") else text + "."
    if name == "@." or name == "..":
        name = "."
    if not valid_name(name) or ".." in name.replace("\\.", ""):
        raise RecordTextError(f"bad name '{text}'")
    return name


def _words(rdata: list[tuple[bool, str]], count: int, mnemonic: str) -> list[str]:
    if len(rdata) != count:
        raise RecordTextError(f"{mnemonic} wants {count} data fields, got {len(rdata)}")
    return [word for _, word in rdata]


def _u(text: str, bits: int, what: str) -> int:
    if not text.isdigit() or int(text) >= 1 << bits:
        raise RecordTextError(f"bad {what} '{text}'")
    return int(text)


def _rdata(
    mnemonic: str, rtype: int, rdata: list[tuple[bool, str]]
) -> tuple[bytes, tuple[str, ...], bytes]:
    if len(rdata) >= 1 and rdata[0] == (False, "\\#"):
        return b"", (), _generic(rdata[1:])
    if mnemonic in ("A", "AAAA"):
        (address,) = _words(rdata, 1, mnemonic)
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise RecordTextError(f"bad {mnemonic} address '{address}'") from None
        if (ip.version == 4) != (mnemonic == "A"):
            raise RecordTextError(f"bad {mnemonic} address '{address}'")
        return b"", (), ip.packed
    if mnemonic in _NAME_TYPES:
        (target,) = _words(rdata, 1, mnemonic)
        return b"", (_name(target),), b""
    if mnemonic == "MX":
        preference, exchange = _words(rdata, 2, mnemonic)
        return struct.pack("!H", _u(preference, 16, "preference")), (_name(exchange),), b""
    if mnemonic == "SRV":
        priority, weight, port, target = _words(rdata, 4, mnemonic)
        head = struct.pack(
            "!HHH", _u(priority, 16, "priority"), _u(weight, 16, "weight"), _u(port, 16, "port")
        )
        return head, (_name(target),), b""
    if mnemonic == "SOA":
        mname, rname, *numbers = _words(rdata, 7, mnemonic)
        counters = struct.pack("!5I", *(_u(n, 32, "SOA number") for n in numbers))
        return b"", (_name(mname), _name(rname)), counters
    if mnemonic in ("TXT", "HINFO"):
        if not rdata or (mnemonic == "HINFO" and len(rdata) != 2):
            raise RecordTextError(f"{mnemonic} wants character strings")
        return b"", (), b"".join(_character_string(word) for _, word in rdata)
    raise RecordTextError(
        f"type {mnemonic} is only supported in the generic form TYPE{rtype} \\# ..."
    )


def _character_string(text: str) -> bytes:
    data = bytearray()
    index = 0
    while index < len(text):
        if text[index] == "\\" and index + 1 < len(text):
            digits = text[index + 1 : index + 4]
            if len(digits) == 3 and digits.isdigit():
                data.append(int(digits) & 0xFF)
                index += 4
                continue
            data += text[index + 1].encode()
            index += 2
            continue
        data += text[index].encode()
        index += 1
    if len(data) > 255:
        raise RecordTextError("a character string is longer than 255 bytes")
    return bytes((len(data),)) + bytes(data)


def _generic(rdata: list[tuple[bool, str]]) -> bytes:
    """RFC 3597 5: `\\# LENGTH HEX...`."""
    if not rdata or not rdata[0][1].isdigit():
        raise RecordTextError("generic data wants a length")
    length = int(rdata[0][1])
    hex_text = "".join(word for _, word in rdata[1:])
    try:
        data = bytes.fromhex(hex_text)
    except ValueError:
        raise RecordTextError(f"bad hex data '{hex_text}'") from None
    if len(data) != length:
        raise RecordTextError(f"generic data is {len(data)} bytes, its length says {length}")
    return data


def as_record(rr: Rr) -> Record | None:
    """`rr` as a structured record the server can pre-encode, or None for other types/classes.

    Names are lowercased (clusterdns's record values are); names with escapes, classes other
    than IN and non-ASCII TXT stay in the byte form.
    """
    names = (rr.name, *rr.names)
    if rr.rclass != CLASS_IN or any("\\" in name for name in names):
        return None
    owner = rr.name.lower()
    data: RData
    if rr.rtype == RType.A and len(rr.tail) == 4:
        data = Address(str(ipaddress.IPv4Address(rr.tail)))
    elif rr.rtype == RType.AAAA and len(rr.tail) == 16:
        data = Address(str(ipaddress.IPv6Address(rr.tail)))
    elif rr.rtype in (RType.CNAME, RType.PTR, RType.NS) and rr.names:
        data = Target(rr.names[0].lower())
    elif rr.rtype == RType.SRV and rr.names:
        priority, weight, port = struct.unpack("!HHH", rr.head)
        data = Srv(priority, weight, port, rr.names[0].lower())
    elif rr.rtype == RType.SOA and len(rr.names) == 2:
        serial, refresh, retry, expire, minimum = struct.unpack("!5I", rr.tail)
        mname, rname = (name.lower() for name in rr.names)
        data = Soa(mname, rname, serial, refresh, retry, expire, minimum)
    elif rr.rtype == RType.TXT and rr.tail.isascii():
        data = Txt(tuple(_strings(rr.tail)))
        if any('"' in s or "\\" in s for s in data.strings):
            return None
    else:
        return None
    return Record(owner, RType(rr.rtype), rr.ttl, data)


def _strings(data: bytes) -> list[str]:
    strings, position = [], 0
    while position < len(data):
        length = data[position]
        strings.append(data[position + 1 : position + 1 + length].decode("ascii"))
        position += 1 + length
    return strings
