"""The `any` handler: RFC 8482 4.2 answer to qtype ANY, a synthesized HINFO record."""

import struct

from clusterdns.dns.message import HEADER, UDP_MAX_PAYLOAD, UDP_MIN_PAYLOAD
from clusterdns.dns.records import RType
from clusterdns.plugin import Next, Request, Response

HINFO = 13
TTL = 8482  # CoreDNS's choice, after the RFC's number
CPU, OS = b"ANY obsoleted", b"See RFC 8482"
_RDATA = bytes((len(CPU),)) + CPU + bytes((len(OS),)) + OS
# Owner: a pointer to the question name at offset 12 (RFC 1035 4.1.4).
_RECORD = struct.pack("!HHHIH", 0xC00C, HINFO, 1, TTL, len(_RDATA)) + _RDATA


class AnyHandler:
    """Answers every ANY query itself; other types pass on."""

    name = "any"

    async def serve(self, request: Request, next: Next) -> Response:
        """The HINFO reply for ANY, else whatever the next plugin says."""
        if request.query.qtype != RType.ANY:
            return await next(request)
        return Response(self.name, wire=hinfo_reply(request), cacheable=False)


def hinfo_reply(request: Request) -> bytes:
    """The reply bytes: the client's question, one HINFO, and an OPT if it sent one."""
    query = request.query
    flags = 0x8000 | (query.flags & 0x0110)  # QR; RD and CD copied (RFC 1035 4.1.1)
    edns = query.edns
    opt = b""
    if edns is not None:
        payload = min(UDP_MAX_PAYLOAD, max(UDP_MIN_PAYLOAD, edns.payload))
        opt = b"\x00" + struct.pack("!HHIH", RType.OPT, payload, 0x8000 if edns.do else 0, 0)
    header = HEADER.pack(query.id, flags, 1, 1, 0, 1 if opt else 0)
    return header + query.wire[HEADER.size : query.question_end] + _RECORD + opt
