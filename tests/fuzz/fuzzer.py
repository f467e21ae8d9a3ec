"""A bounded DNS fuzzer: abusive packets by kind, sent over UDP or TCP, replies checked.

Used by the CI fuzz tests at a small size and by `python -m bench.fuzz` at a million packets.
Every packet's id says what it is: the top bit is set exactly when the packet has QR=1 (a
response, which a server must never answer), the next four bits give its kind. So a reply
alone tells which kind of packet it answers, and whether it should exist at all.
"""

import random
import select
import socket
import struct
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import dns.edns
import dns.message
import dns.rcode

NAMES = (
    "web.demo.svc.cluster.local.",
    "api.demo.svc.cluster.local.",
    "kube-dns.kube-system.svc.cluster.local.",
    "_https._tcp.kubernetes.default.svc.cluster.local.",
    "10.0.96.10.in-addr.arpa.",
    "nothing.demo.svc.cluster.local.",
    "demo.svc.cluster.local.",
    "dns-version.cluster.local.",
    "example.com.",
    "a.b.c.example.org.",
    ".",
)
TYPES = ("A", "AAAA", "SRV", "PTR", "TXT", "SOA", "NS", "ANY", "CNAME", "MX", "AXFR", "TYPE65")
UDP_MAX_REPLY = 4096  # the most any UDP reply may carry, whatever the query asks


def seed_queries(rng: random.Random, count: int = 200) -> list[bytes]:
    """Well-formed queries to mutate: our zones and others, many types, with and without EDNS."""
    seeds = []
    for _ in range(count):
        query = dns.message.make_query(
            rng.choice(NAMES),
            rng.choice(TYPES),
            use_edns=rng.choice([None, 0]),
            want_dnssec=rng.random() < 0.3,
            payload=rng.choice([512, 1232, 4096, 65535]),
        )
        if rng.random() < 0.3 and query.edns >= 0:
            cookie = dns.edns.GenericOption(dns.edns.OptionType.COOKIE, rng.randbytes(8))
            query.use_edns(0, options=[cookie])
        seeds.append(query.to_wire())
    return seeds


def _random(rng: random.Random, seed: bytes) -> bytes:
    return rng.randbytes(rng.choice([0, 1, 2, 11, 12, 13, rng.randrange(600)]))


def _bitflip(rng: random.Random, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 8)):
        bit = rng.randrange(len(data) * 8)
        data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)


def _truncated(rng: random.Random, seed: bytes) -> bytes:
    return seed[: rng.randrange(len(seed))]


def _compression_loop(rng: random.Random, seed: bytes) -> bytes:
    """A query whose question name never ends: pointers to themselves or to each other."""
    header = struct.pack("!HHHHHH", 0, 0x0100, 1, 0, 0, 0)
    shape = rng.randrange(4)
    if shape == 0:  # a pointer to itself
        name = b"\xc0\x0c"
    elif shape == 1:  # a label, then a pointer back to it
        name = b"\x03abc\xc0\x0c"
    elif shape == 2:  # two labels pointing at each other
        name = b"\x01a\xc0\x10\x01b\xc0\x0c"
    else:  # a pointer forward into itself, past the end
        name = b"\x01a\xc0\x0e"
    return header + name + b"\x00\x01\x00\x01"


def _odd_counts(rng: random.Random, seed: bytes) -> bytes:
    counts = [rng.choice([0, 1, 2, 3, 255, 65535]) for _ in range(4)]
    return seed[:4] + struct.pack("!HHHH", *counts) + seed[12:]


