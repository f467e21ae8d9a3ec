"""`minimal`: positive answers lose authority and additional; denials and delegations do not."""

import pytest

from clusterdns.dns.records import Address, Answer, Rcode, Record, RType, Soa, Target
from clusterdns.plugin import Request, Response
from clusterdns.plugins.minimal.handler import MinimalHandler
from tests.fakes.plugins import build_request

A = Record("web.example.org.", RType.A, 30, Address("10.0.0.1"))
NS = Record("example.org.", RType.NS, 30, Target("ns.example.org."))
GLUE = Record("ns.example.org.", RType.A, 30, Address("10.0.0.53"))
SOA = Record("example.org.", RType.SOA, 30, Soa("ns.example.org.", "h.example.org.", 1, 2, 3, 4, 5))


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(
            Answer(Rcode.NOERROR, (A,), (NS,), (GLUE,)), Answer(Rcode.NOERROR, (A,)), id="trimmed"
        ),
        pytest.param(
            Answer(Rcode.NXDOMAIN, (), (SOA,)), Answer(Rcode.NXDOMAIN, (), (SOA,)), id="nxdomain"
        ),
        pytest.param(
            Answer(Rcode.NOERROR, (), (SOA,)), Answer(Rcode.NOERROR, (), (SOA,)), id="nodata"
        ),
        pytest.param(
            Answer(Rcode.NOERROR, (), (NS,), (GLUE,)),
            Answer(Rcode.NOERROR, (), (NS,), (GLUE,)),
            id="delegation",
        ),
        pytest.param(Answer(Rcode.SERVFAIL), Answer(Rcode.SERVFAIL), id="error"),
    ],
)
async def test_minimal(answer: Answer, expected: Answer) -> None:
    async def next(request: Request) -> Response:
        return Response("file", answer=answer, rotations=(answer,))

    response = await MinimalHandler().serve(build_request("web.example.org."), next)
    assert response.answer == expected
    assert response.rotations == (expected,)


async def test_raw_replies_pass_unchanged() -> None:
    async def next(request: Request) -> Response:
        return Response("forward", wire=b"\x00" * 12)

    response = await MinimalHandler().serve(build_request(), next)
    assert response.wire == b"\x00" * 12
