"""The `template` handler: which template answers, fallthrough, rcodes, metrics, caching."""

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
from prometheus_client import CollectorRegistry

from clusterdns.corefile.parser import parse_corefile
from clusterdns.dns.message import TCP_MAX_MESSAGE, encode_answer
from clusterdns.dns.records import Answer, Rcode
from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.template.handler import SCOPE, TemplateHandler
from clusterdns.plugins.template.metrics import TemplateMetrics
from clusterdns.plugins.template.options import parse_templates
from tests.plugins.rewrite.conftest import build_request

NEXT = Response("next", answer=Answer(Rcode.REFUSED))


async def next_plugin(request: Request) -> Response:
    return NEXT


def handler(
    body: str, registry: CollectorRegistry | None = None, lookup: Next | None = None
) -> TemplateHandler:
    block = parse_corefile(". {\n" + body + "\n}\n").blocks[0]
    metrics = TemplateMetrics(registry or CollectorRegistry())
    return TemplateHandler(parse_templates(block.directives, (".",)), metrics, "dns://:53", lookup)


async def ask(plugin: TemplateHandler, request: Request) -> tuple[Response, dns.message.Message]:
    """Serve `request`; the response and the message the server sends for it."""
    response = await plugin.serve(request, next_plugin)
    if response.answer is not None:
        return response, dns.message.from_wire(
            encode_answer(request.query, response.answer, TCP_MAX_MESSAGE)
        )
    assert response.wire is not None
    return response, dns.message.from_wire(response.wire)


SEARCH = """
template IN ANY example.com.dc1.example.com {
  rcode NXDOMAIN
  authority "{{ .Zone }} 60 IN SOA ns.example.com hostmaster.example.com (1 60 60 60 60)"
}
template IN A example {
  match "^ip-(?P<a>10)-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]dc[.]example[.]$"
  match "^(?P<a>[0-9]*)[.](?P<b>[0-9]*)[.](?P<c>[0-9]*)[.](?P<d>[0-9]*)[.]ext[.]example[.]$"
  answer "{{ .Name }} 60 IN A {{ .Group.a}}.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
  fallthrough
}
template IN A strict.test {
  match "^ok[.]"
  answer "{{ .Name }} 60 IN A 10.0.0.1"
}
"""


async def test_readme_search_domain_block_is_nxdomain_with_soa() -> None:
    _, reply = await ask(
        handler(SEARCH), build_request("something.example.com.dc1.example.com.", "AAAA")
    )
    assert reply.rcode() == dns.rcode.NXDOMAIN and reply.flags & dns.flags.AA
    assert [rr.to_text() for rr in reply.authority] == [
        "example.com.dc1.example.com. 60 IN SOA"
        " ns.example.com. hostmaster.example.com. 1 60 60 60 60"
    ]


async def test_first_matching_regex_of_several_answers() -> None:
    plugin = handler(SEARCH)
    for name, address in (
        ("ip-10-1-2-3.dc.example.", "10.1.2.3"),
        ("4.3.2.1.ext.example.", "4.3.2.1"),
    ):
        _, reply = await ask(plugin, build_request(name))
        assert [rr.to_text() for rr in reply.answer] == [f"{name} 60 IN A {address}"]


async def test_fallthrough_and_servfail() -> None:
    plugin = handler(SEARCH)
    # In the zone, no regex matches, fallthrough: the next plugin answers.
    assert await plugin.serve(build_request("www.example."), next_plugin) is NEXT
    # Other type: this template is skipped, the name is not in another template's zone.
    assert await plugin.serve(build_request("ip-10-1-2-3.dc.example.", "MX"), next_plugin) is NEXT
    # Outside every template zone.
    assert await plugin.serve(build_request("example.org."), next_plugin) is NEXT
    # In the zone, no match, no fallthrough: SERVFAIL, as CoreDNS.
    failed = await plugin.serve(build_request("nope.strict.test."), next_plugin)
    assert failed.answer is not None and failed.answer.rcode == Rcode.SERVFAIL


