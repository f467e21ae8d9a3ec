"""The `bufsize` handler: a query advertising more than SIZE goes on advertising SIZE."""

import struct
from dataclasses import replace

from clusterdns.dns.message import Query
from clusterdns.dns.records import RType
from clusterdns.plugin import Next, Request, Response


class BufsizeHandler:
    """Lowers the EDNS payload of the request (what forward sends on) and of the reply."""

    name = "bufsize"

    def __init__(self, size: int) -> None:
        self.size = size

    async def serve(self, request: Request, next: Next) -> Response:
        """Pass on a lowered request; tell the server the reply's size limit and OPT size."""
        edns = request.query.edns
        if edns is None or edns.payload <= self.size:
            return await next(request)  # CoreDNS never raises a client's size
        lowered = Request(lower_payload(request.query, self.size), request.protocol, request.client)
        response = await next(lowered)
        return replace(response, udp_size=self.size)


def lower_payload(query: Query, size: int) -> Query:
    """`query` advertising `size` in its OPT record, in the decoded value and in its bytes."""
    if query.edns is None:
        return query
    wire = bytearray(query.wire)
    offset = _opt_class_offset(query.wire, query.question_end)
    if offset is not None:
        struct.pack_into("!H", wire, offset, size)  # RFC 6891 6.1.2: CLASS is the payload
    return replace(query, edns=replace(query.edns, payload=size), wire=bytes(wire))


def _opt_class_offset(wire: bytes, offset: int) -> int | None:
    """Where the OPT record's CLASS field is, in a query decode_query already accepted."""
    (count,) = struct.unpack_from("!H", wire, 10)
    for _ in range(count):
        while True:  # the owner name: labels, then a root byte or a pointer
            length = wire[offset]
            if length == 0:
                offset += 1
                break
            if length & 0xC0 == 0xC0:
                offset += 2
                break
            offset += 1 + length
        rtype, _, _, rdlength = struct.unpack_from("!HHIH", wire, offset)
        if rtype == RType.OPT:
            return offset + 2
        offset += 10 + rdlength
    return None
