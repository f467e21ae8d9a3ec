"""The `loadbalance` handler: rotation over queries, for structured answers and reply bytes."""

import asyncio
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from clusterdns.dns.records import Address, Answer, Rcode, Record, RType, Soa, Target, Txt
from clusterdns.dns.wire import walk
from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.loadbalance.handler import LoadBalanceHandler
from tests.fakes.executor import GatedExecutor
from tests.plugins.loadbalance.conftest import build_request
from tests.plugins.loadbalance.wirebuild import QUESTION_NAME, message, name, pointer, rr

WEB = "web.default.svc.cluster.local."


def address(owner: str, text: str) -> Record:
    """An A or AAAA record."""
    return Record(owner, RType.AAAA if ":" in text else RType.A, 30, Address(text))


def answering(response: Response) -> Next:
    """A `next` that always answers `response`."""

    async def serve(request: Request) -> Response:
        return response

    return serve


async def ask(handler: LoadBalanceHandler, request: Request, response: Response) -> Response:
    """One query through the handler."""
    return await handler.serve(request, answering(response))


def lines(answer: Answer | None) -> list[str]:
    """The answer section as zone-file lines."""
    assert answer is not None
    return [record.zone_line() for record in answer.answer]


THREE_SECOND = address(WEB, "10.0.0.2")
THREE = Response(
    "kubernetes",
    answer=Answer(
        Rcode.NOERROR,
        (address(WEB, "10.0.0.1"), THREE_SECOND, address(WEB, "10.0.0.3")),
        authoritative=True,
    ),
    cacheable=True,
    scope="default/web",
)


async def test_structured_answers_rotate_one_step_per_query() -> None:
    handler = LoadBalanceHandler()
    request = build_request(WEB)
    orders = []
    for _ in range(4):
        response = await ask(handler, request, THREE)
        orders.append([line.rsplit(" ", 1)[1] for line in lines(response.answer)])
        # The next orders ride along: the server pre-encodes them all and serves them in turn.
        assert [[line.rsplit(" ", 1)[1] for line in lines(r)] for r in response.rotations] == [
            orders[-1][k:] + orders[-1][:k] for k in (1, 2)
        ]
        assert response.scope == "default/web"
        assert response.answer is not None and response.answer.authoritative
    assert orders == [
        ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
        ["10.0.0.2", "10.0.0.3", "10.0.0.1"],
        ["10.0.0.3", "10.0.0.1", "10.0.0.2"],
        ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
    ]


async def test_each_question_has_its_own_turn() -> None:
    # Clients ask A and AAAA in pairs; a shared counter would give each only every other turn.
    v6 = Response(
        "kubernetes",
        answer=Answer(Rcode.NOERROR, (address(WEB, "fd00::1"), address(WEB, "fd00::2"))),
    )
    v4 = Response(
        "kubernetes", answer=Answer(Rcode.NOERROR, (address(WEB, "10.0.0.1"), THREE_SECOND))
    )
    handler = LoadBalanceHandler()
    firsts = []
    for _ in range(2):
        for qtype, response in (("A", v4), ("AAAA", v6)):
            reply = await ask(handler, build_request(WEB, qtype), response)
            firsts.append(lines(reply.answer)[0].rsplit(" ", 1)[1])
    assert firsts == ["10.0.0.1", "fd00::1", "10.0.0.2", "fd00::2"]


async def test_cname_goes_first_and_addresses_rotate_behind_it() -> None:
    cname = Record("www.example.org.", RType.CNAME, 30, Target(WEB))
    response = Response(
        "kubernetes",
        answer=Answer(Rcode.NOERROR, (address(WEB, "10.0.0.1"), cname, address(WEB, "10.0.0.2"))),
    )
    handler = LoadBalanceHandler()
    request = build_request("www.example.org.")
    first = await ask(handler, request, response)
    second = await ask(handler, request, response)
    assert lines(first.answer) == [
        f"www.example.org. 30 IN CNAME {WEB}",
        f"{WEB} 30 IN A 10.0.0.1",
        f"{WEB} 30 IN A 10.0.0.2",
    ]
    assert lines(second.answer) == [
        f"www.example.org. 30 IN CNAME {WEB}",
        f"{WEB} 30 IN A 10.0.0.2",
        f"{WEB} 30 IN A 10.0.0.1",
    ]


SOA = Record("cluster.local.", RType.SOA, 30, Soa("ns.", "hm.", 1, 2, 3, 4, 30))


