"""The `rewrite` handler: questions rewritten, replies (structured and bytes) reverted."""

from collections.abc import Callable
from dataclasses import dataclass, field

import dns.message
import dns.rcode
import dns.rrset
import pytest

from clusterdns.dns.records import Address, Answer, Rcode, Record, RType, Srv, Target
from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.rewrite.handler import RewriteHandler
from clusterdns.plugins.rewrite.rules import parse_rules
from tests.plugins.rewrite.conftest import build_request, stanza


@dataclass
class Recorder:
    """A `next` that records what it was asked and answers from a function of the request."""

    reply: Callable[[Request], Response]
    asked: list[Request] = field(default_factory=list)

    async def __call__(self, request: Request) -> Response:
        self.asked.append(request)
        return self.reply(request)


Reply = Callable[[Request], Response]


def rrset(text: str) -> dns.rrset.RRset:
    """An RRset from `NAME TTL CLASS TYPE DATA`."""
    name, ttl, rclass, rtype, data = text.split(" ", 4)
    return dns.rrset.from_text(name, int(ttl), rclass, rtype, data)


def handler(*lines: str, lookup: Next | None = None) -> RewriteHandler:
    return RewriteHandler(parse_rules(tuple(stanza(line) for line in lines)), lookup)


def structured(records: list[Record], rcode: Rcode = Rcode.NOERROR) -> Reply:
    def reply(request: Request) -> Response:
        return Response(
            "kubernetes",
            answer=Answer(rcode, tuple(records), authoritative=True),
            cacheable=True,
            scope="s",
        )

    return reply


def upstream(*rrs: str, rcode: int = 0, edns: bool = False) -> Reply:
    """Reply bytes, as forward passes them on, answering the (rewritten) request."""

    def reply(request: Request) -> Response:
        query = dns.message.from_wire(request.query.wire)
        response = dns.message.make_response(query)
        response.set_rcode(dns.rcode.Rcode(rcode))
        for text in rrs:
            response.answer.append(rrset(text))
        if not edns:
            response.use_edns(False)
        return Response("forward", wire=response.to_wire())

    return reply


def lines(wire: bytes) -> tuple[str, list[str]]:
    message = dns.message.from_wire(wire)
    return message.question[0].to_text(), [rr.to_text() for rr in message.answer]


async def test_exact_rule_structured_answer_maps_names_back_and_stays_cacheable() -> None:
    rewrite = handler("rewrite name exact web.example.org web.demo.svc.cluster.local")
    target = "web.demo.svc.cluster.local."
    next = Recorder(
        structured(
            [
                Record(target, RType.A, 30, Address("10.96.0.20")),
                Record("_http._tcp." + target, RType.SRV, 30, Srv(0, 100, 80, target)),
            ]
        )
    )
    response = await rewrite.serve(build_request("Web.Example.org."), next)
    assert next.asked[0].query.name == target
    assert response.cacheable and response.scope == "s"
    assert response.answer is not None
    assert [r.zone_line() for r in response.answer.answer] == [
        "web.example.org. 30 IN A 10.96.0.20",
        "_http._tcp.web.example.org. 30 IN SRV 0 100 80 web.example.org.",
    ]


async def test_wire_reply_gets_the_clients_question_and_names_back() -> None:
    rewrite = handler("rewrite name suffix .corp.example .upstream.test answer auto")
    next = Recorder(
        upstream(
            "www.upstream.test. 60 IN CNAME edge.upstream.test.",
            "edge.upstream.test. 60 IN A 192.0.2.1",
        )
    )
    request = build_request("WWW.corp.example.", ident=4242)
    response = await rewrite.serve(request, next)
    assert response.wire is not None and response.wire[:2] == (4242).to_bytes(2, "big")
    assert lines(response.wire) == (
        "WWW.corp.example. IN A",
        [
            "WWW.corp.example. 60 IN CNAME edge.corp.example.",
            "edge.corp.example. 60 IN A 192.0.2.1",
        ],
    )


@pytest.mark.parametrize(
    ("rules", "first_asked", "owner"),
    [
        pytest.param(
            ("rewrite name a.example. b.example.", "rewrite name b.example. c.example."),
            "b.example.",
            "a.example.",
            id="stop-is-the-default",
        ),
        pytest.param(
            ("rewrite continue name a.example. b.example.", "rewrite name b.example. c.example."),
            "c.example.",
            "a.example.",
            id="continue-chains-and-reverts-in-reverse",
        ),
    ],
)
async def test_stop_and_continue(rules: tuple[str, ...], first_asked: str, owner: str) -> None:
    rewrite = handler(*rules)
    next = Recorder(lambda r: upstream(f"{r.query.name} 60 IN A 192.0.2.1")(r))
    response = await rewrite.serve(build_request("a.example."), next)
    assert next.asked[0].query.name == first_asked
    assert response.wire is not None
    assert lines(response.wire)[1] == [f"{owner} 60 IN A 192.0.2.1"]


