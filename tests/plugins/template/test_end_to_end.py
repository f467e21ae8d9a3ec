"""`template` in a Corefile with kubernetes and forward, asked with the real `dig`."""

from tests.conftest import listener
from tests.fakes.upstream import FakeUpstream
from tests.plugins.rewrite.conftest import Serve, dig

COREFILE = """
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    template IN A example {
      match (^|[.])ip-(?P<a>[0-9]*)-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$
      answer "{{ .Name }} 60 IN A {{ .Group.a }}.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
      fallthrough
    }
    template IN MX example {
      match ^ip-10-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$
      answer "{{ .Name }} 60 IN MX 10 {{ .Name }}"
      additional "{{ .Name }} 60 IN A 10.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
      authority  "example. 60 IN NS ns0.example."
      fallthrough
    }
    template IN A hex.test {
      match "^ip0a(?P<b>[a-f0-9]{2})(?P<c>[a-f0-9]{2})(?P<d>[a-f0-9]{2})[.]hex[.]test[.]$"
      answer "{{ .Name }} 60 IN A 10.HEX"
    }
    template ANY ANY invalid {
      rcode NXDOMAIN
      authority "invalid. 60 {{ .Class }} SOA ns.invalid. hostmaster.invalid. (1 60 60 60 60)"
    }
    template IN ANY foogle.com {
      match "^foogle\\.com\\.$"
      answer "foogle.com 60 IN CNAME google.com"
    }
    template IN TXT whoami.test {
      answer "{{ .Name }} 0 IN TXT {{ .Remote }}"
    }
    forward . UPSTREAM
""".replace("HEX", ".".join(f"{{{{ parseInt .Group.{g} 16 8 }}}}" for g in "bcd"))


def section(out: str, title: str) -> list[str]:
    """The lines of one dig section, tabs folded to spaces."""
    lines = out.split(f";; {title} SECTION:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [" ".join(line.split()) for line in lines]


async def test_a_record_from_named_groups(serve: Serve) -> None:
    app = await serve(COREFILE)
    out = await dig(app.addresses[0][1], "ip-10-1-2-3.example", "A")
    assert "status: NOERROR" in out and "flags: qr aa rd;" in out
    assert section(out, "ANSWER") == ["ip-10-1-2-3.example. 60 IN A 10.1.2.3"]


async def test_mx_with_additional_and_authority(serve: Serve) -> None:
    app = await serve(COREFILE)
    out = await dig(app.addresses[0][1], "ip-10-9-8-7.example", "MX")
    assert section(out, "ANSWER") == ["ip-10-9-8-7.example. 60 IN MX 10 ip-10-9-8-7.example."]
    assert section(out, "AUTHORITY") == ["example. 60 IN NS ns0.example."]
    assert "ip-10-9-8-7.example. 60 IN A 10.9.8.7" in section(out, "ADDITIONAL")


async def test_parse_int_pipeline(serve: Serve) -> None:
    app = await serve(COREFILE)
    out = await dig(app.addresses[0][1], "ip0a7b7c7d.hex.test", "A")
    assert section(out, "ANSWER") == ["ip0a7b7c7d.hex.test. 60 IN A 10.123.124.125"]


async def test_no_match_without_fallthrough_is_servfail(serve: Serve) -> None:
    app = await serve(COREFILE)
    out = await dig(app.addresses[0][1], "nothing-here.hex.test", "A")
    assert "status: SERVFAIL" in out


async def test_invalid_is_nxdomain_with_a_soa(serve: Serve) -> None:
    app = await serve(COREFILE)
    out = await dig(app.addresses[0][1], "anything.invalid", "AAAA")
    assert "status: NXDOMAIN" in out
    assert section(out, "AUTHORITY") == [
        "invalid. 60 IN SOA ns.invalid. hostmaster.invalid. 1 60 60 60 60"
    ]


async def test_fabricated_cname_is_followed_through_forward(
    serve: Serve, upstream: FakeUpstream
) -> None:
    upstream.script("google.com.", "answer", ("192.0.2.44",))
    app = await serve(COREFILE)
    out = await dig(app.addresses[0][1], "foogle.com", "A")
    assert section(out, "ANSWER") == [
        "foogle.com. 60 IN CNAME google.com.",
        "google.com. 60 IN A 192.0.2.44",
    ]


async def test_remote_is_the_client_address(serve: Serve) -> None:
    app = await serve(COREFILE)
    out = await dig(app.addresses[0][1], "whoami.test", "TXT")
    assert section(out, "ANSWER") == ['whoami.test. 0 IN TXT "127.0.0.1"']


async def test_other_names_reach_kubernetes_and_forward(
    serve: Serve, upstream: FakeUpstream
) -> None:
    upstream.script("example.com.", "answer", ("192.0.2.10",))
    app = await serve(COREFILE)
    port = app.addresses[0][1]
    out = await dig(port, "web.demo.svc.cluster.local", "A")
    assert section(out, "ANSWER") == ["web.demo.svc.cluster.local. 30 IN A 10.96.0.20"]
    out = await dig(port, "example.com", "A")
    assert section(out, "ANSWER")[0].endswith("IN A 192.0.2.10")
    # A name in a template's zone that no regex matches falls through (fallthrough set).
    upstream.script("www.example.", "answer", ("192.0.2.11",))
    out = await dig(port, "www.example", "A")
    assert section(out, "ANSWER")[0].endswith("IN A 192.0.2.11")


async def test_question_only_answers_are_pre_encoded_remote_ones_are_not(serve: Serve) -> None:
    app = await serve(COREFILE)
    port = app.addresses[0][1]

    def hits() -> int:
        return sum(store.hits for store in listener(app).stores)

    for _ in range(3):
        out = await dig(port, "whoami.test", "TXT", "+nocookie")
        assert section(out, "ANSWER") == ['whoami.test. 0 IN TXT "127.0.0.1"']
    assert hits() == 0
    # Stored on its second sighting (in any letter case); the third is pre-encoded.
    for asked in ("ip-10-1-2-3.example", "Ip-10-1-2-3.example", "IP-10-1-2-3.EXAMPLE"):
        out = await dig(port, asked, "A", "+nocookie")
        assert section(out, "ANSWER") == [f"{asked}. 60 IN A 10.1.2.3"]
    assert hits() == 1
