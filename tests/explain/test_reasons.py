"""Explain's reasons, one named case per reason, from the example manifests (no cluster)."""

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from clusterdns.chain import Chain
from clusterdns.dns.records import Address, Answer, Rcode, Record, RType
from clusterdns.explain.explanation import explain
from clusterdns.explain.load import Target, load_target
from clusterdns.explain.question import parse_question
from clusterdns.plugin import Next, Request, Response
from clusterdns.serve_flags import ServeOptions, serve_corefile
from clusterdns.server.dispatch import ZoneChain
from tests.fakes.plugins import FakeClock

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = (str(ROOT / "examples"), str(ROOT / "tests/data/k8s"))
# Nothing is sent by these tests; the upstream only has to parse.
OPTIONS = ServeOptions(manifests=MANIFESTS, dns_addrs=("127.0.0.1",), upstreams=("127.0.0.1:9",))


def target(corefile: str = "") -> Target:
    text = corefile or serve_corefile(OPTIONS)
    return load_target(text, "Corefile", clock=FakeClock(), environ={})


TARGET = target()


@dataclass(frozen=True)
class Case:
    """A question, the rcode and answering plugin expected, and a reason it must give."""

    name: str
    qtype: str
    rcode: str | None
    code: str
    text: str
    suggestions: list[str] = field(default_factory=list)
    plugin: str = "kubernetes"


def cases(*items: Case) -> list[object]:
    return [pytest.param(c, id=c.code + "-" + c.name.split(".")[0]) for c in items]


SVC = ".demo.svc.cluster.local."
REASONS = cases(
    Case("web" + SVC, "A", "NOERROR", "service", "Service demo/web (ClusterIP 10.96.0.20)"),
    Case(
        "web" + SVC,
        "A",
        "NOERROR",
        "slice",
        "EndpointSlice demo/web-7xq2z: 2 ready endpoints, 1 not ready left out: "
        "10.244.1.12 (ready=false)",
    ),
    Case(
        "wbe" + SVC,
        "A",
        "NXDOMAIN",
        "no-service",
        'no Service "wbe" in namespace "demo"',
        ["web" + SVC],
    ),
    Case(
        "web.dmeo.svc.cluster.local.",
        "A",
        "NXDOMAIN",
        "no-namespace",
        'namespace "dmeo" does not exist',
        ["web" + SVC],
    ),
    Case(
        "web.nosuchns.svc.cluster.local.",
        "A",
        "NXDOMAIN",
        "service-elsewhere",
        'a Service "web" exists in namespace demo',
        ["web" + SVC],
    ),
    Case("web" + SVC, "AAAA", "NOERROR", "ipv4-only", "AAAA: the Service is IPv4-only"),
    Case(
        "six.edge.svc.cluster.local.",
        "A",
        "NOERROR",
        "ipv6-only",
        "A: the Service's ready endpoints are IPv6-only",
    ),
    Case(
        "_grpc._tcp.web" + SVC,
        "SRV",
        "NXDOMAIN",
        "no-port",
        'Service has no port named "grpc" (ports: http, https)',
    ),
    Case("_http._udp.web" + SVC, "SRV", "NXDOMAIN", "no-port", 'port "http" is TCP, not UDP'),
    Case(
        "notready.edge.svc.cluster.local.",
        "A",
        "NXDOMAIN",
        "no-ready-endpoints",
        "headless Service has no ready endpoints",
    ),
    Case(
        "db" + SVC,
        "A",
        "NOERROR",
        "slice",
        "EndpointSlice demo/db-d3e4f: 1 ready endpoint used, 1 not ready left out: "
        "10.244.2.13 (ready=false)",
    ),
    Case(
        "db-3.db" + SVC,
        "A",
        "NXDOMAIN",
        "endpoint-not-ready",
        'endpoint "db-3" (10.244.2.13) of Service demo/db is not ready (ready=false)',
    ),
    Case(
        "db-7.db" + SVC,
        "A",
        "NXDOMAIN",
        "no-endpoint",
        'no ready endpoint "db-7" in Service demo/db (ready endpoints: db-0, db-1, db-2)',
        ["db-0.db" + SVC, "db-1.db" + SVC, "db-2.db" + SVC],
    ),
    Case("db-1.db" + SVC, "A", "NOERROR", "endpoint", "endpoint db-1 → 10.244.2.11"),
    Case(
        "noports.edge.svc.cluster.local.",
        "SRV",
        "NOERROR",
        "no-ports",
        "the endpoints have no ports, so there are no SRV records",
    ),
    Case(
        "docs" + SVC,
        "A",
        "NOERROR",
        "externalname",
        "ExternalName demo/docs → docs.example.com. (the target is resolved by the upstream "
        "when served)",
    ),
    Case(
        "docs" + SVC,
        "SRV",
        "NOERROR",
        "wrong-type",
        "an ExternalName Service has only a CNAME, no SRV",
    ),
    Case(
        "x.docs" + SVC,
        "A",
        "NXDOMAIN",
        "externalname-endpoint",
        "an ExternalName Service has no endpoint names",
    ),
    Case(
        "web" + SVC,
        "MX",
        "NOERROR",
        "wrong-type",
        "the Service has A/AAAA and SRV records only, no MX",
    ),
    Case(
        "web.demo.scv.cluster.local.",
        "A",
        "NXDOMAIN",
        "unknown-kind",
        '"scv" is neither "svc" nor "pod"',
        ["web" + SVC],
    ),
    Case(
        "a.b.c.d.e.demo.svc.cluster.local.",
        "A",
        "NXDOMAIN",
        "too-many-labels",
        "7 labels below cluster.local.",
    ),
    Case(
        "demo.svc.cluster.local.",
        "A",
        "NOERROR",
        "empty-name",
        'namespace "demo" exists; it has no records of its own',
    ),
    Case(
        "10-244-9-9.demo.pod.cluster.local.",
        "A",
        "NOERROR",
        "pod-insecure",
        "10-244-9-9 stands for 10.244.9.9; `pods insecure` answers it",
    ),
    Case(
        "not-an-ip.demo.pod.cluster.local.",
        "A",
        "NXDOMAIN",
        "pod-not-ip",
        '"not-an-ip" is not an IP address with dashes',
    ),
    Case(
        "20.0.96.10.in-addr.arpa.",
        "PTR",
        "NOERROR",
        "ptr-service",
        "Service demo/web (ClusterIP 10.96.0.20) has cluster IP 10.96.0.20",
    ),
    Case(
        "11.2.244.10.in-addr.arpa.",
        "PTR",
        "NOERROR",
        "ptr-endpoint",
        "EndpointSlice demo/db-a1b2c of Service demo/db has ready endpoint 10.244.2.11",
    ),
    Case(
        "9.9.9.9.in-addr.arpa.",
        "PTR",
        None,
        "fallthrough",
        "`fallthrough in-addr.arpa. ip6.arpa.` passes it to the next plugin",
        plugin="forward",
    ),
    Case(
        "example.com.",
        "A",
        None,
        "forward",
        "forward . sends it to 127.0.0.1:9 (policy random)",
        plugin="forward",
    ),
    Case(
        "cluster.local.",
        "A",
        "NOERROR",
        "wrong-type",
        "the zone apex cluster.local. has only SOA and NS records, no A",
    ),
    Case(
        "cluster.local.",
        "AXFR",
        "REFUSED",
        "transfer",
        "the kubernetes plugin does not transfer its zones",
    ),
)


