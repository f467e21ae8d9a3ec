"""`any`: qtype ANY gets RFC 8482's HINFO; everything else passes on."""

import dns.message
import pytest

from clusterdns.corefile.lexer import CorefileError
from clusterdns.plugin import Request, Response
from clusterdns.plugins.any.handler import AnyHandler
from clusterdns.plugins.any.setup import setup
from tests.fakes.plugins import FakeClock, build_request, context, stanza


async def passed_on(request: Request) -> Response:
    return Response("next")


@pytest.mark.parametrize(
    ("name", "opt"),
    [
        pytest.param("example.org.", False, id="plain"),
        pytest.param("Example.ORG.", True, id="edns-and-case"),
        pytest.param(".", False, id="root"),
    ],
)
async def test_any_gets_one_hinfo(name: str, opt: bool) -> None:
    if opt:
        request = build_request(name, "ANY", use_edns=0, payload=1232)
    else:
        request = build_request(name, "ANY")
    response = await AnyHandler().serve(request, passed_on)
    assert response.plugin == "any" and response.wire is not None
    reply = dns.message.from_wire(response.wire)
    assert reply.id == request.query.id
    assert reply.question[0].name.to_text() == name  # the client's own letters
    assert [rrset.to_text() for rrset in reply.answer] == [
        f'{name} 8482 IN HINFO "ANY obsoleted" "See RFC 8482"'
    ]
    assert (reply.edns >= 0) is opt


@pytest.mark.parametrize("qtype", ["A", "AAAA", "TXT", "MX"])
async def test_other_types_pass_on(qtype: str) -> None:
    response = await AnyHandler().serve(build_request("example.org.", qtype), passed_on)
    assert response.plugin == "next"


def test_setup_takes_nothing() -> None:
    assert isinstance(setup(stanza("any"), context(FakeClock())), AnyHandler)
    with pytest.raises(CorefileError, match="^Corefile:2: any: expected no arguments"):
        setup(stanza("any everything"), context(FakeClock()))
