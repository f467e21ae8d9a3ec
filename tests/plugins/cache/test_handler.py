"""The `cache` handler against a fake clock and a scripted chain behind it."""

import asyncio
from dataclasses import replace

import dns.flags
import dns.rcode
import pytest

from clusterdns.dns.records import Address, Answer, Rcode, Record, RType, Soa
from clusterdns.plugin import Family, Request, Response, Shared
from clusterdns.plugins.cache.handler import MAX_REFRESHES
from tests.plugins.cache.conftest import (
    Cache,
    FakeClock,
    Script,
    Scripted,
    parse,
    request,
    ttls,
    wire_of,
)

WWW = "www.example.org"
SOA = "example.org. 3600 IN SOA ns.example.org. hostmaster.example.org. 1 7200 900 86400 60"
KUBEADM = "cache 30 {\n    disable success cluster.local\n    disable denial cluster.local\n}"
WEB = "web.prod.svc.cluster.local."


def a(address: str, ttl: int = 300, name: str = WWW) -> Script:
    """A wire reply with one A record."""
    return wire_of([f"{name}. {ttl} IN A {address}"])


def addresses(response: Response) -> list[str]:
    """The A addresses of a wire or structured response."""
    if response.answer is not None:
        return [r.data.text() for r in response.answer.answer]
    return [rd.address for rrset in parse(response).answer for rd in rrset]


def servfail() -> Response:
    """The forward plugin's reply when no upstream answers."""
    return Response("forward", answer=Answer(Rcode.SERVFAIL, recursion_available=True))


def kubernetes(ttl: int = 30) -> Response:
    """A kubernetes plugin answer, which the server may pre-encode."""
    record = Record(WEB, RType.A, ttl, Address("10.0.0.7"))
    answer = Answer(Rcode.NOERROR, answer=(record,), authoritative=True)
    return Response("kubernetes", answer=answer, cacheable=True, scope="prod/web")


