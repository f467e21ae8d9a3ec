"""Domain names as lowercase absolute strings, and the zone arithmetic on them."""

import ipaddress
import socket

ROOT = "."


def normalize(name: str) -> str:
    """Return `name` lowercased and absolute (with one trailing dot)."""
    name = name.strip().lower()
    if not name or name == ROOT:
        return ROOT
    return name if name.endswith(".") else name + "."


def is_subdomain(name: str, zone: str) -> bool:
    """True when normalized `name` equals `zone` or lies below it."""
    if zone == ROOT:
        return True
    return name == zone or name.endswith("." + zone)


def labels_below(name: str, zone: str) -> list[str]:
    """The labels of `name` left of `zone`, leftmost first (`name` must be inside `zone`)."""
    if name == zone:
        return []
    head = name[: -len(zone)] if zone != ROOT else name
    return head.rstrip(".").split(".")


def longest_zone(name: str, zones: tuple[str, ...]) -> str | None:
    """The longest of `zones` containing `name`, or None."""
    best: str | None = None
    for zone in zones:
        if is_subdomain(name, zone) and (best is None or len(zone) > len(best)):
            best = zone
    return best


def reverse_pointer(address: str) -> str:
    """The in-addr.arpa or ip6.arpa name of an IP address."""
    return ipaddress.ip_address(address).reverse_pointer + "."


def address_from_reverse(name: str) -> str | None:
    """The IP address a full reverse name stands for, or None for partial or bad names."""
    if name.endswith(".in-addr.arpa."):
        parts = name[: -len(".in-addr.arpa.")].split(".")
        if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 for p in parts):
            return None
        try:
            return str(ipaddress.IPv4Address(".".join(reversed(parts))))
        except ValueError:
            return None
    if name.endswith(".ip6.arpa."):
        nibbles = name[: -len(".ip6.arpa.")].split(".")
        if len(nibbles) != 32 or not all(len(n) == 1 and n in "0123456789abcdef" for n in nibbles):
            return None
        digits = "".join(reversed(nibbles))
        groups = ":".join(digits[i : i + 4] for i in range(0, 32, 4))
        return str(ipaddress.IPv6Address(groups))
    return None


def dashed_address(address: str) -> str:
    """The label form of an IP address: dots (IPv4) or colons (IPv6) become dashes."""
    label = address.replace(".", "-").replace(":", "-")
    # RFC 952/1123: a label may not end in a hyphen, so CoreDNS's endpointHostname appends
    # a 0 to an address ending in `::` (`fd00:10::` -> `fd00-10--0`), which still reads back.
    return label + "0" if label.endswith("-") else label


def address_from_dashed(label: str) -> str | None:
    """The IP address of a dashed pod label (`10-244-1-5`, `fd00--5`), or None."""
    if label.count("-") == 3 and "--" not in label:
        text = label.replace("-", ".")
    else:
        text = label.replace("-", ":")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def packed_from_dashed(label: str) -> bytes | None:
    """The address of a dashed pod label as 4 or 16 bytes, or None: `address_from_dashed`, fast.

    It runs per query for never-repeated pod names. The IPv4 form goes through the C parser,
    which is as strict as `ipaddress` (four decimal parts, each 0-255, no leading zeros);
    `tests/dns/test_names.py` checks the two agree.
    """
    if label.count("-") == 3 and "--" not in label:
        try:
            return socket.inet_pton(socket.AF_INET, label.replace("-", "."))
        except OSError:
            return None
    address = address_from_dashed(label)
    return None if address is None else ipaddress.ip_address(address).packed