@pytest.mark.parametrize(
    ("qtype", "response"),
    [
        pytest.param(
            "A",
            Response(
                "k", answer=Answer(Rcode.NOERROR, (address(WEB, "10.0.0.1"),)), cacheable=True
            ),
            id="one-address-stays-cacheable",
        ),
        pytest.param(
            "A", Response("k", answer=Answer(Rcode.NXDOMAIN, authority=(SOA,))), id="nxdomain"
        ),
        pytest.param("AXFR", THREE, id="transfer"),
        pytest.param("A", Response("k"), id="empty-response"),
        pytest.param("A", Response("forward", wire=b"\x00\x01garbage"), id="garbage-wire"),
    ],
)
async def test_left_alone(qtype: str, response: Response) -> None:
    handler = LoadBalanceHandler()
    for _ in range(2):
        assert await ask(handler, build_request(WEB, qtype), response) is response


async def test_cname_first_alone_keeps_an_answer_cacheable() -> None:
    cname = Record("www.example.org.", RType.CNAME, 30, Target(WEB))
    response = Response(
        "k",
        answer=Answer(Rcode.NOERROR, (address(WEB, "10.0.0.1"), cname)),
        cacheable=True,
    )
    balanced = await ask(LoadBalanceHandler(), build_request("www.example.org."), response)
    assert balanced.cacheable is True
    assert [r.rtype for r in balanced.answer.answer] == [RType.CNAME, RType.A]  # type: ignore[union-attr]


def rrset(line: str) -> dns.rrset.RRset:
    """An RRset from `owner ttl class type rdata...` with several rdatas separated by commas."""
    owner, ttl, rdclass, rdtype, data = line.split(maxsplit=4)
    return dns.rrset.from_text(owner, int(ttl), rdclass, rdtype, *data.split(","))


def forwarded(qname: str, *rrsets: str, rcode: int = 0) -> Response:
    """A foreign reply (dnspython-encoded, compressed) to `qname` A with EDNS."""
    query = dns.message.make_query(qname, "A", use_edns=0)
    query.id = 4242
    reply = dns.message.make_response(query)
    reply.set_rcode(dns.rcode.Rcode(rcode))
    for line in rrsets:
        reply.answer.append(rrset(line))
    return Response("forward", wire=reply.to_wire())


def texts(wire: bytes | None) -> list[str]:
    """The answer section of `wire` as `TYPE data` strings, parsed by dnspython."""
    assert wire is not None
    parsed = dns.message.from_wire(wire)
    return [
        f"{dns.rdatatype.to_text(rdataset.rdtype)} {rdata}"
        for rdataset in parsed.answer
        for rdata in rdataset
    ]


def rotations(items: list[str], count: int) -> list[list[str]]:
    """`items` rotated left by 0, 1, ... `count - 1` steps."""
    return [items[i % len(items) :] + items[: i % len(items)] for i in range(count)]


async def test_wire_replies_rotate_one_step_per_query() -> None:
    response = forwarded("web.example.org.", "web.example.org. 30 IN A 10.0.0.1,10.0.0.2,10.0.0.3")
    original = texts(response.wire)  # dnspython's own order of the three
    assert sorted(original) == ["A 10.0.0.1", "A 10.0.0.2", "A 10.0.0.3"]
    handler = LoadBalanceHandler()
    request = build_request("web.example.org.")
    seen = [texts((await ask(handler, request, response)).wire) for _ in range(4)]
    assert seen == rotations(original, 4)


async def test_wire_cname_chain_rotates_behind_the_cname() -> None:
    # dnspython writes each A owner as a pointer into the CNAME's data, which does not move.
    response = forwarded(
        "www.example.org.",
        "www.example.org. 30 IN CNAME web.example.org.",
        "web.example.org. 30 IN A 10.0.0.1,10.0.0.2,10.0.0.3",
    )
    cname, *addresses = texts(response.wire)
    assert cname == "CNAME web.example.org."
    walked = walk(response.wire or b"")
    cname_record = walked.records[0]
    assert any(cname_record.start < target < cname_record.end for target in walked.pointers)
    handler = LoadBalanceHandler()
    request = build_request("www.example.org.")
    seen = [texts((await ask(handler, request, response)).wire) for _ in range(3)]
    assert seen == [[cname, *turned] for turned in rotations(addresses, 3)]
    assert dns.message.from_wire(response.wire or b"").opt is not None