def kubernetes_nxdomain() -> Response:
    """A kubernetes NXDOMAIN with the zone SOA (minimum = ttl)."""
    soa = Soa("ns.dns.cluster.local.", "hostmaster.cluster.local.", 1, 7200, 1800, 86400, 30)
    record = Record("cluster.local.", RType.SOA, 30, soa)
    answer = Answer(Rcode.NXDOMAIN, authority=(record,), authoritative=True)
    return Response("kubernetes", answer=answer, cacheable=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_miss_then_hit_rewrites_ttl_id_and_question_case(clock: FakeClock) -> None:
    cache = Cache("cache", clock)
    upstream = Scripted(a("192.0.2.1", ttl=300))
    first = await cache.ask(request(WWW, ident=1), upstream)
    assert ttls(first) == [300] and parse(first).id == 1
    clock.advance(10.5)
    second = await cache.ask(request("WWW.Example.ORG", ident=2), upstream)
    message = parse(second)
    assert upstream.calls == 1
    assert second.plugin == "cache"
    assert message.id == 2
    assert str(message.question[0].name) == "WWW.Example.ORG."
    assert ttls(second) == [290]
    assert message.flags & dns.flags.AA  # as CoreDNS's item.toMsg sets it
    assert addresses(second) == ["192.0.2.1"]
    assert cache.metric("coredns_cache_requests_total") == 2
    assert cache.metric("coredns_cache_misses_total") == 1
    assert cache.metric("coredns_cache_hits_total", type="success") == 1
    assert cache.metric("coredns_cache_hits_total", type="denial") == 0
    assert cache.metric("coredns_cache_entries", type="success") == 1


@pytest.mark.parametrize(
    ("text", "record_ttl", "reply_ttl"),
    [
        pytest.param("cache", 300, 300, id="record-ttl"),
        pytest.param("cache 60", 300, 60, id="capped-by-ttl"),
        pytest.param("cache", 7200, 3600, id="capped-at-an-hour"),
        pytest.param("cache", 1, 5, id="raised-to-minttl"),
        pytest.param("cache {\n    success 100 3600 30\n}", 10, 30, id="raised-to-own-minttl"),
    ],
)
async def test_entry_ttl_and_first_reply_ttl(
    clock: FakeClock, text: str, record_ttl: int, reply_ttl: int
) -> None:
    cache = Cache(text, clock)
    upstream = Scripted(a("192.0.2.1", ttl=record_ttl))
    assert ttls(await cache.ask(request(WWW), upstream)) == [reply_ttl]
    clock.advance(reply_ttl - 0.5)
    assert ttls(await cache.ask(request(WWW), upstream)) == [1]
    clock.advance(0.5)
    await cache.ask(request(WWW), upstream)
    assert upstream.calls == 2


@pytest.mark.parametrize(
    ("second", "shared"),
    [
        pytest.param(request(WWW.upper()), True, id="case-insensitive"),
        pytest.param(request(WWW, edns=True), True, id="edns-without-do-shares"),
        pytest.param(request(WWW, do=True), False, id="do-keyed-apart"),
        pytest.param(request(WWW, cd=True), False, id="cd-keyed-apart"),
        pytest.param(request(WWW, "AAAA"), False, id="qtype-keyed-apart"),
        pytest.param(request("mail.example.org"), False, id="name-keyed-apart"),
    ],
)
async def test_key(clock: FakeClock, second: Request, shared: bool) -> None:
    cache = Cache("cache", clock)
    upstream = Scripted(lambda query: a("192.0.2.1", name=query.name.rstrip("."))(query))
    await cache.ask(request(WWW), upstream)
    await cache.ask(second, upstream)
    assert upstream.calls == (1 if shared else 2)


@pytest.mark.parametrize(
    ("text", "rcode", "answer", "entry_ttl"),
    [
        pytest.param("cache", dns.rcode.NXDOMAIN, [], 60, id="nxdomain-soa-minimum"),
        pytest.param("cache", dns.rcode.NOERROR, [], 60, id="nodata-soa-minimum"),
        pytest.param("cache {\n    denial 100 30\n}", dns.rcode.NXDOMAIN, [], 30, id="capped"),
        pytest.param("cache 20", dns.rcode.NXDOMAIN, [], 20, id="capped-by-cache-ttl"),
    ],
)
async def test_denial_cached_for_soa_derived_ttl(
    clock: FakeClock, text: str, rcode: dns.rcode.Rcode, answer: list[str], entry_ttl: int
) -> None:
    cache = Cache(text, clock)
    upstream = Scripted(wire_of(answer, [SOA], rcode=rcode))
    first = await cache.ask(request("nope.example.org"), upstream)
    assert ttls(first) == [entry_ttl]
    clock.advance(entry_ttl - 1)
    hit = await cache.ask(request("nope.example.org", ident=9), upstream)
    assert parse(hit).rcode() == rcode and ttls(hit) == [1]
    assert cache.metric("coredns_cache_hits_total", type="denial") == 1
    assert cache.metric("coredns_cache_entries", type="denial") == 1
    clock.advance(1)
    await cache.ask(request("nope.example.org"), upstream)
    assert upstream.calls == 2


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        pytest.param("cache", 5.0, id="default-5s"),
        pytest.param("cache {\n    servfail 30s\n}", 30.0, id="servfail-30s"),
        pytest.param("cache {\n    servfail 0\n}", 0.0, id="servfail-off"),
    ],
)
async def test_servfail_cached_for_servfail_duration(
    clock: FakeClock, text: str, kept: float
) -> None:
    cache = Cache(text, clock)
    upstream = Scripted(servfail())
    await cache.ask(request(WWW), upstream)
    clock.advance(max(kept - 0.5, 0))
    hit = await cache.ask(request(WWW), upstream)
    assert hit.answer is not None and hit.answer.rcode == Rcode.SERVFAIL
    assert upstream.calls == (1 if kept else 2)
    clock.advance(0.5)
    await cache.ask(request(WWW), upstream)
    assert upstream.calls == (2 if kept else 3)