def _opt_variant(rng: random.Random, seed: bytes) -> bytes:
    """A plain query with a strange OPT record (or two) in the additional section."""
    question = seed[12 : _question_end(seed)]
    opts = []
    for _ in range(rng.choice([1, 1, 1, 2])):
        owner = rng.choice([b"\x00", b"\x00", b"\x03foo\x00"])  # OPT must be owned by the root
        size = rng.choice([0, 1, 511, 512, 4096, 65535])
        ttl = (rng.choice([0, 0, 1, 255]) << 24) | (rng.choice([0, 1, 255]) << 16)
        ttl |= rng.choice([0, 0x8000, 0xFFFF])  # extended rcode, version, DO and Z bits
        options = b""
        for _ in range(rng.randrange(4)):
            code = rng.choice([3, 8, 10, 12, 15, rng.randrange(65536)])  # NSID ECS COOKIE ...
            body = rng.randbytes(rng.choice([0, 1, 7, 8, 16, 40, 41]))
            length = rng.choice([len(body), len(body), len(body) + 5, 65535])
            options += struct.pack("!HH", code, length) + body
        rdlength = rng.choice([len(options), len(options), len(options) + 3, 0])
        opts.append(owner + struct.pack("!HHIH", 41, size, ttl, rdlength) + options)
    header = struct.pack("!HHHHHH", 0, 0x0100, 1, 0, 0, len(opts))
    return header + question + b"".join(opts)


def _qr_set(rng: random.Random, seed: bytes) -> bytes:
    return seed[:2] + bytes([seed[2] | 0x80]) + seed[3:]


def _odd_header(rng: random.Random, seed: bytes) -> bytes:
    """Opcodes, classes and flags a cluster DNS server rarely sees."""
    opcode = rng.choice([1, 2, 4, 5, 6, 15])  # IQUERY STATUS NOTIFY UPDATE unassigned
    flags = (opcode << 11) | rng.choice([0, 0x0400, 0x0200, 0x0040, 0x0020, 0x0010, 0x000F])
    data = seed[:2] + struct.pack("!H", flags & 0x7FFF) + seed[4:]
    end = _question_end(data)
    if end > 16 and rng.random() < 0.5:
        qclass = rng.choice([0, 3, 4, 254, 255])
        data = data[: end - 2] + struct.pack("!H", qclass) + data[end:]
    return data


Mutation = Callable[[random.Random, bytes], bytes]
KINDS: dict[str, Mutation] = {
    "random": _random,
    "bitflip": _bitflip,
    "truncated": _truncated,
    "compression-loop": _compression_loop,
    "odd-counts": _odd_counts,
    "opt-variant": _opt_variant,
    "qr-set": _qr_set,
    "odd-header": _odd_header,
    "valid": lambda rng, seed: seed,
}
_KIND_NAMES = list(KINDS)


def _question_end(wire: bytes) -> int:
    """Where the first question of a well-formed query ends."""
    offset = 12
    while wire[offset]:
        offset += 1 + wire[offset]
    return offset + 5


def stamp(packet: bytes, kind: str, serial: int) -> bytes:
    """`packet` with an id that records its kind and whether it has QR=1."""
    if len(packet) < 3:
        return packet
    qr = packet[2] & 0x80
    ident = (0x8000 if qr else 0) | (_KIND_NAMES.index(kind) << 11) | (serial & 0x7FF)
    return struct.pack("!H", ident) + packet[2:]


def packets(rng: random.Random, count: int) -> Iterator[tuple[str, bytes]]:
    """`count` abusive packets, kinds in turn, each stamped (see `stamp`)."""
    seeds = seed_queries(rng)
    for serial in range(count):
        kind = _KIND_NAMES[serial % len(_KIND_NAMES)]
        yield kind, stamp(KINDS[kind](rng, rng.choice(seeds)), kind, serial)


@dataclass
class FuzzResult:
    """What came back: counts by kind and rcode, and every broken rule (the first 20 kept)."""

    sent: Counter[str] = field(default_factory=Counter)
    replies: Counter[str] = field(default_factory=Counter)
    rcodes: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    violation_count: int = 0
    seconds: float = 0.0

    def violate(self, text: str) -> None:
        """Record one broken rule."""
        self.violation_count += 1
        if len(self.violations) < 20:
            self.violations.append(text)


