"""Never-repeated names below a Service or a namespace: answered from a sibling's stored answer."""

import asyncio
from dataclasses import replace

import dns.message
import dns.rcode
import pytest

from clusterdns.chain import Chain
from clusterdns.dns.records import Answer, Rcode
from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.kubernetes.answer import changed_scopes, parse_question, sibling_family
from clusterdns.plugins.kubernetes.handler import KubernetesPlugin
from clusterdns.plugins.kubernetes.store import Changes
from clusterdns.server.dispatch import Dispatcher, ZoneChain
from clusterdns.server.hotpath import AnswerCache
from tests.conftest import plugins
from tests.server.test_dispatch import APP, CLIENT, _blocks, make, served_over_udp


class Looking:
    """A handler that passes every query on but, like `rewrite` or `hosts`, reads the name."""

    name = "looking"

    async def serve(self, request: Request, next: Next) -> Response:
        return await next(request)


def _served(dispatcher: Dispatcher, store: AnswerCache, data: bytes) -> bytes:
    """The reply a UDP listener gives: from the store, else through the dispatcher."""
    reply = asyncio.run(served_over_udp(dispatcher, store, data))
    assert reply is not None
    return reply


def _reference(data: bytes) -> bytes:
    reply = asyncio.run(Dispatcher(_blocks(APP)).handle(data, "udp", CLIENT))
    assert reply is not None
    return reply


def _primed(
    names: list[str], blocks: list[ZoneChain] | None = None
) -> tuple[Dispatcher, AnswerCache]:
    """A dispatcher and store that have answered `names` (A, no EDNS) once each."""
    dispatcher = Dispatcher(blocks or _blocks(APP), counters=APP.servers[0].counters)
    store = AnswerCache()
    for name in names:
        _served(dispatcher, store, make(name, use_edns=False))
    return dispatcher, store


@pytest.mark.parametrize(
    ("seen", "asked"),
    [
        pytest.param(
            ["r1.web.demo.svc.cluster.local.", "r2.web.demo.svc.cluster.local."],
            "R3.Web.demo.svc.cluster.local.",
            id="random-subdomain-of-a-service",
        ),
        pytest.param(
            ["zz-1.db.demo.svc.cluster.local.", "zz-2.db.demo.svc.cluster.local."],
            "db-3.db.demo.svc.cluster.local.",  # an endpoint, but not a ready one
            id="below-a-headless-service",
        ),
        pytest.param(
            ["nop1.demo.svc.cluster.local.", "nop2.demo.svc.cluster.local."],
            "nop3.demo.svc.cluster.local.",
            id="a-service-that-does-not-exist",
        ),
        pytest.param(
            ["10-244-0-1.demo.pod.cluster.local.", "10-244-0-2.demo.pod.cluster.local."],
            "10-244-7-9.demo.pod.cluster.local.",
            id="a-pod-name-with-its-own-address",
        ),
    ],
)
def test_a_new_sibling_name_is_answered_from_the_store(seen: list[str], asked: str) -> None:
    dispatcher, store = _primed(seen)
    query = make(asked, use_edns=False)
    reply = store.reply(query, 0.0)
    assert reply is not None, "a second sibling's answer serves the third"
    assert reply == _reference(query)  # its own id and letter case, the same SOA
    message = dns.message.from_wire(reply)
    assert str(message.question[0].name) == asked
    if ".pod." in asked:
        assert [rr.address for rrset in message.answer for rr in rrset] == ["10.244.7.9"]
    else:
        assert message.rcode() == dns.rcode.NXDOMAIN


@pytest.mark.parametrize(
    ("seen", "asked"),
    [
        pytest.param(
            ["zz-1.db.demo.svc.cluster.local.", "zz-2.db.demo.svc.cluster.local."],
            "db-0.db.demo.svc.cluster.local.",
            id="a-ready-endpoint",
        ),
        pytest.param(
            ["nop1.demo.svc.cluster.local.", "nop2.demo.svc.cluster.local."],
            "shop.demo.svc.cluster.local.",
            id="an-existing-service",
        ),
        pytest.param(
            ["zz-1.db.demo.svc.cluster.local.", "zz-2.db.demo.svc.cluster.local."],
            "x_y.db.demo.svc.cluster.local.",
            id="not-letters-digits-hyphens",
        ),
        pytest.param(
            ["zz-1.db.demo.svc.cluster.local.", "zz-2.db.demo.svc.cluster.local."],
            "zzz-1.db.demo.svc.cluster.local.",
            id="another-length-not-yet-made",
        ),
        pytest.param(
            ["10-244-0-1.demo.pod.cluster.local.", "10-244-0-2.demo.pod.cluster.local."],
            "fd00--1234.demo.pod.cluster.local.",  # an IPv6 pod: another record type
            id="a-pod-of-the-other-address-family",
        ),
        pytest.param(
            ["10-244-0-1.demo.pod.cluster.local.", "10-244-0-2.demo.pod.cluster.local."]
            + ["fd00--1234.demo.pod.cluster.local.", "fd00--1235.demo.pod.cluster.local."],
            "10-244-7-9.demo.pod.cluster.local.",  # the IPv6 claim replaced the IPv4 one
            id="after-a-claim-of-another-kind",
        ),
        pytest.param(
            ["10-244-0-1.demo.pod.cluster.local.", "10-244-0-2.demo.pod.cluster.local."],
            "10-244-0-x.demo.pod.cluster.local.",
            id="a-pod-label-that-is-no-address",
        ),
    ],
)
def test_names_that_may_answer_otherwise_take_the_chain(seen: list[str], asked: str) -> None:
    dispatcher, store = _primed(seen)
    query = make(asked, use_edns=False)
    assert store.reply(query, 0.0) is None
    assert _served(dispatcher, store, query) == _reference(query)


