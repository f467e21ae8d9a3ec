"""ConnectionTable: who is admitted, who is closed to make room (RFC 7766 §6.2.2, §6.2.3)."""

from dataclasses import dataclass, field

import pytest

from clusterdns.errors import ConfigError
from clusterdns.server.connections import ConnectionTable, TcpLimits


@dataclass(eq=False)
class Conn:
    """A stand-in connection: a name, and whether it is busy."""

    name: str
    busy: bool = False

    def __hash__(self) -> int:
        return id(self)


@dataclass(frozen=True)
class Case:
    """Connections opened in order (`client:name`, `*` marks busy), touches, then a newcomer."""

    max_connections: int
    max_per_client: int
    opened: tuple[str, ...]
    newcomer: str
    closed: tuple[str, ...] | None  # None: the newcomer is refused
    touched: tuple[str, ...] = field(default=())


CASES = [
    pytest.param(Case(3, 3, ("a:1", "a:2"), "a:3", ()), id="room-left"),
    pytest.param(Case(9, 2, ("a:1", "a:2"), "a:3", ("1",)), id="per-client-oldest"),
    pytest.param(Case(9, 2, ("a:1", "a:2"), "a:3", ("2",), ("1",)), id="per-client-touched-kept"),
    pytest.param(Case(9, 2, ("a:1*", "a:2"), "a:3", ("2",)), id="per-client-busy-skipped"),
    pytest.param(Case(9, 2, ("a:1*", "a:2*"), "a:3", None), id="per-client-all-busy-refused"),
    pytest.param(Case(9, 2, ("a:1", "a:2"), "b:3", ()), id="other-client-unaffected"),
    pytest.param(Case(2, 9, ("a:1", "b:2"), "c:3", ("1",)), id="total-oldest-any-client"),
    pytest.param(Case(2, 9, ("a:1*", "b:2"), "c:3", ("2",)), id="total-busy-skipped"),
    pytest.param(Case(2, 9, ("a:1*", "b:2*"), "c:3", None), id="total-all-busy-refused"),
    pytest.param(Case(2, 1, ("a:1", "b:2"), "a:3", ("1",)), id="one-eviction-serves-both-caps"),
    pytest.param(Case(2, 1, ("b:2", "a:1"), "a:3", ("1",)), id="per-client-victim-first"),
]


@pytest.mark.parametrize("case", CASES)
def test_admission(case: Case) -> None:
    table: ConnectionTable[Conn] = ConnectionTable(
        TcpLimits(max_connections=case.max_connections, max_per_client=case.max_per_client)
    )
    conns = {}
    for spec in case.opened:
        client, name = spec.split(":")
        conns[name.rstrip("*")] = conn = Conn(name.rstrip("*"), busy=name.endswith("*"))
        assert table.admit(conn, client) == []
    for name in case.touched:
        table.touch(conns[name])
    client, name = case.newcomer.split(":")
    victims = table.admit(Conn(name), client)
    if case.closed is None:
        assert victims is None
        assert len(table) == len(case.opened)
    else:
        assert victims is not None
        assert tuple(v.name for v in victims) == case.closed
        assert len(table) == len(case.opened) - len(case.closed) + 1


def test_remove_forgets_and_is_idempotent() -> None:
    table: ConnectionTable[Conn] = ConnectionTable(TcpLimits(max_per_client=1))
    first = Conn("1")
    table.admit(first, "a")
    table.remove(first)
    table.remove(first)
    assert len(table) == 0 and table.count("a") == 0
    assert table.admit(Conn("2"), "a") == []


@pytest.mark.parametrize(
    ("field_name", "value", "message"),
    [
        pytest.param("idle_timeout", 0.0, "--tcp-idle-timeout: must be more than 0", id="idle"),
        pytest.param("write_timeout", -1.0, "--tcp-write-timeout: must be more", id="write"),
        pytest.param("max_connections", 0, "--tcp-max-connections: must be more", id="total"),
        pytest.param("max_per_client", 0, "--tcp-max-per-client: must be more", id="per-client"),
    ],
)
def test_limits_are_validated(field_name: str, value: float, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TcpLimits(**{field_name: value})  # type: ignore[arg-type]
