"""The `whoami` handler: the client's address as A/AAAA and its port as SRV, in additional."""

import ipaddress

from clusterdns.dns.records import Address, Answer, Rcode, Record, RType, Srv
from clusterdns.plugin import Next, Request, Response


class WhoamiHandler:
    """Answers every query it gets, as CoreDNS's whoami does (it is the end of a chain)."""

    name = "whoami"

    async def serve(self, request: Request, next: Next) -> Response:
        """The reply: empty answer; A or AAAA of the client and `_PROTO.QNAME` SRV with its port."""
        return Response(self.name, answer=whoami_answer(request))


def whoami_answer(request: Request) -> Answer:
    """What whoami says to `request` (TTL 0: it differs for every client)."""
    name = request.query.name
    host, port = request.client[0], request.client[1]
    address = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    rtype = RType.A if address.version == 4 else RType.AAAA
    srv_owner = f"_{request.protocol}.{name}" if name != "." else f"_{request.protocol}."
    extra = (
        Record(name, rtype, 0, Address(str(address))),
        Record(srv_owner, RType.SRV, 0, Srv(0, 0, port, ".")),
    )
    return Answer(Rcode.NOERROR, additional=extra, authoritative=True)