A_OWNED_BY_QUESTION = rr(pointer(QUESTION_NAME), 1, bytes([10, 0, 0, 1]))
ANSWERS_AT = 12 + 13 + 4  # header, example.org., type and class


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param(
            # The second owner points at the first record, which moves.
            message(
                [
                    rr(name("a", then=pointer(QUESTION_NAME)), 1, bytes([10, 0, 0, 1])),
                    rr(pointer(ANSWERS_AT), 1, bytes([10, 0, 0, 2])),
                ]
            ),
            id="pointer-into-a-moving-record",
        ),
        pytest.param(
            # An authority name points into the answer section.
            message(
                [A_OWNED_BY_QUESTION, rr(name("b", then=pointer(12)), 1, bytes([10, 0, 0, 2]))],
                authority=[rr(pointer(QUESTION_NAME), 2, pointer(ANSWERS_AT + 16))],
            ),
            id="authority-points-into-answers",
        ),
        pytest.param(
            # A pointer to a byte that begins no name or label: the zero of the question's type.
            message(
                [A_OWNED_BY_QUESTION, A_OWNED_BY_QUESTION],
                authority=[rr(pointer(QUESTION_NAME), 2, pointer(QUESTION_NAME + 13))],
            ),
            id="pointer-inside-a-label",
        ),
        pytest.param(
            message([A_OWNED_BY_QUESTION, A_OWNED_BY_QUESTION], flags=0x8183),
            id="nxdomain",
        ),
    ],
)
async def test_unsafe_or_unbalanced_wire_is_left_alone(wire: bytes) -> None:
    dns.message.from_wire(wire)  # a valid message, that a reorder would break or should not touch
    response = Response("forward", wire=wire)
    handler = LoadBalanceHandler()
    for _ in range(2):
        assert await ask(handler, build_request("example.org."), response) is response


async def test_safe_wire_built_by_hand_rotates() -> None:
    second = rr(pointer(QUESTION_NAME), 1, bytes([10, 0, 0, 2]))
    wire = message([A_OWNED_BY_QUESTION, second])
    handler = LoadBalanceHandler()
    request = build_request("example.org.")
    assert (await ask(handler, request, Response("f", wire=wire))).wire == wire
    assert (await ask(handler, request, Response("f", wire=wire))).wire == message(
        [second, A_OWNED_BY_QUESTION]
    )


def _many_addresses() -> Response:
    """A kubernetes answer of 400 A records for WEB: big enough to be reordered off the loop."""
    records = tuple(address(WEB, f"10.1.{i // 256}.{i % 256}") for i in range(400))
    answer = Answer(Rcode.NOERROR, records, authoritative=True)
    return Response("kubernetes", answer=answer, cacheable=True)


async def test_big_answers_cycle_through_a_few_orders_made_once() -> None:
    handler = LoadBalanceHandler()
    request = build_request(WEB)
    many = _many_addresses()
    served = [await ask(handler, request, many) for _ in range(8)]
    firsts = [lines(r.answer)[0] for r in served]
    # Four orders a quarter of the records apart, in turn; the same objects the second time.
    assert firsts[:4] == [f"{WEB} 30 IN A 10.1.{k // 256}.{k % 256}" for k in (0, 100, 200, 300)]
    assert all(a.answer is b.answer for a, b in zip(served[:4], served[4:], strict=True))
    assert sorted(lines(served[1].answer)) == sorted(lines(many.answer))
    assert len(served[0].rotations) == 3


async def test_big_answers_get_their_orders_made_off_the_loop() -> None:
    """The query waits (the loop serves others) until a worker thread has made the orders."""
    loop = asyncio.get_running_loop()
    handed_over = asyncio.Event()
    gated = GatedExecutor(on_submit=handed_over.set)
    loop.set_default_executor(gated)
    try:
        handler = LoadBalanceHandler()
        many = _many_addresses()
        first = asyncio.ensure_future(ask(handler, build_request(WEB), many))
        second = asyncio.ensure_future(ask(handler, build_request(WEB), many))
        await asyncio.wait_for(handed_over.wait(), 5.0)
        assert not first.done() and not second.done() and gated.count == 1  # one shared run
        gated.gate.set()
        served = await asyncio.wait_for(asyncio.gather(first, second), 5.0)
        assert [lines(r.answer)[0] for r in served] == [
            f"{WEB} 30 IN A 10.1.0.0",
            f"{WEB} 30 IN A 10.1.0.100",
        ]
        assert threading.get_ident() not in gated.threads
    finally:
        gated.gate.set()


async def test_a_big_answer_that_does_not_rotate_is_passed_on_as_it_is() -> None:
    texts = tuple(
        Record(WEB, RType.TXT, 30, Txt((f"line {i}",))) for i in range(100)
    )  # not address records: one order, the answer's own
    response = Response("kubernetes", answer=Answer(Rcode.NOERROR, texts, authoritative=True))
    handler = LoadBalanceHandler()
    for _ in range(2):
        assert await ask(handler, build_request(WEB), response) is response