@pytest.mark.parametrize(
    ("step", "drops"),  # drops counts each reply not kept for being malformed or mismatched
    [
        pytest.param(
            wire_of([f"{WWW}. 300 IN A 192.0.2.1"], flags=dns.flags.RA | dns.flags.TC),
            0,
            id="truncated",
        ),
        pytest.param(wire_of(rcode=dns.rcode.REFUSED), 0, id="refused"),
        pytest.param(wire_of(rcode=dns.rcode.FORMERR), 0, id="formerr"),
        pytest.param(wire_of(rcode=dns.rcode.NXDOMAIN), 0, id="nxdomain-without-soa"),
        pytest.param(
            wire_of(["other.example.net. 300 IN A 192.0.2.1"], name="other.example.net"),
            2,
            id="other-question",
        ),
        pytest.param(Response("forward", wire=b"\x00\x01\x81\x80junk"), 2, id="malformed"),
    ],
)
async def test_not_cached(clock: FakeClock, step: Script | Response, drops: int) -> None:
    cache = Cache("cache", clock)
    upstream = Scripted(step)
    first = await cache.ask(request(WWW), upstream)
    await cache.ask(request(WWW), upstream)
    assert upstream.calls == 2
    assert cache.metric("coredns_cache_drops_total") == drops
    assert first.wire is not None


async def test_malformed_reply_passes_through_unchanged(clock: FakeClock) -> None:
    junk = Response("forward", wire=b"\x00\x01\x81\x80junk")
    assert await Cache("cache", clock).ask(request(WWW), Scripted(junk)) is junk


@pytest.mark.parametrize(
    ("name", "step", "cached"),
    [
        pytest.param(WEB, kubernetes(), False, id="cluster-success"),
        pytest.param("nope.cluster.local.", kubernetes_nxdomain(), False, id="cluster-denial"),
        pytest.param(WWW, a("192.0.2.1"), True, id="elsewhere-cached"),
    ],
)
async def test_kubeadm_disable(
    clock: FakeClock, name: str, step: Script | Response, cached: bool
) -> None:
    cache = Cache(KUBEADM, clock)
    upstream = Scripted(step)
    first = await cache.ask(request(name), upstream)
    await cache.ask(request(name), upstream)
    assert upstream.calls == (1 if cached else 2)
    if isinstance(step, Response):
        # Passed on as it came, so the server may still pre-encode it; each pre-encoded copy
        # served counts what this query counted (a request and a miss), as CoreDNS would.
        assert replace(first, on_hit=None) == step
        assert first.on_hit is not None
        requests = cache.metric("coredns_cache_requests_total")
        first.on_hit()
        assert cache.metric("coredns_cache_requests_total") == requests + 1


@pytest.mark.parametrize(
    ("name", "step"),
    [
        pytest.param(WEB, kubernetes(ttl=3600), id="success"),
        pytest.param("nope.cluster.local.", kubernetes_nxdomain(), id="denial"),
    ],
)
async def test_names_kept_out_of_both_caches_are_still_counted_and_capped(
    clock: FakeClock, name: str, step: Response
) -> None:
    # CoreDNS counts such a query as a request and a miss, and caps its TTLs all the same.
    cache = Cache(KUBEADM, clock)
    upstream = Scripted(step)
    for _ in range(2):
        response = await cache.ask(request(name), upstream)
        assert response.answer is not None
        records = response.answer.answer + response.answer.authority
        assert records and all(record.ttl <= 30 for record in records)
    assert cache.metric("coredns_cache_requests_total") == 2
    assert cache.metric("coredns_cache_misses_total") == 2
    assert len(cache.plugin.success) == len(cache.plugin.denial) == 0


