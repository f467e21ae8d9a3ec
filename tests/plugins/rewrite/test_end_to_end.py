"""`rewrite` in a Corefile with kubernetes and forward, asked with the real `dig`."""

from tests.conftest import listener
from tests.fakes.upstream import FakeUpstream
from tests.plugins.rewrite.conftest import Serve, dig

COREFILE = """
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    rewrite name exact web.example.org web.demo.svc.cluster.local
    rewrite stop {
        name suffix .corp.example .upstream.test answer auto
    }
    rewrite name regex (.*)-(demo)\\.internal {1}.{2}.svc.cluster.local answer auto
    rewrite name substring flaky.example. other.example.
    forward . UPSTREAM
"""


async def test_exact_rewrite_to_a_service_answers_with_the_asked_name(serve: Serve) -> None:
    app = await serve(COREFILE)
    port = app.addresses[0][1]
    out = await dig(port, "WEB.Example.org", "A")
    assert "status: NOERROR" in out
    assert ";WEB.Example.org.\t\tIN\tA" in out
    assert "WEB.Example.org.\t30\tIN\tA\t10.96.0.20" in out
    assert "svc.cluster.local" not in out


async def test_regex_rewrite_with_answer_auto(serve: Serve) -> None:
    app = await serve(COREFILE)
    out = await dig(app.addresses[0][1], "web-demo.internal", "A")
    assert "web-demo.internal.\t30\tIN\tA\t10.96.0.20" in out


async def test_suffix_rewrite_of_a_forwarded_name(serve: Serve, upstream: FakeUpstream) -> None:
    upstream.script("www.upstream.test.", "answer", ("192.0.2.7", "192.0.2.8"))
    app = await serve(COREFILE)
    out = await dig(app.addresses[0][1], "www.corp.example", "A")
    assert "status: NOERROR" in out
    assert ";www.corp.example.\t\tIN\tA" in out
    assert "www.corp.example.\t" in out and "192.0.2.7" in out and "192.0.2.8" in out
    assert "upstream.test" not in out
    assert [seen.name for seen in upstream.seen()] == ["www.upstream.test."]


async def test_without_answer_rules_the_question_is_still_restored(
    serve: Serve, upstream: FakeUpstream
) -> None:
    upstream.script("a.other.example.", "answer", ("192.0.2.9",))
    app = await serve(COREFILE)
    out = await dig(app.addresses[0][1], "a.flaky.example", "A")
    assert ";a.flaky.example.\t\tIN\tA" in out
    # CoreDNS leaves the answer's owner as it came when no answer rule is given.
    assert "a.other.example.\t" in out and "192.0.2.9" in out


async def test_names_nobody_rewrites_pass_through(serve: Serve, upstream: FakeUpstream) -> None:
    app = await serve(COREFILE)
    out = await dig(app.addresses[0][1], "kubernetes.default.svc.cluster.local", "A")
    assert "kubernetes.default.svc.cluster.local. 30 IN A 10.96.0.1" in out.replace("\t", " ")


async def test_repeated_questions_from_pre_encoded_replies_keep_the_asked_name(
    serve: Serve,
) -> None:
    app = await serve(COREFILE)
    port = app.addresses[0][1]
    for asked in ("web.example.org", "WEB.EXAMPLE.ORG", "Web.Example.Org"):
        # Without a cookie (an EDNS option that differs per query) the question is hot.
        out = await dig(port, asked, "A", "+nocookie")
        assert f"{asked}.\t30\tIN\tA\t10.96.0.20" in out
    # The kubernetes answer behind the rewrite is pre-encoded under the asked question.
    assert sum(store.hits for store in listener(app).stores) >= 1
