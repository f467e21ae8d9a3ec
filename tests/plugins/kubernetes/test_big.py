"""Big answers: foreseen from the slices, built off the loop once, kept while their Service is."""

import asyncio
import json
import threading
from pathlib import Path

import dns.asyncquery
import dns.message
import dns.rdatatype
import pytest

from clusterdns.dns.records import Answer, RType
from clusterdns.plugins.kubernetes.answer import changed_scopes, parse_question
from clusterdns.plugins.kubernetes.big import BIG_ANSWER, BigAnswers, may_be_big
from clusterdns.plugins.kubernetes.objects import ClusterObject, parse_object
from clusterdns.plugins.kubernetes.options import KubernetesConfig
from clusterdns.plugins.kubernetes.snapshot import ZoneSnapshot, build_snapshot
from clusterdns.plugins.kubernetes.store import ObjectStore
from clusterdns.serve_flags import ServeOptions, serve_app
from tests.fakes.executor import GatedExecutor
from tests.fakes.kube_api import Json, endpoint_slice, namespace, service
from tests.fakes.upstream import FakeUpstream

CONFIG = KubernetesConfig(zones=("cluster.local.",), ttl=30)
WAIT = 5.0  # a safety net only: every wait below ends on an event
MANY = 2000


def addresses(count: int, v6: bool = False) -> list[str]:
    if v6:
        return [f"fd00::{i // 256:x}:{i % 256 + 1:x}" for i in range(count)]
    return [f"10.{200 + i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(count)]


def raw_zone() -> list[tuple[str, Json]]:
    """(kind, raw object): headless Services of several sizes and families, and a ClusterIP."""
    return [
        ("Namespace", namespace("demo")),
        ("Service", service("many", "demo", "None")),
        ("EndpointSlice", endpoint_slice("many-1", "many", addresses(MANY), "demo")),
        ("Service", service("few", "demo", "None")),
        ("EndpointSlice", endpoint_slice("few-1", "few", addresses(BIG_ANSWER - 1), "demo")),
        ("Service", service("split", "demo", "None")),
        # 40 + 40 in two slices: big only counted together
        ("EndpointSlice", endpoint_slice("split-1", "split", addresses(40), "demo")),
        ("EndpointSlice", endpoint_slice("split-2", "split", addresses(80)[40:], "demo")),
        ("Service", service("six", "demo", "None")),
        ("EndpointSlice", endpoint_slice("six-1", "six", addresses(100, v6=True), "demo")),
        ("Service", service("web", "demo", "10.96.0.7")),
        ("EndpointSlice", endpoint_slice("web-1", "web", addresses(500), "demo")),
    ]


def objects() -> list[ClusterObject]:
    parsed = [parse_object({"kind": kind, **raw}) for kind, raw in raw_zone()]
    return [obj for obj in parsed if obj is not None]


def snapshot_of(store: ObjectStore, serial: int = 1) -> ZoneSnapshot:
    for obj in objects():
        store.apply(obj)
    store.take_changes()
    return build_snapshot(store, None, None, serial, synced=True)


@pytest.mark.parametrize(
    ("name", "qtype", "big"),
    [
        pytest.param("many.demo.svc.cluster.local.", RType.A, True, id="headless-A"),
        pytest.param("many.demo.svc.cluster.local.", RType.AAAA, False, id="headless-v4-AAAA"),
        pytest.param("many.demo.svc.cluster.local.", RType.SRV, True, id="headless-SRV"),
        pytest.param("_http._tcp.many.demo.svc.cluster.local.", RType.SRV, True, id="port-SRV"),
        pytest.param("many.demo.svc.cluster.local.", RType.TXT, False, id="headless-TXT"),
        pytest.param("10-200-0-1.many.demo.svc.cluster.local.", RType.A, False, id="endpoint"),
        pytest.param("few.demo.svc.cluster.local.", RType.A, False, id="below-the-threshold"),
        pytest.param("split.demo.svc.cluster.local.", RType.A, True, id="over-two-slices"),
        pytest.param("six.demo.svc.cluster.local.", RType.AAAA, True, id="headless-v6-AAAA"),
        pytest.param("six.demo.svc.cluster.local.", RType.A, False, id="headless-v6-A"),
        pytest.param("web.demo.svc.cluster.local.", RType.A, False, id="cluster-ip"),
        pytest.param("nothing.demo.svc.cluster.local.", RType.A, False, id="no-such-service"),
        pytest.param("demo.svc.cluster.local.", RType.A, False, id="namespace"),
    ],
)
def test_big_answers_are_foreseen_from_the_slices(name: str, qtype: int, big: bool) -> None:
    snapshot = snapshot_of(ObjectStore())
    question = parse_question(CONFIG, name)
    assert question is not None
    assert may_be_big(snapshot, question, qtype) is big


async def built_by(
    big: BigAnswers, snapshot: ZoneSnapshot, name: str = "many.demo.svc.cluster.local."
) -> Answer:
    """The answer `big` builds off the loop for `name` type A."""
    parsed = parse_question(CONFIG, name)
    assert parsed is not None
    found = big.find(snapshot, parsed, RType.A)
    assert found is not None and not isinstance(found, Answer), "not built off the loop"
    answer = await asyncio.wait_for(found, WAIT)
    assert answer is not None
    return answer


async def test_a_big_answer_is_built_in_another_thread_once_and_kept() -> None:
    snapshot = snapshot_of(ObjectStore())
    big = BigAnswers(CONFIG)
    many = parse_question(CONFIG, "many.demo.svc.cluster.local.")
    assert many is not None
    first = big.find(snapshot, many, RType.A)
    second = big.find(snapshot, many, RType.A)
    assert not isinstance(first, Answer) and first is not None
    assert not isinstance(second, Answer) and second is not None
    one, two = await asyncio.wait_for(asyncio.gather(first, second), WAIT)
    assert one is two  # one build for both askers
    assert isinstance(one, Answer) and len(one.answer) == MANY
    assert big.find(snapshot, many, RType.A) is one  # kept: a lookup from now on


async def test_only_changes_to_its_service_drop_a_kept_answer() -> None:
    store = ObjectStore()
    snapshot = snapshot_of(store)
    big = BigAnswers(CONFIG)
    many = parse_question(CONFIG, "many.demo.svc.cluster.local.")
    assert many is not None
    built = await built_by(big, snapshot)

    # Another Service changes: the answer holds for the next snapshot as it is.
    other = parse_object({"kind": "Service", **service("new", "demo", "10.96.0.9")})
    assert other is not None
    store.apply(other)
    changes = store.take_changes()
    snapshot = build_snapshot(store, snapshot, changes, 2, synced=True)
    big.published(changed_scopes(changes))
    assert big.find(snapshot, many, RType.A) is built

    # Its own slice changes: built again, with the new endpoints.
    fewer = {"kind": "EndpointSlice", **endpoint_slice("many-1", "many", addresses(100), "demo")}
    parsed = parse_object(fewer)
    assert parsed is not None
    store.apply(parsed)
    changes = store.take_changes()
    snapshot = build_snapshot(store, snapshot, changes, 3, synced=True)
    big.published(changed_scopes(changes))
    rebuilt = await built_by(big, snapshot)
    assert len(rebuilt.answer) == 100

    big.published(None)  # everything may have changed
    assert big.find(snapshot, many, RType.A) is not rebuilt


def test_nothing_is_built_off_the_loop_before_the_first_sync() -> None:
    store = ObjectStore()
    for obj in objects():
        store.apply(obj)
    unsynced = build_snapshot(store, None, None, 1, synced=False)
    many = parse_question(CONFIG, "many.demo.svc.cluster.local.")
    assert many is not None
    assert BigAnswers(CONFIG).find(unsynced, many, RType.A) is None  # SERVFAIL, made at once


def zone_file(folder: Path) -> Path:
    items = [{"apiVersion": "v1", "kind": kind, **raw} for kind, raw in raw_zone()]
    path = folder / "zone.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return path


async def test_other_queries_are_answered_while_a_big_answer_is_built(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    """A first big query over TCP waits for its worker; a small UDP query is answered meanwhile.

    Every worker thread's work is held at a gate until the small answer has arrived, so the
    order is certain: the loop served the UDP query while the big answer was not built yet.
    """
    loop = asyncio.get_running_loop()
    handed_over = asyncio.Event()
    gated = GatedExecutor(on_submit=handed_over.set)
    loop.set_default_executor(gated)
    app = serve_app(
        ServeOptions(
            manifests=(str(zone_file(tmp_path)),),
            dns_addrs=("127.0.0.1",),
            dns_port=0,
            upstreams=(upstream.address,),
        )
    )
    await app.start()
    try:
        port = app.addresses[0][1]
        big_query = dns.message.make_query("many.demo.svc.cluster.local.", "A")
        big = asyncio.ensure_future(dns.asyncquery.tcp(big_query, "127.0.0.1", port=port))
        await asyncio.wait_for(handed_over.wait(), WAIT)

        small_query = dns.message.make_query("web.demo.svc.cluster.local.", "A")
        small = await dns.asyncquery.udp(small_query, "127.0.0.1", port=port, timeout=WAIT)
        assert [str(rr) for rrset in small.answer for rr in rrset] == ["10.96.0.7"]
        assert not big.done() and not gated.threads  # nothing built yet

        gated.gate.set()
        reply = await asyncio.wait_for(big, WAIT)
        found = {rr.address for rrset in reply.answer for rr in rrset}
        assert found == set(addresses(MANY))
        assert reply.answer[0].rdtype == dns.rdatatype.A
        assert threading.get_ident() not in gated.threads  # built in a worker thread
    finally:
        gated.gate.set()
        await app.stop()