@pytest.mark.parametrize("case", REASONS)
async def test_reason(case: Case) -> None:
    result = await explain(TARGET, parse_question(case.name, case.qtype))
    assert result.plugin == case.plugin
    rcode = None if result.answer is None else result.answer.rcode.name
    assert rcode == case.rcode
    texts = {r.text for r in result.reasons if r.code == case.code}
    assert any(case.text in text for text in texts), [r.text for r in result.reasons]
    assert list(result.suggestions) == case.suggestions


CONFIGURED = f"""
.:53 {{
    kubernetes cluster.local in-addr.arpa {{
        manifests {" ".join(MANIFESTS)}
        namespaces demo edge
        ignore empty_service
    }}
}}
"""
STANZA = cases(
    Case(
        "kubernetes.default.svc.cluster.local.",
        "A",
        "NXDOMAIN",
        "namespace-not-served",
        'namespace "default" exists but the kubernetes plugin serves only namespaces demo, edge',
    ),
    Case(
        "metrics" + SVC,
        "A",
        "NXDOMAIN",
        "empty-service",
        "`ignore empty_service` makes that NXDOMAIN",
    ),
    Case(
        "10-244-9-9.demo.pod.cluster.local.",
        "A",
        "NXDOMAIN",
        "pods-disabled",
        "pod records are off (`pods disabled`",
    ),
    Case(
        "9.9.9.9.in-addr.arpa.",
        "PTR",
        "NXDOMAIN",
        "no-owner",
        "no Service cluster IP and no ready endpoint is 9.9.9.9",
    ),
    Case(
        "example.com.",
        "A",
        "SERVFAIL",
        "end-of-chain",
        "no plugin of the server block answers it: SERVFAIL",
        plugin="",
    ),
)


@pytest.mark.parametrize("case", STANZA)
async def test_reason_from_corefile_stanza(case: Case) -> None:
    result = await explain(target(CONFIGURED), parse_question(case.name, case.qtype))
    assert result.plugin == case.plugin
    assert result.answer is not None and result.answer.rcode.name == case.rcode
    assert any(case.text in r.text for r in result.reasons if r.code == case.code), [
        r.text for r in result.reasons
    ]


async def test_names_outside_every_server_block_are_refused() -> None:
    corefile = f"cluster.local:53 {{\n kubernetes {{\n  manifests {MANIFESTS[0]}\n }}\n}}\n"
    result = await explain(target(corefile), parse_question("example.com"))
    assert result.answer is not None and result.answer.rcode.name == "REFUSED"
    assert [r.code for r in result.reasons] == ["no-server-block"]


class Custom:
    """A plugin explain does not model (outside PLUGIN_ORDER), answering every name."""

    name = "custom"

    async def serve(self, request: Request, next: Next) -> Response:
        record = Record(request.query.name, RType.A, 60, Address("192.0.2.7"))
        return Response(self.name, answer=Answer(Rcode.NOERROR, (record,)))


async def test_a_plugin_explain_does_not_model_is_named_as_the_one_that_may_answer() -> None:
    configured = target(CONFIGURED)
    block = configured.server.blocks[0]
    chain = Chain([*block.chain.handlers, Custom()])
    configured.server.blocks[0] = ZoneChain(block.zones, chain)
    result = await explain(configured, parse_question("example.com"))
    assert result.plugin == "custom" and result.reply is None and not result.complete
    assert [r.code for r in result.reasons] == ["not-kubernetes", "may-answer"]


async def test_a_forward_for_another_zone_does_not_answer() -> None:
    corefile = CONFIGURED.replace("    }\n}", "    }\n    forward example.org 127.0.0.1:9\n}")
    result = await explain(target(corefile), parse_question("example.com"))
    assert result.answer is not None and result.answer.rcode.name == "SERVFAIL"
    codes = [r.code for r in result.reasons]
    assert codes == ["not-kubernetes", "not-forwarded", "end-of-chain"]