async def test_disable_denial_still_caches_success(clock: FakeClock) -> None:
    cache = Cache("cache {\n    disable denial example.org\n}", clock)
    upstream = Scripted(wire_of([], [SOA], rcode=dns.rcode.NXDOMAIN))
    await cache.ask(request("nope.example.org"), upstream)
    await cache.ask(request("nope.example.org"), upstream)
    assert upstream.calls == 2
    found = Scripted(a("192.0.2.1"))
    await cache.ask(request(WWW), found)
    await cache.ask(request(WWW), found)
    assert found.calls == 1


async def test_structured_answer_hit_decrements_ttl(clock: FakeClock) -> None:
    cache = Cache("cache", clock)
    original = kubernetes(ttl=30)
    upstream = Scripted(original)
    assert await cache.ask(request(WEB), upstream) is original
    clock.advance(10)
    hit = await cache.ask(request(WEB), upstream)
    assert upstream.calls == 1
    assert hit.answer is not None
    assert [r.zone_line() for r in hit.answer.answer] == [f"{WEB} 20 IN A 10.0.0.7"]
    assert hit.answer.authoritative and hit.plugin == "cache"
    # The server may pre-encode the hit only until its TTL next counts down.
    assert hit.cacheable and hit.ttl is not None and 0 < hit.ttl <= 1.0


@pytest.mark.parametrize(
    ("text", "after", "kept_for"),
    [
        pytest.param("cache", 10.0, 1.0, id="stored-on-a-whole-second"),
        pytest.param("cache", 10.25, 0.75, id="until-the-next-whole-second"),
        pytest.param("cache {\n    prefetch 2\n}", 10.0, None, id="prefetch-must-see-hits"),
        pytest.param("cache {\n    serve_stale\n}", 10.0, None, id="serve-stale-must-see-hits"),
    ],
)
async def test_hits_say_how_long_a_pre_encoded_copy_stays_true(
    clock: FakeClock, text: str, after: float, kept_for: float | None
) -> None:
    cache = Cache(text, clock)
    upstream = Scripted(kubernetes(ttl=30))
    await cache.ask(request(WEB), upstream)
    clock.advance(after)
    hit = await cache.ask(request(WEB), upstream)
    assert hit.cacheable is (kept_for is not None)
    assert hit.ttl == kept_for
    if kept_for is not None:
        assert hit.on_hit is not None
        before = cache.metric("coredns_cache_hits_total", type="success")
        hit.on_hit()  # what the server calls for each pre-encoded copy it serves
        assert cache.metric("coredns_cache_hits_total", type="success") == before + 1


async def test_structured_answer_capped_keeps_cacheable(clock: FakeClock) -> None:
    cache = Cache("cache 10", clock)
    first = await cache.ask(request(WEB), Scripted(kubernetes(ttl=30)))
    assert first.answer is not None and ttls(first) == [10]
    assert first.cacheable and first.scope == "prod/web" and first.plugin == "kubernetes"


async def test_capacity_evicts_least_recently_used_and_counts(clock: FakeClock) -> None:
    cache = Cache("cache {\n    success 2\n}", clock)
    upstream = Scripted(lambda query: a("192.0.2.1", name=query.name.rstrip("."))(query))
    for name in ("a.example.org", "b.example.org", "c.example.org"):
        await cache.ask(request(name), upstream)
    assert cache.metric("coredns_cache_evictions_total", type="success") == 1
    assert cache.metric("coredns_cache_entries", type="success") == 2
    await cache.ask(request("c.example.org"), upstream)
    assert upstream.calls == 3
    await cache.ask(request("a.example.org"), upstream)
    assert upstream.calls == 4
    assert cache.metric("coredns_cache_evictions_total", type="success") == 2
    assert cache.metric("coredns_cache_evictions_total", type="denial") == 0