def check_reply(result: FuzzResult, reply: bytes, transport: str) -> None:
    """Count one reply and check it against the rules every reply must keep."""
    if len(reply) < 12:
        result.violate(f"{transport}: a {len(reply)}-byte reply has no header")
        return
    ident, flags = struct.unpack_from("!HH", reply)
    kind = _KIND_NAMES[(ident >> 11) & 0xF] if (ident >> 11) & 0xF < len(_KIND_NAMES) else "?"
    rcode = flags & 0xF
    result.replies[kind] += 1
    result.rcodes[f"{kind}/{dns.rcode.to_text(dns.rcode.Rcode(rcode))}"] += 1
    if ident & 0x8000:
        result.violate(f"{transport}: answered a packet with QR=1 ({kind}, id {ident:#06x})")
    if not flags & 0x8000:
        result.violate(f"{transport}: reply {ident:#06x} ({kind}) has QR=0")
    if kind == "compression-loop" and rcode != 1:
        result.violate(f"{transport}: compression loop got rcode {rcode}, not FORMERR")
    if transport == "udp" and len(reply) > UDP_MAX_REPLY:
        result.violate(f"udp: a {len(reply)}-byte reply to {kind} exceeds {UDP_MAX_REPLY}")


def run_udp(
    port: int, stream: Iterator[tuple[str, bytes]], batch: int = 256, quiet: float = 0.005
) -> FuzzResult:
    """Send `stream` to 127.0.0.1:`port` in batches; read replies until `quiet` s of silence."""
    result = FuzzResult()
    started = time.perf_counter()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        pending = True
        while pending:
            pending = False
            for kind, packet in _take(stream, batch):
                pending = True
                result.sent[kind] += 1
                try:
                    sock.send(packet)
                except (BlockingIOError, ConnectionRefusedError):
                    pass  # a full buffer or a stale ICMP error: the packet is lost, not a bug
            _drain_udp(sock, result, quiet)
        _drain_udp(sock, result, 0.5)  # late replies (forwarded names)
    result.seconds = time.perf_counter() - started
    return result


def _take(stream: Iterator[tuple[str, bytes]], count: int) -> list[tuple[str, bytes]]:
    return [item for _, item in zip(range(count), stream, strict=False)]


def _drain_udp(sock: socket.socket, result: FuzzResult, quiet: float) -> None:
    while select.select([sock], [], [], quiet)[0]:
        try:
            check_reply(result, sock.recv(65535), "udp")
        except (BlockingIOError, ConnectionRefusedError):
            continue


def run_tcp(
    port: int, stream: Iterator[tuple[str, bytes]], per_connection: int = 50, wait: float = 5.0
) -> FuzzResult:
    """Send `stream` as 2-byte framed queries, `per_connection` per connection, half-closing
    each connection after its queries and reading replies until the server closes it."""
    result = FuzzResult()
    started = time.perf_counter()
    while chunk := _take(stream, per_connection):
        frames = b""
        for kind, packet in chunk:
            result.sent[kind] += 1
            frames += struct.pack("!H", len(packet)) + packet
        with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
            try:
                sock.sendall(frames)
                sock.shutdown(socket.SHUT_WR)
            except ConnectionError:
                pass  # the server may hang up at a zero-length frame; what it sent still counts
            try:
                data = _read_all(sock)
            except TimeoutError:
                result.violate(f"tcp: connection still open {wait}s after the last query")
                continue
        while len(data) >= 2:
            (length,) = struct.unpack_from("!H", data)
            if len(data) < 2 + length:
                result.violate(f"tcp: a reply frame claims {length} bytes, has {len(data) - 2}")
                break
            check_reply(result, data[2 : 2 + length], "tcp")
            data = data[2 + length :]
    result.seconds = time.perf_counter() - started
    return result


def _read_all(sock: socket.socket) -> bytes:
    parts = []
    while True:
        try:
            part = sock.recv(65536)
        except ConnectionResetError:
            break
        if not part:
            break
        parts.append(part)
    return b"".join(parts)
