"""`bufsize`: the stanza, and the request's OPT lowered in value and in bytes."""

import dns.message
import pytest

from clusterdns.corefile.lexer import CorefileError
from clusterdns.plugin import Request, Response
from clusterdns.plugins.bufsize.handler import BufsizeHandler, lower_payload
from clusterdns.plugins.bufsize.options import BufsizeConfig, parse
from tests.fakes.plugins import build_request, stanza


@pytest.mark.parametrize(
    ("text", "size"),
    [
        pytest.param("bufsize", 1232, id="default"),
        pytest.param("bufsize 1100", 1100, id="doc-forward-example"),
        pytest.param("bufsize 1220", 1220, id="doc-authoritative-example"),
        pytest.param("bufsize 512", 512, id="least"),
        pytest.param("bufsize 4096", 4096, id="most"),
    ],
)
def test_parse(text: str, size: int) -> None:
    assert parse(stanza(text)) == BufsizeConfig(size)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "bufsize 511", "Corefile:2: bufsize: SIZE must be 512..4096, got 511", id="low"
        ),
        pytest.param(
            "bufsize 4097", "Corefile:2: bufsize: SIZE must be 512..4096, got 4097", id="high"
        ),
        pytest.param(
            "bufsize big",
            "Corefile:2: bufsize: SIZE must be an integer 512..4096, got 'big'",
            id="word",
        ),
        pytest.param(
            "bufsize 1232 1232",
            "Corefile:2: bufsize: expected at most 1 argument, got 2: 1232 1232",
            id="two",
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse(stanza(text))
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("payload", "do", "sent"),
    [
        pytest.param(4096, False, 1232, id="lowered"),
        pytest.param(1232, False, 1232, id="equal-untouched"),
        pytest.param(800, False, 800, id="smaller-untouched"),
        pytest.param(4096, True, 1232, id="do-bit"),
        pytest.param(None, False, None, id="no-edns-untouched"),
    ],
)
async def test_next_plugin_sees_the_lowered_size_in_value_and_bytes(
    payload: int | None, do: bool, sent: int | None
) -> None:
    seen: list[Request] = []

    async def next(request: Request) -> Response:
        seen.append(request)
        return Response("next")

    if payload is None:
        request = build_request("example.org.", "A")
    else:
        request = build_request("example.org.", "A", use_edns=0, payload=payload, want_dnssec=do)
    response = await BufsizeHandler(1232).serve(request, next)
    (passed,) = seen
    if sent is None:
        assert passed is request and response.udp_size is None
        return
    assert passed.query.edns is not None and passed.query.edns.payload == sent
    assert dns.message.from_wire(passed.query.wire).payload == sent  # what forward sends on
    lowered = request.query.edns is not None and request.query.edns.payload > 1232
    assert response.udp_size == (1232 if lowered else None)


def test_lower_payload_keeps_everything_else() -> None:
    request = build_request("Example.ORG.", "MX", use_edns=0, payload=4096, want_dnssec=True)
    lowered = lower_payload(request.query, 1232)
    parsed = dns.message.from_wire(lowered.wire)
    assert (
        parsed.payload == 1232 and parsed.flags == dns.message.from_wire(request.query.wire).flags
    )
    assert lowered.wire[:-11] == request.query.wire[:-11]  # only the OPT record changed
    assert lowered.name == request.query.name and lowered.edns is not None and lowered.edns.do