async def test_prefetch_refreshes_a_popular_entry_in_the_background(clock: FakeClock) -> None:
    cache = Cache("cache {\n    prefetch 2 10m 10%\n}", clock)
    upstream = Scripted(a("192.0.2.1", ttl=100), a("192.0.2.2", ttl=100))
    await cache.ask(request(WWW), upstream)
    clock.advance(50)
    await cache.ask(request(WWW), upstream)  # one hit: not popular yet, and 50s left
    clock.advance(41)
    served = await cache.ask(request(WWW), upstream)  # two hits, 9s left <= 10% of 100s
    assert addresses(served) == ["192.0.2.1"] and ttls(served) == [9]
    await asyncio.wait_for(cache.plugin.settle(), 1)
    assert upstream.calls == 2
    assert upstream.requests[1].protocol == "tcp"
    assert cache.metric("coredns_cache_prefetch_total") == 1
    clock.advance(1)
    fresh = await cache.ask(request(WWW), upstream)
    assert addresses(fresh) == ["192.0.2.2"] and ttls(fresh) == [99]
    assert upstream.calls == 2


async def test_prefetch_waits_for_popularity(clock: FakeClock) -> None:
    cache = Cache("cache {\n    prefetch 3 10m 10%\n}", clock)
    upstream = Scripted(a("192.0.2.1", ttl=100))
    await cache.ask(request(WWW), upstream)
    clock.advance(50)
    await cache.ask(request(WWW), upstream)
    clock.advance(45)
    await cache.ask(request(WWW), upstream)
    await asyncio.wait_for(cache.plugin.settle(), 1)
    assert upstream.calls == 1
    assert cache.metric("coredns_cache_prefetch_total") == 0


async def test_serve_stale_serves_ttl_zero_then_refreshes(clock: FakeClock) -> None:
    cache = Cache("cache {\n    serve_stale 1h\n}", clock)
    upstream = Scripted(a("192.0.2.1", ttl=10), a("192.0.2.2", ttl=10))
    await cache.ask(request(WWW), upstream)
    clock.advance(30)
    stale = await cache.ask(request(WWW), upstream)
    assert addresses(stale) == ["192.0.2.1"] and ttls(stale) == [0]
    assert cache.metric("coredns_cache_served_stale_total") == 1
    await asyncio.wait_for(cache.plugin.settle(), 1)
    assert upstream.calls == 2
    fresh = await cache.ask(request(WWW), upstream)
    assert addresses(fresh) == ["192.0.2.2"] and ttls(fresh) == [10]
    assert cache.metric("coredns_cache_prefetch_total") == 1


async def test_serve_stale_ends_after_its_duration(clock: FakeClock) -> None:
    cache = Cache("cache {\n    serve_stale 1m\n}", clock)
    upstream = Scripted(a("192.0.2.1", ttl=10), a("192.0.2.2", ttl=10))
    await cache.ask(request(WWW), upstream)
    clock.advance(70)
    fresh = await cache.ask(request(WWW), upstream)
    assert addresses(fresh) == ["192.0.2.2"] and upstream.calls == 2
    assert cache.metric("coredns_cache_served_stale_total") == 0


async def test_serve_stale_verify_serves_stale_when_upstream_fails(clock: FakeClock) -> None:
    cache = Cache("cache {\n    serve_stale 1h verify\n}", clock)
    upstream = Scripted(a("192.0.2.1", ttl=10), servfail())
    await cache.ask(request(WWW), upstream)
    clock.advance(30)
    stale = await cache.ask(request(WWW), upstream)
    assert upstream.calls == 2  # asked first, in line
    assert addresses(stale) == ["192.0.2.1"] and ttls(stale) == [0]
    clock.advance(1)
    await cache.ask(request(WWW), upstream)
    assert upstream.calls == 3  # the SERVFAIL was not kept
    assert cache.metric("coredns_cache_served_stale_total") == 2


