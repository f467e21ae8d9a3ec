"""The hot-path key: which raw queries may be answered from pre-encoded replies, and how."""

import struct
import tracemalloc
from collections.abc import Callable

import dns.edns
import dns.message
import pytest

from clusterdns.dns.message import decode_query
from clusterdns.server.hotpath import AnswerCache, hot_key
from clusterdns.server.metrics import HitCell

CELL = HitCell((".", "udp", "1", "A"), (".", "NOERROR", "kubernetes"))
COOKIE = dns.edns.GenericOption(dns.edns.OptionType.COOKIE, b"12345678")
OTHER_COOKIE = dns.edns.GenericOption(dns.edns.OptionType.COOKIE, b"othercli")
NOW = 100.0


def wire(name: str = "web.demo.svc.cluster.local.", qtype: str = "A", **kwargs: object) -> bytes:
    query = dns.message.make_query(name, qtype, **kwargs)  # type: ignore[arg-type]
    query.id = 0x4242
    return query.to_wire()


def _overlong_option(data: bytes) -> bytearray:
    """`data` (ending in one 8-byte option) with the option claiming 9 bytes."""
    broken = bytearray(data)
    struct.pack_into("!H", broken, len(broken) - 10, 9)
    return broken


@pytest.mark.parametrize(
    ("data", "hot"),
    [
        pytest.param(wire(use_edns=False), True, id="plain"),
        pytest.param(wire(use_edns=0, payload=1232), True, id="edns-no-options"),
        pytest.param(wire(use_edns=0, options=[COOKIE]), True, id="cookie"),
        pytest.param(
            wire(
                use_edns=0,
                options=[COOKIE, dns.edns.GenericOption(dns.edns.OptionType.PADDING, b"\0" * 20)],
            ),
            True,
            id="cookie-and-padding",
        ),
        pytest.param(
            wire(use_edns=0, options=[dns.edns.ECSOption("192.0.2.0", 24)]),
            True,
            id="client-subnet",
        ),
        pytest.param(
            wire(
                use_edns=0, options=[dns.edns.GenericOption(dns.edns.OptionType.make(65001), b"x")]
            ),
            True,
            id="unknown",
        ),
        pytest.param(wire(use_edns=0, options=[COOKIE])[:-1], False, id="option-cut-short"),
        pytest.param(
            bytes(_overlong_option(wire(use_edns=0, options=[COOKIE]))),
            False,
            id="option-longer-than-opt",
        ),
        pytest.param(wire(use_edns=0, options=[COOKIE]) + b"\0\0", False, id="bytes-after-opt"),
        pytest.param(wire(use_edns=1), False, id="edns-version-1"),
        pytest.param(b"\x00" * 11, False, id="short"),
        pytest.param(wire()[:2] + b"\x81\x00" + wire()[4:], False, id="response"),
        pytest.param(wire()[:-1], False, id="truncated"),
    ],
)
def test_which_queries_are_hot(data: bytes, hot: bool) -> None:
    assert (hot_key(data) is not None) is hot


def test_key_ignores_case_and_id_but_not_type_flags_or_payload() -> None:
    base = hot_key(wire(use_edns=False))
    assert base is not None
    assert hot_key(wire("WEB.demo.svc.cluster.local.", use_edns=False)) == base
    # Options are not echoed in replies (CoreDNS, RFC 7873 5.2): only their length (which the
    # request-size metrics count) changes the key, so every client's cookie shares one entry.
    assert hot_key(wire(use_edns=0, options=[COOKIE])) == hot_key(
        wire(use_edns=0, options=[OTHER_COOKIE])
    )
    assert hot_key(wire(use_edns=0, options=[COOKIE])) != hot_key(wire(use_edns=0))
    different = [
        wire(qtype="AAAA", use_edns=False),
        wire(use_edns=0, payload=1232),
        wire(use_edns=0, payload=4096),
        wire(use_edns=0, payload=1232, want_dnssec=True),
        wire(use_edns=False, flags=0),  # RD clear
    ]
    keys = {hot_key(d)[0] for d in different}  # type: ignore[index]
    assert len(keys) == len(different) and base[0] not in keys


def test_type_bytes_are_not_lowercased() -> None:
    # qtype 65 (HTTPS) is the byte "A"; lowercasing it would collide with qtype 97.
    https = hot_key(wire(qtype="HTTPS", use_edns=False))
    other = bytearray(wire(use_edns=False))
    struct.pack_into("!H", other, len(other) - 4, 97)
    assert https is not None and hot_key(bytes(other)) is not None
    assert https[0] != hot_key(bytes(other))[0]  # type: ignore[index]


