"""The dispatcher bytes in, bytes out; and the pre-encoded path answering exactly as it does."""

import asyncio
import logging
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest

from clusterdns.app import App
from clusterdns.chain import Chain
from clusterdns.dns.message import BodyMemo, decode_query, encode_answer
from clusterdns.dns.records import Address, Answer, Rcode, Record, RType, Soa
from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.kubernetes.handler import KubernetesPlugin
from clusterdns.plugins.kubernetes.source import ManifestSource, publish_objects
from clusterdns.serve_flags import ServeOptions, serve_app
from clusterdns.server.dispatch import Dispatcher, ZoneChain, run_now
from clusterdns.server.hotpath import AnswerCache
from tests.conftest import EXAMPLES, plugins
from tests.fakes.plugins import FakeClock
from tests.fakes.upstream import FakeUpstream

CLIENT = ("127.0.0.1", 5300)
QUESTION = b"\x03web\x04demo\x03svc\x07cluster\x05local\x00\x00\x01\x00\x01"
COOKIE = dns.edns.GenericOption(dns.edns.OptionType.COOKIE, b"clientck")


def _app() -> App:
    app = serve_app(ServeOptions(manifests=(str(EXAMPLES),), upstreams=("127.0.0.1:9",)))
    (plugin,) = plugins(app, "kubernetes")
    assert isinstance(plugin, KubernetesPlugin) and isinstance(plugin.source, ManifestSource)
    publish_objects(plugin.store, plugin.holder, plugin.source.objects, serial=1)
    return app


def _blocks(app: App) -> list[ZoneChain]:
    # loadbalance cycles orders per query; without it one question has one reply, so the
    # two paths can be compared byte for byte.
    return [
        ZoneChain(b.zones, Chain([h for h in b.chain.handlers if h.name != "loadbalance"]))
        for b in app.servers[0].blocks
    ]


APP = _app()


async def served_over_udp(
    dispatcher: Dispatcher, store: AnswerCache, data: bytes, now: float = 0.0
) -> bytes | None:
    """What a UDP listener replies (server.udp): from its store, else through the dispatcher,
    keeping the reply when the dispatcher says it may and the store admits it."""
    reply = store.reply(data, now, CLIENT)
    if reply is not None:
        return reply
    generation = store.generation
    outcome = dispatcher.serve_udp(data, CLIENT)
    reply, kept = await outcome if isinstance(outcome, asyncio.Task) else outcome
    if kept is not None:
        store.keep(kept, generation)
    return reply


@pytest.fixture
def dispatcher() -> Iterator[Dispatcher]:
    yield Dispatcher(_blocks(APP), counters=APP.servers[0].counters)


def make(name: str = "web.demo.svc.cluster.local.", qtype: str = "A", **kw: object) -> bytes:
    query = dns.message.make_query(name, qtype, **kw)  # type: ignore[arg-type]
    query.id = 0x2468
    return query.to_wire()


@dataclass(frozen=True)
class Case:
    """A query's bytes and what the reply must say."""

    data: bytes
    rcode: int | None  # None: no reply at all
    answers: tuple[str, ...] = ()
    payload: int | None = None  # the OPT's payload size, None: no OPT


def _with_counts(data: bytes, arcount: int) -> bytes:
    return data[:10] + struct.pack("!H", arcount) + data[12:]


