"""Encodings: a big answer's first TCP encoding is made off the loop, byte for byte the same."""

import asyncio
from dataclasses import dataclass

import dns.message
import pytest

from clusterdns.dns.message import decode_query, encode_answer
from clusterdns.dns.records import Address, Answer, Rcode, Record, RType
from clusterdns.server.encodings import OFF_LOOP_RECORDS, Encodings

WAIT = 5.0  # a safety net only
OWNER = "many.demo.svc.cluster.local."
BIG = Answer(
    Rcode.NOERROR,
    tuple(
        Record(OWNER, RType.A, 30, Address(f"10.1.{i // 256}.{i % 256}"))
        for i in range(OFF_LOOP_RECORDS + 44)
    ),
    authoritative=True,
)
SMALL = Answer(Rcode.NOERROR, BIG.answer[: OFF_LOOP_RECORDS - 1], authoritative=True)


@dataclass(frozen=True)
class Case:
    """A question to `BIG` and the size its reply may take."""

    name: str
    max_size: int
    edns: bool
    off_loop: bool  # the first encoding for this shape is made in a worker thread


CASES = [
    pytest.param(Case(OWNER, 65535, False, True), id="tcp"),
    pytest.param(Case("MANY.Demo.svc.cluster.LOCAL.", 65535, False, True), id="tcp-letter-case"),
    pytest.param(Case(OWNER, 65535, True, True), id="tcp-edns"),
    pytest.param(Case(OWNER, 1232, True, False), id="udp-edns: cut short, cheap on the loop"),
    pytest.param(Case(OWNER, 512, False, False), id="udp"),
]


def query_bytes(name: str, edns: bool, ident: int) -> bytes:
    message = dns.message.make_query(name, "A", use_edns=0 if edns else False)
    message.id = ident
    return message.to_wire()


@pytest.mark.parametrize("case", CASES)
async def test_big_answers_encode_as_without_the_memo(case: Case) -> None:
    encodings = Encodings()
    for ident in (1, 2):  # the first one makes the encoding, the second reuses it
        query = decode_query(query_bytes(case.name, case.edns, ident))
        expected = encode_answer(query, BIG, case.max_size)
        made = encodings.encode(query, BIG, case.max_size)
        if ident == 1 and case.off_loop:
            assert not isinstance(made, bytes), "the first big encoding is made off the loop"
            made = await asyncio.wait_for(made, WAIT)
        assert made == expected


async def test_concurrent_queries_share_the_encoding_and_keep_their_own_id_and_case() -> None:
    encodings = Encodings()
    queries = [
        decode_query(query_bytes(name, False, ident))
        for ident, name in enumerate((OWNER, OWNER.upper(), "Many.demo.svc.cluster.local."))
    ]
    waiting = [encodings.encode(q, BIG, 65535) for q in queries]
    assert not any(isinstance(w, bytes) for w in waiting)
    made = await asyncio.wait_for(asyncio.gather(*waiting), WAIT)  # type: ignore[arg-type]
    assert made == [encode_answer(q, BIG, 65535) for q in queries]


def test_small_answers_are_encoded_at_once() -> None:
    query = decode_query(query_bytes(OWNER, False, 1))
    assert Encodings().encode(query, SMALL, 65535) == encode_answer(query, SMALL, 65535)