def test_stored_reply_comes_back_with_the_new_id_and_case() -> None:
    cache = AnswerCache(admit_after=1)
    first = wire(use_edns=False)
    reply = first[:2] + b"\x85\x00" + first[4:12] + first[12:]  # any bytes after the question
    cache.store(decode_query(first), reply + b"TAIL", cache.generation, "*", CELL)
    again = bytearray(wire("Web.Demo.svc.cluster.local.", use_edns=False))
    again[:2] = b"\x99\x99"
    served = cache.reply(bytes(again), NOW)
    assert served is not None
    assert served[:2] == b"\x99\x99" and served[2:4] == b"\x85\x00"
    assert served[12:-4] == bytes(again[12:]) and served.endswith(b"TAIL")


def test_replies_from_an_older_generation_are_not_stored() -> None:
    cache = AnswerCache(admit_after=1)
    query = decode_query(wire())
    stale = cache.generation
    cache.clear()
    cache.store(query, wire(), stale, "*", CELL)
    assert len(cache) == 0


def test_full_cache_drops_the_oldest() -> None:
    cache = AnswerCache(max_entries=2, admit_after=1)
    for name in ("a.", "b.", "c."):
        data = wire(name, use_edns=False)
        cache.store(decode_query(data), data, cache.generation, "*", CELL)
    assert len(cache) == 2
    assert cache.reply(wire("a.", use_edns=False), NOW) is None
    assert cache.reply(wire("c.", use_edns=False), NOW) is not None


def test_invalidation_drops_only_the_scopes_named() -> None:
    cache = AnswerCache(admit_after=1)
    web, api = wire("web.demo.svc.cluster.local."), wire("api.demo.svc.cluster.local.")
    cache.store(decode_query(web), web, cache.generation, ("svc", "demo", "web"), CELL)
    cache.store(decode_query(api), api, cache.generation, ("svc", "demo", "api"), CELL)
    assert cache.reply(wire("WEB.demo.svc.cluster.local."), NOW) is not None  # case variant, too
    cache.invalidate([("svc", "demo", "web")])
    assert cache.reply(web, NOW) is None
    assert cache.reply(wire("WEB.demo.svc.cluster.local."), NOW) is None
    assert cache.reply(api, NOW) is not None
    cache.invalidate(None)
    assert cache.reply(api, NOW) is None and len(cache) == 0


def test_case_variants_stay_within_the_bounds() -> None:
    cache = AnswerCache(max_entries=100, admit_after=1)
    base = wire(use_edns=False)
    cache.store(decode_query(base), base, cache.generation, "*", CELL)
    name = "web.demo.svc.cluster.local."
    for i in range(1000):
        variant = "".join(c.upper() if (i >> (k % 10)) & 1 else c for k, c in enumerate(name))
        cache.reply(wire(variant, use_edns=False), NOW)
        assert len(cache._exact) <= 100


def test_byte_budget_bounds_the_cache() -> None:
    cache = AnswerCache(max_bytes=10_000, admit_after=1)
    for i in range(50):
        data = wire(f"n{i}.example.", use_edns=False)
        cache.store(decode_query(data), data + b"x" * 100, cache.generation, "*", CELL)
    assert 0 < cache.counted_bytes <= 10_000 and 0 < len(cache) < 50


def test_rotations_are_served_in_turn_after_the_first() -> None:
    cache = AnswerCache(admit_after=1)
    data = wire(use_edns=False)
    first, second, third = (data + bytes([i]) for i in (1, 2, 3))
    cache.store(decode_query(data), first, cache.generation, "*", CELL, (second, third))
    served = [cache.reply(data, NOW) for _ in range(4)]
    assert [reply[-1] if reply else None for reply in served] == [2, 3, 1, 2]
    other_case = wire("WEB.demo.svc.cluster.local.", use_edns=False)
    assert cache.reply(other_case, NOW) is not None


def _store(cache: AnswerCache, name: str, expires: float = float("inf")) -> bytes:
    data = wire(name, use_edns=False)
    cache.store(decode_query(data), data + b"TAIL", cache.generation, "*", CELL, (), expires)
    return data


def test_a_question_is_stored_on_its_second_sighting() -> None:
    cache = AnswerCache()
    data = _store(cache, "web.demo.svc.cluster.local.")
    assert cache.reply(data, NOW) is None and len(cache) == 0
    _store(cache, "web.demo.svc.cluster.local.")
    assert cache.reply(data, NOW) is not None and len(cache) == 1


def test_a_flood_of_one_off_names_neither_grows_nor_evicts() -> None:
    cache = AnswerCache(max_entries=1000)
    for _ in range(2):
        repeated = _store(cache, "web.demo.svc.cluster.local.")
    for i in range(30_000):
        _store(cache, f"x{i}.demo.svc.cluster.local.")
    assert len(cache) == 1
    assert cache.reply(repeated, NOW) is not None