async def test_serve_stale_verify_serves_the_refreshed_answer(clock: FakeClock) -> None:
    cache = Cache("cache {\n    serve_stale 1h verify\n}", clock)
    upstream = Scripted(a("192.0.2.1", ttl=10), a("192.0.2.2", ttl=10))
    await cache.ask(request(WWW), upstream)
    clock.advance(30)
    fresh = await cache.ask(request(WWW), upstream)
    assert addresses(fresh) == ["192.0.2.2"] and ttls(fresh) == [10]
    assert cache.metric("coredns_cache_served_stale_total") == 0
    await cache.ask(request(WWW), upstream)
    assert upstream.calls == 2


async def test_failed_refresh_keeps_serving_stale(clock: FakeClock) -> None:
    cache = Cache("cache {\n    serve_stale 1h\n}", clock)
    upstream = Scripted(a("192.0.2.1", ttl=10), RuntimeError("upstream exploded"))
    await cache.ask(request(WWW), upstream)
    clock.advance(30)
    await cache.ask(request(WWW), upstream)
    await asyncio.wait_for(cache.plugin.settle(), 1)
    assert cache.plugin.failed_refreshes == 1
    stale = await cache.ask(request(WWW), upstream)
    assert addresses(stale) == ["192.0.2.1"] and ttls(stale) == [0]


async def test_cached_servfail_does_not_shadow_a_stale_answer(clock: FakeClock) -> None:
    cache = Cache("cache {\n    serve_stale 1h\n}", clock)
    upstream = Scripted(a("192.0.2.1", ttl=10), servfail())
    await cache.ask(request(WWW), upstream)
    clock.advance(30)
    await cache.ask(request(WWW), upstream)
    await asyncio.wait_for(cache.plugin.settle(), 1)
    assert cache.metric("coredns_cache_entries", type="denial") == 1  # the refresh's SERVFAIL
    clock.advance(1)
    stale = await cache.ask(request(WWW), upstream)
    assert addresses(stale) == ["192.0.2.1"] and ttls(stale) == [0]


async def test_keepttl_serves_the_original_ttl(clock: FakeClock) -> None:
    cache = Cache("cache {\n    keepttl\n}", clock)
    upstream = Scripted(a("192.0.2.1", ttl=300))
    await cache.ask(request(WWW), upstream)
    clock.advance(100)
    assert ttls(await cache.ask(request(WWW), upstream)) == [300]
    assert upstream.calls == 1


async def test_opt_follows_each_query(clock: FakeClock) -> None:
    cache = Cache("cache", clock)
    upstream = Scripted(a("192.0.2.1"))
    first = await cache.ask(request(WWW, edns=True), upstream)
    assert parse(first).edns == 0
    plain = parse(await cache.ask(request(WWW), upstream))
    assert plain.edns == -1 and plain.additional == []
    with_edns = parse(await cache.ask(request(WWW, edns=True), upstream))
    assert with_edns.edns == 0 and with_edns.payload == 1232
    assert not with_edns.ednsflags & dns.flags.DO
    assert upstream.calls == 1
    await cache.ask(request(WWW, do=True), upstream)  # a miss: DO is part of the key
    dnssec = parse(await cache.ask(request(WWW, do=True), upstream))
    assert dnssec.ednsflags & dns.flags.DO
    assert upstream.calls == 2


@pytest.mark.parametrize(
    ("second", "ad"),
    [
        pytest.param(request(WWW), False, id="cleared"),
        pytest.param(request(WWW, ad=True), True, id="kept-when-asked-with-ad"),
    ],
)
async def test_ad_bit(clock: FakeClock, second: Request, ad: bool) -> None:
    cache = Cache("cache", clock)
    flags = dns.flags.RA | dns.flags.AD
    upstream = Scripted(wire_of([f"{WWW}. 300 IN A 192.0.2.1"], flags=flags))
    first = parse(await cache.ask(request(WWW), upstream))
    assert not first.flags & dns.flags.AD
    hit = parse(await cache.ask(second, upstream))
    assert bool(hit.flags & dns.flags.AD) == ad
    assert hit.flags & dns.flags.RA and hit.flags & dns.flags.RD