async def test_ttl_and_rcode_rules_on_both_kinds_of_reply() -> None:
    rewrite = handler(
        "rewrite continue ttl suffix .example. 10-20",
        "rewrite rcode suffix .example. NXDOMAIN NOERROR",
    )
    wire = await rewrite.serve(
        build_request("a.example."),
        Recorder(upstream("a.example. 300 IN A 192.0.2.1", rcode=dns.rcode.NXDOMAIN)),
    )
    assert wire.wire is not None
    message = dns.message.from_wire(wire.wire)
    assert message.rcode() == dns.rcode.NOERROR
    assert [rr.to_text() for rr in message.answer] == ["a.example. 20 IN A 192.0.2.1"]
    answer = await rewrite.serve(
        build_request("a.example."),
        Recorder(
            structured([Record("a.example.", RType.A, 5, Address("10.0.0.1"))], Rcode.NXDOMAIN)
        ),
    )
    assert answer.answer is not None and answer.answer.rcode == Rcode.NOERROR
    assert [r.ttl for r in answer.answer.answer] == [10]


async def test_type_rule_asks_the_new_type_and_restores_the_question() -> None:
    rewrite = handler("rewrite type ANY HINFO")
    next = Recorder(upstream())
    response = await rewrite.serve(build_request("a.example.", "ANY"), next)
    assert next.asked[0].query.qtype == 13
    assert response.wire is not None and lines(response.wire)[0] == "a.example. IN ANY"


async def test_cname_rule_replaces_what_follows_by_a_lookup() -> None:
    async def lookup(request: Request) -> Response:
        assert request.query.name == "my-app.com.other.cdn.com."
        return upstream("my-app.com.other.cdn.com. 100 IN A 30.3.1.2")(request)

    rewrite = handler(
        r"rewrite cname regex (.*).cdn.example.net. {1}.other.cdn.com.", lookup=lookup
    )
    next = Recorder(
        upstream(
            "my-app.com. 200 IN CNAME my-app.example.",
            "my-app.example. 200 IN CNAME my-app.com.cdn.example.net.",
            "my-app.com.cdn.example.net. 300 IN A 20.2.0.1",
        )
    )
    response = await rewrite.serve(build_request("my-app.com."), next)
    assert response.wire is not None
    assert lines(response.wire)[1] == [
        "my-app.com. 200 IN CNAME my-app.example.",
        "my-app.example. 200 IN CNAME my-app.com.other.cdn.com.",
        "my-app.com.other.cdn.com. 100 IN A 30.3.1.2",
    ]


async def test_a_name_too_long_after_the_rewrite_is_servfail() -> None:
    rewrite = handler("rewrite name regex (.*) {1}{1}{1}{1}{1}")
    next = Recorder(upstream())
    response = await rewrite.serve(build_request("a" * 60 + ".example."), next)
    assert response.answer is not None and response.answer.rcode == Rcode.SERVFAIL
    assert next.asked == []


async def test_a_garbled_reply_is_servfail_not_a_crash() -> None:
    rewrite = handler("rewrite name a.example. b.example.")
    next = Recorder(lambda r: Response("forward", wire=b"\x00\x01\x81\x80\x00\x01\x00\x05"))
    response = await rewrite.serve(build_request("a.example."), next)
    assert response.answer is not None and response.answer.rcode == Rcode.SERVFAIL


async def test_unmatched_questions_pass_untouched() -> None:
    rewrite = handler("rewrite name a.example. b.example.")
    request = build_request("z.example.")
    reply = Response("kubernetes", answer=Answer(Rcode.NXDOMAIN), cacheable=True)
    next = Recorder(lambda r: reply)
    assert await rewrite.serve(request, next) is reply
    assert next.asked == [request]


async def test_value_rule_rewrites_ptr_targets() -> None:
    rewrite = handler(
        "rewrite stop {\n name suffix .arpa .arpa\n answer auto\n"
        r" answer value (.*)\.service\.consul\. {1}.coredns.rocks."
        "\n}"
    )
    next = Recorder(
        structured(
            [
                Record(
                    "30.30.30.10.in-addr.arpa.",
                    RType.PTR,
                    60,
                    Target("ftp-us-west-1.service.consul."),
                ),
            ]
        )
    )
    response = await rewrite.serve(build_request("30.30.30.10.in-addr.arpa.", "PTR"), next)
    assert response.answer is not None
    assert [r.zone_line() for r in response.answer.answer] == [
        "30.30.30.10.in-addr.arpa. 60 IN PTR ftp-us-west-1.coredns.rocks."
    ]


async def test_a_cname_rule_matching_its_own_lookup_does_not_recurse() -> None:
    # The lookup goes through the server from the top, so through this handler again; the
    # upstream answers every name with a CNAME the rule matches.
    def looping(request: Request) -> Response:
        return upstream(f"{request.query.name} 60 IN CNAME next.loop.test.")(request)

    async def lookup(request: Request) -> Response:
        return await rewrite.serve(request, Recorder(looping))

    rewrite = handler("rewrite cname suffix .loop.test. .loop.test.", lookup=lookup)
    response = await rewrite.serve(build_request("a.loop.test."), Recorder(looping))
    assert response.wire is not None
    assert lines(response.wire)[1] == [
        "a.loop.test. 60 IN CNAME next.loop.test.",
        "next.loop.test. 60 IN CNAME next.loop.test.",
    ]
