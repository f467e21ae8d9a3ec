"""FakeUpstream: a real UDP+TCP resolver on 127.0.0.1, scripted per name, in its own threads."""

import socket
import socketserver
import struct
import threading
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


@dataclass
class Script:
    """How the fake answers one name.

    `behaviour` is answer, servfail, nxdomain, silent, wrong-id, wrong-name or truncate.
    """

    behaviour: str = "answer"
    addresses: tuple[str, ...] = ("192.0.2.1",)


@dataclass
class Seen:
    """One query the fake received."""

    protocol: str
    name: str
    qtype: str


@dataclass
class _State:
    scripts: dict[str, Script] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)


def _reply(state: _State, wire: bytes, protocol: str) -> bytes | None:
    try:
        query = dns.message.from_wire(wire)
        question = query.question[0]
    except (dns.exception.DNSException, IndexError):
        return None  # a fuzzed query we forwarded: a real resolver would drop it too
    name = question.name.to_text().lower()
    with state.changed:
        state.seen.append(Seen(protocol, name, dns.rdatatype.to_text(question.rdtype)))
        state.changed.notify_all()
    script = state.scripts.get(name, Script())
    if script.behaviour == "silent":
        return None
    response = dns.message.make_response(query)
    response.flags |= dns.flags.RA
    if script.behaviour in ("servfail", "nxdomain"):
        rcode = dns.rcode.SERVFAIL if script.behaviour == "servfail" else dns.rcode.NXDOMAIN
        response.set_rcode(rcode)
        return response.to_wire()
    if script.behaviour == "wrong-id":
        response.id = (query.id + 1) % 65536
    if script.behaviour == "wrong-name":
        response.question[0] = dns.rrset.RRset(
            dns.name.from_text("evil.example."), dns.rdataclass.IN, dns.rdatatype.A
        )
    addresses = script.addresses
    if script.behaviour == "truncate":
        if protocol == "udp":
            response.flags |= dns.flags.TC
            return response.to_wire()
        addresses = tuple(f"192.0.2.{i}" for i in range(1, 101))
    if question.rdtype == dns.rdatatype.A:
        response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", *addresses))
    return response.to_wire()


def _bind_pair(
    udp: type[socketserver.BaseRequestHandler], tcp: type[socketserver.BaseRequestHandler]
) -> tuple[socketserver.ThreadingUDPServer, socketserver.ThreadingTCPServer]:
    """A UDP and a TCP server on one free port (the UDP pick may be taken for TCP: retry)."""
    for _ in range(50):
        udp_server = socketserver.ThreadingUDPServer(("127.0.0.1", 0), udp)
        try:
            port = udp_server.server_address[1]
            return udp_server, socketserver.ThreadingTCPServer(("127.0.0.1", port), tcp)
        except OSError:
            udp_server.server_close()
    raise OSError("no free port for both UDP and TCP")


class FakeUpstream:
    """Answers every name with 192.0.2.1 unless scripted otherwise; records what it was asked."""

    def __init__(self) -> None:
        self.state = _State()
        state = self.state

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                reply = _reply(state, data, "udp")
                if reply is not None:
                    sock.sendto(reply, self.client_address)

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                conn.settimeout(5)
                header = conn.recv(2, socket.MSG_WAITALL)
                if len(header) < 2:
                    return
                (length,) = struct.unpack("!H", header)
                reply = _reply(state, conn.recv(length, socket.MSG_WAITALL), "tcp")
                if reply is not None:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)

        self._udp, self._tcp = _bind_pair(Udp, Tcp)
        self.port = self._udp.server_address[1]
        self._udp.daemon_threads = self._tcp.daemon_threads = True
        self._threads = [
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            for server in (self._udp, self._tcp)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def address(self) -> str:
        """`127.0.0.1:PORT`, as --upstream takes it."""
        return f"127.0.0.1:{self.port}"

    def script(
        self, name: str, behaviour: str, addresses: tuple[str, ...] = ("192.0.2.1",)
    ) -> None:
        """Answer `name` (absolute, lowercase) as `behaviour` says."""
        self.state.scripts[name] = Script(behaviour, addresses)

    def seen(self) -> list[Seen]:
        """Every query received so far."""
        with self.state.changed:
            return list(self.state.seen)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Seen]:
        """Block until `count` queries have arrived (or `timeout`)."""
        with self.state.changed:
            self.state.changed.wait_for(lambda: len(self.state.seen) >= count, timeout)
            return list(self.state.seen)

    def close(self) -> None:
        """Stop both servers and their threads."""
        for server in (self._udp, self._tcp):
            server.shutdown()
            server.server_close()
