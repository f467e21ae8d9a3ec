"""Round-robin order of one record section, and its application to answers and reply bytes.

CoreDNS's round_robin (plugin/loadbalance/loadbalance.go) shuffles a section: if every record
is A or every record is AAAA, all of them; otherwise CNAMEs first, then the other types in
their order, then the address records (A and AAAA together), then MX, each of the last two
groups shuffled. Here a group is rotated by `turn` instead of shuffled, so the order is a pure
function of (section, turn).
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

from clusterdns.dns.records import ZONE_TRANSFERS, Answer, Rcode, Record, RType
from clusterdns.dns.wire import Section, WireMessage, WireRecord, walk
from clusterdns.errors import WireError

_ADDRESS = frozenset((RType.A, RType.AAAA))


@dataclass(frozen=True, slots=True)
class Plan:
    """A new order of a section's records, and whether it changes from one turn to the next."""

    order: tuple[int, ...]
    varies: bool


def plan(types: Sequence[int], turn: int) -> Plan:
    """The round_robin order of records of `types` at `turn`."""
    count = len(types)
    if count <= 1:
        return Plan(tuple(range(count)), False)
    if types[0] in _ADDRESS and all(rtype == types[0] for rtype in types):
        return Plan(_rotate(list(range(count)), turn), True)
    cnames: list[int] = []
    rest: list[int] = []
    addresses: list[int] = []
    exchanges: list[int] = []
    for index, rtype in enumerate(types):
        if rtype == RType.CNAME:
            cnames.append(index)
        elif rtype in _ADDRESS:
            addresses.append(index)
        elif rtype == RType.MX:
            exchanges.append(index)
        else:
            rest.append(index)
    order = (*cnames, *rest, *_rotate(addresses, turn), *_rotate(exchanges, turn))
    return Plan(order, len(addresses) > 1 or len(exchanges) > 1)


def _rotate(indexes: list[int], turn: int) -> tuple[int, ...]:
    if not indexes:
        return ()
    shift = turn % len(indexes)
    return (*indexes[shift:], *indexes[:shift])


def balances(qtype: int, rcode: int) -> bool:
    """True when replies to `qtype` with `rcode` get reordered (NOERROR, not a transfer)."""
    # CoreDNS leaves zone transfers alone.
    return rcode == Rcode.NOERROR and qtype not in ZONE_TRANSFERS


def varies(answer: Answer) -> bool:
    """True when `answer` has a section whose order changes from turn to turn."""
    return any(
        plan([record.rtype for record in section], 0).varies
        for section in (answer.answer, answer.authority, answer.additional)
    )


def balance_answer(answer: Answer, turn: int) -> Answer:
    """`answer` with each section in round_robin order at `turn` (as CoreDNS, all three)."""
    return replace(
        answer,
        answer=_reorder(answer.answer, turn),
        authority=_reorder(answer.authority, turn),
        additional=_reorder(answer.additional, turn),
    )


def spread_orders(answer: Answer, count: int) -> tuple[Answer, ...]:
    """`count` round_robin orders of `answer`, starting `1/count` of its records apart.

    One order when no section's order changes from turn to turn (CNAMEs still go first):
    `answer` itself when that is its own order.
    """
    if not varies(answer):
        ordered = balance_answer(answer, 0)
        return (answer if ordered == answer else ordered,)
    step = max(1, len(answer.answer) // count)
    return tuple(balance_answer(answer, k * step) for k in range(count))


def _reorder(records: tuple[Record, ...], turn: int) -> tuple[Record, ...]:
    order = plan([record.rtype for record in records], turn).order
    return tuple(records[index] for index in order)


def wire_plan(wire: bytes) -> tuple[WireMessage, Plan] | None:
    """The walked reply and the plan of its answer section at turn 0; None if unreadable."""
    try:
        message = walk(wire)
    except WireError:
        return None
    return message, plan([record.rtype for record in message.section(Section.ANSWER)], 0)


def balance_wire(wire: bytes, message: WireMessage, turn: int) -> bytes | None:
    """`wire` with its answer records in round_robin order at `turn`; None when unsafe.

    Whole records move, so the reply stays valid only if no compression pointer (RFC 1035
    4.1.4) anywhere in it points into a record that moves, and every pointer lands where a
    name or label begins. Other sections stay as they are: the additional section holds the
    OPT record, and TSIG must stay last (RFC 8945 5.1).
    """
    answers = message.section(Section.ANSWER)
    order = plan([record.rtype for record in answers], turn).order
    moved = _moved(answers, order)
    if not moved:
        return wire
    for target in message.pointers:
        if target not in message.label_starts or any(a <= target < b for a, b in moved):
            return None
    start, end = answers[0].start, answers[-1].end
    body = b"".join(wire[answers[index].start : answers[index].end] for index in order)
    return wire[:start] + body + wire[end:]


def _moved(records: tuple[WireRecord, ...], order: tuple[int, ...]) -> list[tuple[int, int]]:
    """Byte ranges (old offsets) of the records that land at a different offset."""
    moved: list[tuple[int, int]] = []
    offset = records[0].start if records else 0
    for index in order:
        record = records[index]
        if record.start != offset:
            moved.append((record.start, record.end))
        offset += record.end - record.start
    return moved