async def test_metrics_count_matches_and_failures() -> None:
    registry = CollectorRegistry()
    plugin = handler(
        'template IN A a.test {\n answer "{{ .Name }} 60 IN A {{ index .Match 3 }}"\n}\n'
        'template IN A b.test {\n answer "{{ .Name }} 60 IN A 300.1.1.1"\n}\n'
        'template IN A c.test {\n answer "{{ .Name }} 60 IN A 10.0.0.1"\n}',
        registry,
    )
    for name in ("x.a.test.", "x.b.test.", "x.c.test.", "y.c.test."):
        _, reply = await ask(plugin, build_request(name))
    assert reply.answer[0].to_text() == "y.c.test. 60 IN A 10.0.0.1"
    labels = {"server": "dns://:53", "view": "", "class": "IN", "type": "A"}
    assert (
        registry.get_sample_value("coredns_template_matches_total", {**labels, "zone": "c.test."})
        == 2
    )
    assert (
        registry.get_sample_value(
            "coredns_template_template_failures_total",
            {
                **labels,
                "zone": "a.test.",
                "section": "answer",
                "template": "{{ .Name }} 60 IN A {{ index .Match 3 }}",
            },
        )
        == 1
    )
    assert (
        registry.get_sample_value(
            "coredns_template_rr_failures_total",
            {
                **labels,
                "zone": "b.test.",
                "section": "answer",
                "template": "{{ .Name }} 60 IN A 300.1.1.1",
            },
        )
        == 1
    )


async def test_answers_reading_remote_or_message_are_not_cacheable() -> None:
    plugin = handler(
        'template IN TXT a.test {\n answer "{{ .Name }} 0 IN TXT {{ .Remote }}"\n}\n'
        'template IN TXT b.test {\n answer "{{ .Name }} 0 IN TXT {{ .Message.Id }}"\n}\n'
        'template IN TXT c.test {\n answer "{{ .Name }} 0 IN TXT {{ .Type }}"\n}'
    )
    remote, reply = await ask(plugin, build_request("a.test.", "TXT", client=("192.0.2.5", 5)))
    assert reply.answer[0].to_text() == 'a.test. 0 IN TXT "192.0.2.5"'
    assert not remote.cacheable
    message, reply = await ask(plugin, build_request("b.test.", "TXT", ident=777))
    assert reply.answer[0].to_text() == 'b.test. 0 IN TXT "777"'
    assert not message.cacheable
    plain, reply = await ask(plugin, build_request("c.test.", "TXT"))
    assert reply.answer[0].to_text() == 'c.test. 0 IN TXT "TXT"'
    # Structured and cacheable: the server pre-encodes it until the Corefile is reloaded.
    assert plain.cacheable and plain.answer is not None and plain.scope == SCOPE


async def test_rcode_servfail_builds_nothing_and_edns_is_echoed_with_ede() -> None:
    plugin = handler(
        "template ANY ANY down.test {\n rcode SERVFAIL\n}\n"
        'template ANY ANY invalid {\n rcode NXDOMAIN\n ederror 21 "Blocked according to RFC2606"\n}'
    )
    down = await plugin.serve(build_request("x.down.test."), next_plugin)
    assert down.answer is not None and down.answer.rcode == Rcode.SERVFAIL
    _, reply = await ask(plugin, build_request("x.invalid.", use_edns=0, want_dnssec=True))
    assert reply.rcode() == dns.rcode.NXDOMAIN and reply.ednsflags & dns.flags.DO
    (option,) = reply.options
    assert (option.otype, option.code, option.text) == (15, 21, "Blocked according to RFC2606")
    # No OPT for a client that sent none (RFC 6891 7).
    _, plain = await ask(plugin, build_request("y.invalid."))
    assert plain.edns == -1


async def test_cname_answers_for_address_questions_follow_the_target() -> None:
    async def lookup(request: Request) -> Response:
        query = dns.message.from_wire(request.query.wire)
        response = dns.message.make_response(query)
        response.answer.append(dns.rrset.from_text("google.com.", 30, "IN", "A", "192.0.2.44"))
        return Response("forward", wire=response.to_wire())

    plugin = handler(
        'template IN ANY foogle.com {\n match "^foogle\\.com\\.$"\n'
        ' answer "foogle.com 60 IN CNAME google.com"\n}',
        lookup=lookup,
    )
    response, reply = await ask(plugin, build_request("FOOGLE.com."))
    assert reply.question[0].to_text() == "FOOGLE.com. IN A"
    # Owners equal to the question compress to it, so they carry the client's letter case.
    assert [rr.to_text() for rr in reply.answer] == [
        "FOOGLE.com. 60 IN CNAME google.com.",
        "google.com. 30 IN A 192.0.2.44",
    ]
    assert not response.cacheable
    _, mx = await ask(plugin, build_request("foogle.com.", "MX"))
    assert [rr.to_text() for rr in mx.answer] == ["foogle.com. 60 IN CNAME google.com."]