OPT = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00"
NXDOMAIN, BADVERS = dns.rcode.NXDOMAIN, dns.rcode.BADVERS
CASES = [
    pytest.param(
        Case(
            make(use_edns=False),
            dns.rcode.NOERROR,
            ("web.demo.svc.cluster.local. 30 IN A 10.96.0.20",),
        ),
        id="plain",
    ),
    pytest.param(
        Case(
            make("WeB.DEMO.svc.cluster.local.", use_edns=0, payload=1232),
            dns.rcode.NOERROR,
            ("WeB.DEMO.svc.cluster.local. 30 IN A 10.96.0.20",),
            1232,
        ),
        id="case-kept-edns",
    ),
    pytest.param(
        Case(
            make(use_edns=0, payload=1232, options=[COOKIE]),
            dns.rcode.NOERROR,
            ("web.demo.svc.cluster.local. 30 IN A 10.96.0.20",),
            1232,
        ),
        id="cookie-not-echoed",
    ),
    pytest.param(
        Case(
            make(use_edns=0, payload=100),
            dns.rcode.NOERROR,
            ("web.demo.svc.cluster.local. 30 IN A 10.96.0.20",),
            512,
        ),
        id="payload-below-512-raised",
    ),
    pytest.param(
        Case(
            make(use_edns=0, payload=65000),
            dns.rcode.NOERROR,
            ("web.demo.svc.cluster.local. 30 IN A 10.96.0.20",),
            4096,
        ),
        id="payload-capped-4096",
    ),
    pytest.param(
        Case(make("nope.demo.svc.cluster.local.", use_edns=0, payload=1232), NXDOMAIN, (), 1232),
        id="nxdomain",
    ),
    pytest.param(Case(make(use_edns=1, payload=1232), BADVERS, (), 1232), id="edns-version-1"),
    pytest.param(
        Case(
            _with_counts(make(use_edns=False), 2) + OPT + b"\0\0" + OPT + b"\0\0", dns.rcode.FORMERR
        ),
        id="two-opts",
    ),
    pytest.param(
        Case(
            _with_counts(make(use_edns=False), 1) + OPT + b"\0\x08\0\x0a\0\x09clientck",
            dns.rcode.FORMERR,
        ),
        id="option-longer-than-opt",
    ),
    pytest.param(
        Case(b"\x24\x68\x81\x00" + b"\0\1\0\0\0\0\0\0" + QUESTION, None), id="response-dropped"
    ),
    pytest.param(Case(b"\x24\x68", None), id="short-dropped"),
    pytest.param(
        Case(b"\x24\x68\x11\x00\0\1\0\0\0\0\0\0" + QUESTION, dns.rcode.NOTIMP), id="opcode-status"
    ),
    pytest.param(Case(make(rdclass="CH", use_edns=False), dns.rcode.REFUSED), id="class-chaos"),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_bytes_in_bytes_out(dispatcher: Dispatcher, case: Case, protocol: str) -> None:
    reply = run_now(dispatcher.handle(case.data, protocol, CLIENT))
    if case.rcode is None:
        assert reply is None
        return
    assert isinstance(reply, bytes)
    message = dns.message.from_wire(reply)
    assert message.id == 0x2468 and message.flags & dns.flags.QR
    assert message.rcode() == case.rcode
    assert tuple(rr.to_text() for rr in message.answer) == case.answers
    if case.payload is None:
        assert message.edns == -1 or case.rcode == dns.rcode.BADVERS
    else:
        assert message.edns == 0 and message.payload == case.payload
        assert message.options == ()  # CoreDNS: a fresh OPT, nothing echoed, no server cookie


def test_an_answer_that_does_not_wait_needs_no_task(dispatcher: Dispatcher) -> None:
    # No event loop runs here at all: a zone answer completes synchronously.
    served = dispatcher.serve_udp(make(use_edns=False), CLIENT)
    assert isinstance(served, tuple)
    reply, kept = served
    assert isinstance(reply, bytes) and kept is not None  # a zone answer may be kept
    assert dns.message.from_wire(reply).rcode() == dns.rcode.NOERROR


class Broken:
    """A handler with a bug: raises on every query."""

    name = "kubernetes"

    async def serve(self, request: Request, next: Next) -> Response:
        raise ZeroDivisionError("bug")


def test_a_failing_chain_gives_servfail_and_logs_once_per_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    broken = Dispatcher([ZoneChain((".",), Chain([Broken()]))], clock=clock)
    caplog.set_level(logging.ERROR, logger="clusterdns.server.dispatch")
    for _ in range(500):
        reply = run_now(broken.handle(make(use_edns=False), "udp", CLIENT))
        assert isinstance(reply, bytes)
        assert dns.message.from_wire(reply).rcode() == dns.rcode.SERVFAIL
    clock.advance(61)
    run_now(broken.handle(make(use_edns=False), "udp", CLIENT))
    assert broken.counters.panics == 501
    records = [r for r in caplog.records if r.name == "clusterdns.server.dispatch"]
    assert len(records) == 2
    assert records[0].exc_info is not None  # the first, with its traceback
    assert "500 more answers failed" in records[1].getMessage()


# Names the kubernetes plugin answers itself: forwarded ones depend on the upstream's mood.
NAMES = [
    "web.demo.svc.cluster.local.",
    "api.demo.svc.cluster.local.",
    "_http._tcp.web.demo.svc.cluster.local.",
    "nope.demo.svc.cluster.local.",
    "x.web.demo.svc.cluster.local.",
    "demo.svc.cluster.local.",
    "dns-version.cluster.local.",
    "kube-dns.kube-system.svc.cluster.local.",
    "dual.demo.svc.cluster.local.",
    "web-0.web.demo.svc.cluster.local.",
    "cluster.local.",
    # Siblings of the names above, of the same lengths: answered from a stored sibling's
    # answer (plugin.Family) only where the two paths agree.
    "y.web.demo.svc.cluster.local.",
    "db-0.db.demo.svc.cluster.local.",  # a ready endpoint: taken
    "db-3.db.demo.svc.cluster.local.",  # not ready: a name error like any random one
    "zz-9.db.demo.svc.cluster.local.",
    "x_y.db.demo.svc.cluster.local.",  # not letters, digits and hyphens
    "*.web.demo.svc.cluster.local.",
    "shop.demo.svc.cluster.local.",  # a Service of the same length as "nope"
    "n0pe.demo.svc.cluster.local.",
    "x.docs.demo.svc.cluster.local.",  # below an ExternalName
    "10-244-0-1.demo.pod.cluster.local.",  # pod names: the reply differs in the address
    "10-244-9-7.demo.pod.cluster.local.",
    "0-0-0-30.demo.pod.cluster.local.",  # its address's bytes are also the TTL's
    "fd00--1.demo.pod.cluster.local.",
    "fd00--2.demo.pod.cluster.local.",
    "abcdef-1.demo.pod.cluster.local.",  # not an address: a name error
]
TYPES = ["A", "AAAA", "SRV", "TXT", "PTR", "CNAME", "SOA", "NS", "MX", "ANY"]
OPTIONS = [
    COOKIE,
    dns.edns.GenericOption(dns.edns.OptionType.PADDING, b"\0" * 16),  # padding
    dns.edns.ECSOption("192.0.2.0", 24),
    dns.edns.GenericOption(dns.edns.OptionType.make(65001), b"unknown"),
]


def _cased(name: str, flips: list[bool]) -> str:
    flips = flips + [False] * (len(name) - len(flips))
    return "".join(c.upper() if flip else c for c, flip in zip(name, flips, strict=False))


queries = st.builds(
    lambda name, qtype, flips, edns, options, do, payload, rd: make(
        _cased(name, flips),
        qtype,
        use_edns=0 if edns else False,
        options=options if edns else None,
        want_dnssec=do and edns,
        payload=payload,
        flags=dns.flags.RD if rd else 0,
    ),
    st.sampled_from(NAMES),
    st.sampled_from(TYPES),
    st.lists(st.booleans(), max_size=40),
    st.booleans(),
    st.lists(st.sampled_from(OPTIONS), max_size=2),
    st.booleans(),
    st.sampled_from([512, 600, 1232, 4096, 8192]),
    st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(queries, min_size=1, max_size=6))
def test_pre_encoded_replies_equal_the_decoding_path(batch: list[bytes]) -> None:
    reference = Dispatcher(_blocks(APP), counters=APP.servers[0].counters)
    fast = Dispatcher(_blocks(APP), counters=APP.servers[0].counters)
    store = AnswerCache(admit_after=1)

    async def check() -> None:
        for data in batch * 2:  # the second round is served from the store where it can be
            expected = await reference.handle(data, "udp", CLIENT)
            served = await served_over_udp(fast, store, data)
            assert served == expected, data.hex()

    asyncio.run(check())


@pytest.mark.parametrize(
    ("behaviour", "records", "kept_for"),
    [
        pytest.param("answer", 2, 30, id="resolved-kept-for-its-ttl"),
        pytest.param("servfail", 1, 5, id="unresolved-asked-again-within-5s"),
    ],
)
async def test_external_name_answers_say_how_long_they_may_be_kept(
    served: App, upstream: FakeUpstream, behaviour: str, records: int, kept_for: float
) -> None:
    if behaviour == "answer":
        upstream.script("docs.example.com.", "answer", ("192.0.2.80",))
    else:
        upstream.script("docs.example.com.", "servfail")
    (plugin,) = plugins(served, "kubernetes")
    assert isinstance(plugin, KubernetesPlugin)
    query = decode_query(make("docs.demo.svc.cluster.local.", use_edns=False))

    async def unused(request: Request) -> Response:
        raise AssertionError("the target is looked up through the server, not `next`")

    response = await plugin.serve(Request(query, "udp", CLIENT), unused)
    assert response.answer is not None and len(response.answer.answer) == records
    assert response.cacheable and response.ttl == kept_for


def test_big_answers_reuse_their_encoding_for_any_letter_case() -> None:
    answer = Answer(
        Rcode.NOERROR,
        tuple(
            Record(
                "many.demo.svc.cluster.local.", RType.A, 30, Address(f"10.1.{i // 256}.{i % 256}")
            )
            for i in range(300)
        ),
        authoritative=True,
    )
    bodies: BodyMemo = {}
    for name in ("many.demo.svc.cluster.local.", "MANY.Demo.svc.cluster.local."):
        for size in (512, 65535):
            decoded = decode_query(make(name, use_edns=False))
            assert encode_answer(decoded, answer, size, bodies) == encode_answer(
                decoded, answer, size
            )
    assert len(bodies) == 2  # one per size: the case variant reused them


_ZONE_SOA = Record(
    "cluster.local.",
    RType.SOA,
    30,
    Soa("ns.dns.cluster.local.", "hostmaster.cluster.local.", 7, 7200, 1800, 86400, 30),
)


@pytest.mark.parametrize(
    "names",
    [
        pytest.param(
            ("r1.web.demo.svc.cluster.local.", "r2.web.demo.svc.cluster.local."),
            id="same-length-same-tail",
        ),
        pytest.param(
            ("r1.web.demo.svc.cluster.local.", "R2.WEB.demo.SVC.cluster.LOCAL."),
            id="letter-case",
        ),
        pytest.param(
            ("r1.web.demo.svc.cluster.local.", "r1.web.other.svc.cluster.local."),
            id="other-namespace",
        ),
        pytest.param(
            ("r1.web.demo.svc.cluster.local.", "r12.web.demo.svc.cluster.local."),
            id="other-length",
        ),
        pytest.param(("dns.cluster.local.", "dnz.cluster.local."), id="name-inside-the-soa"),
        pytest.param(("cluster.local.", "nope.cluster.local."), id="apex-and-below"),
        pytest.param(("a.b.c.d.e.f.cluster.local.", "x.b.c.d.e.f.cluster.local."), id="deep"),
    ],
)
@pytest.mark.parametrize("rcode", [Rcode.NXDOMAIN, Rcode.NOERROR], ids=["nxdomain", "nodata"])
def test_negative_answers_reuse_their_encoding_only_where_it_is_the_same(
    names: tuple[str, ...], rcode: Rcode
) -> None:
    # One shared answer object (as kubernetes.answer.negative_answer gives it): the memo must
    # give the bytes a fresh encoding gives, whatever the question's layout and case.
    answer = Answer(rcode, authority=(_ZONE_SOA,), authoritative=True)
    bodies: BodyMemo = {}
    for _ in range(2):
        for name in names:
            for use_edns in (False, True):
                for size in (512, 65535, 60):
                    decoded = decode_query(make(name, use_edns=use_edns))
                    fresh = encode_answer(decoded, answer, size)
                    assert encode_answer(decoded, answer, size, bodies) == fresh, name


async def test_cached_external_names_are_pre_encoded_with_their_ttl_counting_down(
    upstream: FakeUpstream,
) -> None:
    clock = FakeClock()
    options = ServeOptions(
        manifests=(str(EXAMPLES),),
        dns_addrs=("127.0.0.1",),
        dns_port=0,
        upstreams=(upstream.address,),
    )
    app = serve_app(options, clock=clock)
    await app.start()
    try:
        upstream.script("example.com.", "answer", ("192.0.2.44",))
        fast = Dispatcher(app.servers[0].blocks, counters=app.servers[0].counters, clock=clock)
        store = AnswerCache()
        data = make("example.com.", use_edns=False)

        async def ask() -> tuple[bool, list[str]]:
            served = store.reply(data, clock.monotonic())
            hot = served is not None
            if served is None:  # a miss changes nothing in the store: asking again is the same
                served = await served_over_udp(fast, store, data, clock.monotonic())
            assert served is not None
            return hot, [rr.to_text() for rr in dns.message.from_wire(served).answer]

        # Forwarded, then two cache hits (stored on the second), then pre-encoded.
        assert [await ask() for _ in range(4)] == [
            (False, ["example.com. 30 IN A 192.0.2.44"]),
            (False, ["example.com. 30 IN A 192.0.2.44"]),
            (False, ["example.com. 30 IN A 192.0.2.44"]),
            (True, ["example.com. 30 IN A 192.0.2.44"]),
        ]
        clock.advance(1.0)  # the TTL counts down: the pre-encoded copy is no longer true
        assert await ask() == (False, ["example.com. 29 IN A 192.0.2.44"])
        assert await ask() == (True, ["example.com. 29 IN A 192.0.2.44"])
        assert len(upstream.seen()) == 1
        body = generate_latest(app.registry).decode()
        hits = [
            float(line.rsplit(" ", 1)[1])
            for line in body.splitlines()
            if line.startswith("coredns_cache_hits_total{") and 'type="success"' in line
        ]
        assert hits == [5.0]  # pre-encoded copies count as cache hits, as CoreDNS counts them
    finally:
        await app.stop()
