"""`whoami`: the client's address and port, in the additional section, as CoreDNS writes them."""

import pytest

from clusterdns.corefile.lexer import CorefileError
from clusterdns.plugin import Request, Response
from clusterdns.plugins.whoami.handler import WhoamiHandler
from clusterdns.plugins.whoami.setup import setup
from tests.fakes.plugins import FakeClock, build_request, context, stanza


async def never(request: Request) -> Response:
    raise AssertionError("whoami answers everything itself")


@pytest.mark.parametrize(
    ("name", "protocol", "client", "expected"),
    [
        pytest.param(
            "example.org.",
            "udp",
            ("10.240.0.1", 40212),
            ["example.org. 0 IN A 10.240.0.1", "_udp.example.org. 0 IN SRV 0 0 40212 ."],
            id="v4-udp",
        ),
        pytest.param(
            "example.org.",
            "tcp",
            ("2001:db8::7", 5300),
            ["example.org. 0 IN AAAA 2001:db8::7", "_tcp.example.org. 0 IN SRV 0 0 5300 ."],
            id="v6-tcp",
        ),
        pytest.param(
            ".",
            "udp",
            ("::ffff:10.0.0.9", 53),
            [". 0 IN A 10.0.0.9", "_udp. 0 IN SRV 0 0 53 ."],
            id="root-and-mapped-v4",
        ),
    ],
)
async def test_whoami(
    name: str, protocol: str, client: tuple[str, int], expected: list[str]
) -> None:
    request = build_request(name, "A", protocol=protocol, client=client)
    response = await WhoamiHandler().serve(request, never)
    assert response.answer is not None and response.answer.authoritative
    assert response.answer.answer == () and not response.cacheable
    assert [record.zone_line() for record in response.answer.additional] == expected


def test_setup_takes_nothing() -> None:
    assert isinstance(setup(stanza("whoami"), context(FakeClock())), WhoamiHandler)
    with pytest.raises(CorefileError, match="^Corefile:2: whoami: expected no arguments"):
        setup(stanza("whoami me"), context(FakeClock()))