@pytest.mark.parametrize(
    ("later", "served"),
    [
        pytest.param(0.0, True, id="before-expiry"),
        pytest.param(4.9, True, id="just-before"),
        pytest.param(5.1, False, id="after-expiry"),
    ],
)
def test_answers_with_a_lifetime_expire_on_their_own(later: float, served: bool) -> None:
    cache = AnswerCache(admit_after=1)
    data = _store(cache, "ext.demo.svc.cluster.local.", expires=NOW + 5)
    other = _store(cache, "web.demo.svc.cluster.local.")  # same "*" scope, no expiry
    assert (cache.reply(data, NOW + later) is not None) is served
    assert (
        cache.reply(wire("EXT.demo.svc.cluster.local.", use_edns=False), NOW + later) is not None
    ) is served
    # One answer's expiry leaves the rest of its scope alone.
    assert cache.reply(other, NOW + later) is not None


def test_the_budget_counts_at_least_what_entries_really_hold() -> None:
    cache = AnswerCache(max_entries=100_000, max_bytes=1 << 30, admit_after=1)
    queries = [
        wire(f"svc-{i}.team-{i % 50}.svc.cluster.local.", use_edns=False) for i in range(5000)
    ]
    decoded = [decode_query(q) for q in queries]
    replies = [q + bytes(60) for q in queries]  # a typical A answer's size
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for query, reply in zip(decoded, replies, strict=True):
        cache.store(query, reply, cache.generation, ("svc", query.name), CELL)
    for data in queries:  # one case variant each, remembered by its exact bytes
        cache.reply(data[:12] + data[12:].upper()[:-4] + data[-4:], NOW)
    real = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(cache) == 5000
    assert real <= cache.counted_bytes <= 1.5 * real


def test_a_working_set_larger_than_the_first_sighting_floor_is_still_stored() -> None:
    # 12,000 questions asked in turn: each comes back after 11,999 others.
    cache = AnswerCache(max_entries=20_000, max_bytes=1 << 30)
    names = [f"s{i}.demo.svc.cluster.local." for i in range(12_000)]
    for _ in range(2):
        for name in names:
            _store(cache, name)
    assert len(cache) == 12_000


@pytest.mark.parametrize(
    ("data", "asked", "rotated"),
    [
        pytest.param(wire(), wire(), False, id="same-bytes"),
        pytest.param(wire(), wire("WEB.demo.svc.cluster.local."), False, id="other-case"),
        pytest.param(
            wire(use_edns=0, options=[COOKIE]),
            wire(use_edns=0, options=[OTHER_COOKIE]),
            False,
            id="another-clients-cookie",
        ),
        pytest.param(wire(), wire(), True, id="rotated"),
    ],
)
def test_an_observer_is_told_of_every_hit_with_its_reply_and_client(
    data: bytes, asked: bytes, rotated: bool
) -> None:
    seen: list[tuple[bytes, bytes, tuple[str, int], float]] = []
    cache = AnswerCache(admit_after=1)
    rotations = (data + b"SECOND",) if rotated else ()
    query = decode_query(data)
    cache.store(query, data + b"FIRST", cache.generation, "*", CELL, rotations, observe=_keep(seen))
    assert cache.observed
    replies = [cache.reply(asked, NOW, ("192.0.2.1", 5353)) for _ in range(2)]
    assert all(reply is not None for reply in replies)
    assert seen == [(asked, reply, ("192.0.2.1", 5353), NOW) for reply in replies]
    cache.clear()  # what a reload does: the old chain's observers go with the answers
    assert not cache.observed
    assert cache.reply(asked, NOW) is None


def _keep(
    seen: list[tuple[bytes, bytes, tuple[str, int], float]],
) -> Callable[[bytes, bytes, tuple[str, int], float], None]:
    def observe(data: bytes, reply: bytes, client: tuple[str, int], now: float) -> None:
        seen.append((data, reply, client, now))

    return observe


def test_an_answer_evicted_to_make_room_gets_no_new_alias() -> None:
    # Two answers fill a store of two; asking the oldest in another letter case makes room
    # for that case's alias by evicting the oldest itself. The alias must not outlive it: a
    # zone change could not drop it (it would be in no scope) and its bytes would stay counted.
    cache = AnswerCache(max_entries=2, admit_after=1)
    for name, scope in (
        ("old.demo.svc.cluster.local.", "old"),
        ("new.demo.svc.cluster.local.", "new"),
    ):
        data = wire(name, use_edns=False)
        cache.store(decode_query(data), data + b"REPLY", cache.generation, scope, CELL)
    other_case = wire("OLD.demo.svc.cluster.local.", use_edns=False)
    assert cache.reply(other_case, NOW) is not None  # served, and `old` gave its place
    assert cache.reply(other_case, NOW) is None
    cache.invalidate(["new"])
    assert len(cache) == 0 and cache.counted_bytes == 0
