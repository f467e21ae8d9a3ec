"""Round-robin order of a section: CoreDNS's grouping, rotated by turn."""

import pytest

from clusterdns.dns.records import Address, Answer, Rcode, Record, RType, Srv, Target
from clusterdns.plugins.loadbalance.rotate import Plan, balance_answer, balances, plan, varies

A, AAAA, CNAME, MX, SRV, TXT = 1, 28, 5, 15, 33, 16


@pytest.mark.parametrize(
    ("types", "turn", "expected"),
    [
        pytest.param([], 3, Plan((), False), id="empty"),
        pytest.param([A], 3, Plan((0,), False), id="one"),
        pytest.param([A, A, A], 0, Plan((0, 1, 2), True), id="turn-0"),
        pytest.param([A, A, A], 1, Plan((1, 2, 0), True), id="turn-1"),
        pytest.param([A, A, A], 5, Plan((2, 0, 1), True), id="turn-wraps"),
        pytest.param([AAAA, AAAA], 1, Plan((1, 0), True), id="aaaa"),
        pytest.param([A, AAAA], 1, Plan((1, 0), True), id="a-and-aaaa-one-group"),
        pytest.param([CNAME, A, A], 1, Plan((0, 2, 1), True), id="cname-stays-first"),
        pytest.param([A, CNAME, A], 0, Plan((1, 0, 2), True), id="cname-moves-first"),
        pytest.param([A, CNAME], 0, Plan((1, 0), False), id="cname-first-no-rotation"),
        pytest.param([TXT, A, A, CNAME], 1, Plan((3, 0, 2, 1), True), id="cname-rest-addresses"),
        pytest.param([MX, MX, A], 1, Plan((2, 1, 0), True), id="mx-last"),
        pytest.param([SRV, SRV, SRV], 1, Plan((0, 1, 2), False), id="srv-untouched"),
    ],
)
def test_plan(types: list[int], turn: int, expected: Plan) -> None:
    assert plan(types, turn) == expected


def a(name: str, address: str) -> Record:
    """An A record."""
    return Record(name, RType.A, 30, Address(address))


WEB = "web.default.svc.cluster.local."


def lines(records: tuple[Record, ...]) -> list[str]:
    """Zone-file lines."""
    return [record.zone_line() for record in records]


def test_balance_answer_rotates_every_section_as_coredns() -> None:
    srv = Record(WEB, RType.SRV, 30, Srv(0, 50, 80, "a.web.default.svc.cluster.local."))
    answer = Answer(
        Rcode.NOERROR,
        (srv,),
        additional=(a("a." + WEB, "10.0.0.1"), a("b." + WEB, "10.0.0.2")),
        authoritative=True,
    )
    assert varies(answer)
    turned = balance_answer(answer, 1)
    assert turned.answer == (srv,)
    assert lines(turned.additional) == [
        f"b.{WEB} 30 IN A 10.0.0.2",
        f"a.{WEB} 30 IN A 10.0.0.1",
    ]
    assert turned.authoritative


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(Answer(Rcode.NOERROR, (a(WEB, "10.0.0.1"),)), False, id="one-address"),
        pytest.param(
            Answer(Rcode.NOERROR, (a(WEB, "10.0.0.1"), a(WEB, "10.0.0.2"))), True, id="two"
        ),
        pytest.param(
            Answer(
                Rcode.NOERROR,
                (Record("x.", RType.CNAME, 30, Target(WEB)), a(WEB, "10.0.0.1")),
            ),
            False,
            id="cname-and-one",
        ),
    ],
)
def test_varies(answer: Answer, expected: bool) -> None:
    assert varies(answer) is expected


@pytest.mark.parametrize(
    ("qtype", "rcode", "expected"),
    [
        pytest.param(A, 0, True, id="noerror"),
        pytest.param(A, 3, False, id="nxdomain"),
        pytest.param(A, 2, False, id="servfail"),
        pytest.param(252, 0, False, id="axfr"),
        pytest.param(251, 0, False, id="ixfr"),
    ],
)
def test_balances(qtype: int, rcode: int, expected: bool) -> None:
    assert balances(qtype, rcode) is expected