async def test_names_outside_the_zones_pass_by(clock: FakeClock) -> None:
    cache = Cache("cache example.org", clock)
    upstream = Scripted(lambda query: a("192.0.2.1", name=query.name.rstrip("."))(query))
    await cache.ask(request("www.example.net"), upstream)
    await cache.ask(request("www.example.net"), upstream)
    assert upstream.calls == 2
    assert cache.metric("coredns_cache_requests_total") == 0
    await cache.ask(request(WWW), upstream)
    await cache.ask(request(WWW), upstream)
    assert upstream.calls == 3


async def test_several_blocks_share_the_metric_families(clock: FakeClock) -> None:
    shared = Shared()
    first = Cache("cache", clock, shared=shared)
    second = Cache(
        "cache",
        clock,
        "example.org example.net",
        ("example.org.", "example.net."),
        first.registry,
        shared,
    )
    await second.ask(request(WWW), Scripted(a("192.0.2.1")))
    assert second.metric("coredns_cache_requests_total") == 1
    assert second.plugin.config.zones_label == "example.org.,example.net."
    assert first.metric("coredns_cache_requests_total") == 0


async def test_stop_cancels_refreshes_in_flight(clock: FakeClock) -> None:
    cache = Cache("cache {\n    serve_stale 1h\n}", clock)
    release = asyncio.Event()
    calls: list[Request] = []

    async def slow(request: Request) -> Response:
        calls.append(request)
        if len(calls) > 1:
            await release.wait()
        return a("192.0.2.1", ttl=10)(request.query)

    await cache.ask(request(WWW), slow)
    clock.advance(30)
    await cache.ask(request(WWW), slow)
    await asyncio.sleep(0)  # let the refresh start and block
    assert len(calls) == 2
    await asyncio.wait_for(cache.plugin.stop(), 1)
    await asyncio.wait_for(cache.plugin.settle(), 1)


async def test_refreshes_are_bounded(clock: FakeClock) -> None:
    cache = Cache("cache {\n    serve_stale 1h\n}", clock)
    release = asyncio.Event()
    calls: list[Request] = []

    async def slow(request: Request) -> Response:
        calls.append(request)
        if request.protocol == "tcp":
            await release.wait()
        return a("192.0.2.1", ttl=10, name=request.query.name.rstrip("."))(request.query)

    names = [f"n{i}.example.org" for i in range(MAX_REFRESHES + 1)]
    for name in names:
        await cache.ask(request(name), slow)
    clock.advance(30)
    for name in names:
        await cache.ask(request(name), slow)
        await cache.ask(request(name), slow)  # one refresh per key, however often asked
    assert cache.plugin.skipped_refreshes == 2
    release.set()
    await asyncio.wait_for(cache.plugin.settle(), 1)
    assert len(calls) == 2 * len(names) - 1


@pytest.mark.parametrize(
    ("corefile", "kept"),
    [
        pytest.param(KUBEADM, True, id="names-never-kept-pass-the-claim-on"),
        pytest.param("cache 30", False, id="names-kept-drop-it"),
        pytest.param(
            KUBEADM.replace("cache 30", "cache 30 cluster.local r9.web.prod.svc.cluster.local"),
            False,
            id="a-zone-below-the-parent-drops-it",
        ),
    ],
)
async def test_a_family_claim_survives_only_where_no_sibling_would_get_an_entry(
    clock: FakeClock, corefile: str, kept: bool
) -> None:
    # With the name error kept, CoreDNS would make one entry (and count one miss) per sibling
    # name: each sibling must come through the cache, not share a stored answer.
    claim = Family("web.prod.svc.cluster.local.", frozenset().__contains__, "prod/web")
    step = replace(kubernetes_nxdomain(), family=claim)
    response = await Cache(corefile, clock).ask(request("r1." + WEB), Scripted(step))
    assert (response.family is claim) == kept