def test_a_handler_that_reads_names_keeps_every_name_on_its_own() -> None:
    blocks = [ZoneChain(b.zones, Chain([*b.chain.handlers, Looking()])) for b in _blocks(APP)]
    dispatcher, store = _primed(
        ["r1.web.demo.svc.cluster.local.", "r2.web.demo.svc.cluster.local."], blocks
    )
    assert store.reply(make("r3.web.demo.svc.cluster.local.", use_edns=False), 0.0) is None
    assert len(store) == 0


def test_any_zone_change_drops_the_siblings_answers() -> None:
    dispatcher, store = _primed(
        ["nop1.demo.svc.cluster.local.", "nop2.demo.svc.cluster.local."]
        + ["r1.web.demo.svc.cluster.local.", "r2.web.demo.svc.cluster.local."]
    )
    # A change to another Service: the SOA serial in every negative answer moves with it.
    store.invalidate(changed_scopes(Changes(frozenset({("demo", "other")}), False, False)))
    assert store.reply(make("nop3.demo.svc.cluster.local.", use_edns=False), 0.0) is None
    assert store.reply(make("r3.web.demo.svc.cluster.local.", use_edns=False), 0.0) is None
    assert len(store) == 0 and store.counted_bytes == 0


class Refusing:
    """A whole server block's chain: REFUSED for everything (another block's zone)."""

    name = "refusing"
    keeps_families = True

    async def serve(self, request: Request, next: Next) -> Response:
        return Response(self.name, answer=Answer(Rcode.REFUSED), cacheable=True)


def test_a_server_block_below_the_parent_keeps_its_names() -> None:
    inner = "r9.web.demo.svc.cluster.local."
    blocks = [*_blocks(APP), ZoneChain((inner,), Chain([Refusing()]))]
    dispatcher, store = _primed(
        ["r1.web.demo.svc.cluster.local.", "r2.web.demo.svc.cluster.local."], blocks
    )
    query = make(inner, use_edns=False)
    assert store.reply(query, 0.0) is None  # no sibling reply covers it: it is another block's
    assert dns.message.from_wire(_served(dispatcher, store, query)).rcode() == dns.rcode.REFUSED


def test_one_off_siblings_cost_no_memory_and_repeated_ones_stay_right() -> None:
    dispatcher, store = _primed(
        ["r1.web.demo.svc.cluster.local.", "r2.web.demo.svc.cluster.local."]
    )
    held = store.counted_bytes
    for i in range(100):
        label = f"{chr(ord('a') + i // 10)}{i % 10}"  # a0 ... j9: the primed names' length
        assert store.reply(make(f"{label}.web.demo.svc.cluster.local.", use_edns=False), 0.0)
    assert store.counted_bytes == held  # a flood of one-off names keeps nothing more
    again = make("c7.web.demo.svc.cluster.local.", use_edns=False)
    for _ in range(3):  # asked again: remembered by its exact bytes, the same reply
        assert store.reply(again, 0.0) == _reference(again)
    assert store.counted_bytes > held


def test_a_stored_negative_answer_goes_with_any_change_its_serial_moves_with() -> None:
    nodata = make("web.demo.svc.cluster.local.", "AAAA", use_edns=False)  # an IPv4 Service
    dispatcher, store = _primed([])
    for _ in range(2):
        _served(dispatcher, store, nodata)
    assert store.reply(nodata, 0.0) is not None
    store.invalidate(changed_scopes(Changes(frozenset({("demo", "other")}), False, False)))
    assert store.reply(nodata, 0.0) is None


@pytest.mark.parametrize(
    ("fallthrough", "claimed"),
    [
        pytest.param((), True, id="none"),
        pytest.param(("in-addr.arpa.",), True, id="elsewhere"),
        pytest.param(("web.demo.svc.cluster.local.",), True, id="the-parent-itself"),
        pytest.param(("r9.web.demo.svc.cluster.local.",), False, id="below-the-parent"),
    ],
)
def test_no_claim_when_some_siblings_fall_through(
    fallthrough: tuple[str, ...], claimed: bool
) -> None:
    (plugin,) = plugins(APP, "kubernetes")
    assert isinstance(plugin, KubernetesPlugin)
    config = replace(plugin.config, fallthrough=fallthrough)
    question = parse_question(config, "r1.web.demo.svc.cluster.local.")
    assert question is not None
    snapshot = plugin.holder.current
    family = sibling_family(snapshot, config, question, 1, Rcode.NXDOMAIN)
    assert (family is not None) == claimed


def test_a_repeated_odd_sibling_is_still_kept_as_its_own_answer() -> None:
    odd = make("x_y.web.demo.svc.cluster.local.", use_edns=False)  # no sibling reply covers it
    dispatcher, store = _primed([])
    for _ in range(2):
        _served(dispatcher, store, odd)
    assert store.reply(odd, 0.0) == _reference(odd)
