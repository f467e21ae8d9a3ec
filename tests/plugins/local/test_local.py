"""`local`: the answers of CoreDNS's local plugin for localhost and the loopback zones."""

import pytest

from clusterdns.corefile.lexer import CorefileError
from clusterdns.dns.records import Answer
from clusterdns.plugin import Request, Response
from clusterdns.plugins.local.answer import answer
from clusterdns.plugins.local.options import LocalConfig, parse
from clusterdns.plugins.local.setup import setup
from tests.fakes.plugins import FakeClock, build_request, context, stanza

SOA = "604800 IN SOA localhost. root.localhost. 1 0 0 0 604800"


def shown(found: object) -> tuple[str, list[str], list[str]] | None:
    if found is None:
        return None
    assert isinstance(found, Answer)
    return (
        found.rcode.name,
        [r.zone_line() for r in found.answer],
        [r.zone_line() for r in found.authority],
    )


@pytest.mark.parametrize(
    ("name", "qtype", "prefix", "expected"),
    [
        pytest.param(
            "localhost.", 1, True, ("NOERROR", ["localhost. 604800 IN A 127.0.0.1"], []), id="a"
        ),
        pytest.param(
            "localhost.", 28, True, ("NOERROR", ["localhost. 604800 IN AAAA ::1"], []), id="aaaa"
        ),
        pytest.param(
            "localhost.", 15, True, ("NOERROR", [], [f"localhost. {SOA}"]), id="mx-nodata"
        ),
        pytest.param(
            "localhost.", 2, True, ("NOERROR", ["localhost. 604800 IN NS localhost."], []), id="ns"
        ),
        pytest.param(
            "127.in-addr.arpa.", 6, True, ("NOERROR", [f"127.in-addr.arpa. {SOA}"], []), id="soa"
        ),
        pytest.param(
            "1.0.0.127.in-addr.arpa.",
            12,
            True,
            ("NOERROR", ["1.0.0.127.in-addr.arpa. 604800 IN PTR localhost."], []),
            id="ptr",
        ),
        pytest.param(
            "2.0.0.127.in-addr.arpa.",
            12,
            True,
            ("NXDOMAIN", [], [f"127.in-addr.arpa. {SOA}"]),
            id="other-loopback-nxdomain",
        ),
        pytest.param(
            "app.localhost.",
            1,
            True,
            ("NOERROR", ["app.localhost. 604800 IN A 127.0.0.1"], []),
            id="rfc6761-subdomain",
        ),
        pytest.param(
            "localhost.example.org.",
            1,
            True,
            ("NOERROR", ["localhost.example.org. 604800 IN A 127.0.0.1"], []),
            id="legacy-prefix",
        ),
        pytest.param("localhost.example.org.", 1, False, None, id="legacy-prefix-off"),
        pytest.param("example.org.", 1, True, None, id="not-local"),
    ],
)
def test_answers(
    name: str, qtype: int, prefix: bool, expected: tuple[str, list[str], list[str]] | None
) -> None:
    assert shown(answer(name, qtype, prefix)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("local", LocalConfig(True), id="bare"),
        pytest.param("local {\n  localhost_prefix off\n}", LocalConfig(False), id="off"),
        pytest.param("local {\n  localhost_prefix on\n}", LocalConfig(True), id="on"),
    ],
)
def test_parse(text: str, expected: LocalConfig) -> None:
    assert parse(stanza(text)) == expected


def test_parse_error_names_the_token() -> None:
    with pytest.raises(CorefileError) as caught:
        parse(stanza("local {\n  localhost_prefix maybe\n}"))
    assert str(caught.value) == (
        "Corefile:3: local: localhost_prefix: value must be one of on, off, got 'maybe'"
    )


async def test_handler_counts_localhost_forms_and_passes_others_on() -> None:
    ctx = context(FakeClock())
    handler = setup(stanza("local"), ctx)

    async def next(request: Request) -> Response:
        return Response("next")

    assert (await handler.serve(build_request("example.org."), next)).plugin == "next"
    local = await handler.serve(build_request("db.localhost."), next)
    assert local.plugin == "local" and not local.cacheable
    assert ctx.registry.get_sample_value("coredns_local_localhost_requests_total") == 1
