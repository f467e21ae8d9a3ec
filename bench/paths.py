"""Per-query cost of clusterdns's code paths in-process, without sockets, and a miss-path profile.

    python -m bench.paths [--services N] [--profile mixed|searchpath] [--top K]

Loads a generated zone into a real `App`, turns the dnsperf query file into wire queries and
times, per query: the pre-encoded hit (`AnswerCache.reply`, plain and with a COOKIE option), the
full miss (`Dispatcher.serve_udp`: decode, chain, answer, encode), never-repeated names, and the
miss's parts. Then cProfiles the miss path. It measures
the Python side only; `bench.run` measures the whole server with the kernel's UDP path.
"""

import argparse
import asyncio
import cProfile
import pstats
import struct
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.generate import (
    PROFILES,
    ZONE_FILE,
    default_namespaces,
    parse_count,
    queries_file,
    service_spec,
    write_queries,
    write_zone,
)
from bench.servers import REPO
from clusterdns.app import App
from clusterdns.dns.message import decode_query, encode_answer
from clusterdns.plugins.kubernetes.answer import answer
from clusterdns.plugins.kubernetes.handler import KubernetesPlugin
from clusterdns.plugins.kubernetes.source import ManifestSource, publish_objects
from clusterdns.serve_flags import ServeOptions, serve_app
from clusterdns.server.dispatch import Dispatcher
from clusterdns.server.hotpath import AnswerCache

_TYPES = {"A": 1, "AAAA": 28, "SRV": 33, "PTR": 12, "TXT": 16, "CNAME": 5}
_CLIENT = ("127.0.0.1", 5300)


def wire_query(name: str, qtype: str, ident: int) -> bytes:
    """A query as dnsperf sends it: RD set, one question, no EDNS."""
    labels = b"".join(bytes((len(p),)) + p.encode() for p in name.rstrip(".").split("."))
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + labels + b"\0" + _question(qtype)


def _question(qtype: str) -> bytes:
    return struct.pack("!HH", _TYPES[qtype], 1)


def per_call_us(run: Callable[[], object], calls: int, min_seconds: float = 0.5) -> float:
    """Microseconds per call of `run`, which makes `calls` calls, repeated for `min_seconds`."""
    rounds = 0
    started = time.perf_counter()
    while True:
        run()
        rounds += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return elapsed / (rounds * calls) * 1e6


def main(argv: list[str] | None = None) -> int:
    """Print per-query microseconds of each path and the miss path's top functions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--services", type=parse_count, default=1000)
    parser.add_argument("--profile", choices=PROFILES, default="mixed")
    parser.add_argument("--top", type=int, default=20, help="functions listed in the profile")
    args = parser.parse_args(argv)
    out = REPO / "bench" / "out" / f"{args.profile}-{args.services}"
    out.mkdir(parents=True, exist_ok=True)
    namespaces = default_namespaces(args.services)
    zone = write_zone(out / ZONE_FILE, args.services, namespaces)
    path = queries_file(out, args.profile)
    write_queries(path, args.profile, args.services, namespaces, 20_000, 1)
    app, wires = prepare(zone.path, path)
    print(f"{len(wires)} distinct queries from {path.name}")
    print(asyncio.run(measure(app, wires, args.top)))
    return 0


def prepare(zone: Path, queries: Path) -> tuple[App, list[bytes]]:
    """An `App` serving `zone`, and the distinct queries of `queries` as wire messages."""
    options = ServeOptions(manifests=(str(zone),), upstreams=("127.0.0.1:9",))
    app = serve_app(options)
    plugin = kubernetes_of(app)
    assert isinstance(plugin.source, ManifestSource)
    publish_objects(plugin.store, plugin.holder, plugin.source.objects, serial=1)
    distinct = dict.fromkeys(tuple(line.split()) for line in queries.read_text().splitlines())
    wires = [wire_query(name, qtype, i & 0xFFFF) for i, (name, qtype) in enumerate(distinct)]
    return app, wires


def kubernetes_of(app: App) -> KubernetesPlugin:
    """The app's kubernetes plugin."""
    (plugin,) = app.servers[0].named("kubernetes")
    assert isinstance(plugin, KubernetesPlugin)
    return plugin


async def measure(app: App, wires: list[bytes], top: int) -> str:
    """Time each path over `wires`, then profile the miss path."""
    server = app.servers[0]  # not listening: its dispatcher is made here, as a listener's is
    dispatcher = Dispatcher(server.blocks, server.counters, app.clock)
    cache = AnswerCache()

    async def answer_all(queries: list[bytes]) -> None:
        # What the UDP listener does (server.udp): a stored reply, else the dispatcher's,
        # kept when admitted. (Cleared before each pass of `misses`, so that is all misses.)
        for data in queries:
            if cache.reply(data, 0.0, _CLIENT) is not None:
                continue
            generation = cache.generation
            outcome = dispatcher.serve_udp(data, _CLIENT)
            _, kept = await outcome if isinstance(outcome, asyncio.Task) else outcome
            if kept is not None:
                cache.keep(kept, generation)

    async def misses() -> None:
        cache.clear()
        await answer_all(wires)

    await answer_all(wires)
    await answer_all(wires)  # stored on the second sighting
    stored = len(cache)
    cookies = [with_cookie(data) for data in wires]
    hit_us = per_call_us(lambda: [cache.reply(d, 0.0) for d in wires], len(wires))
    cookie_us = per_call_us(lambda: [cache.reply(d, 0.0) for d in cookies], len(cookies))
    miss_us = await per_call_async_us(misses, len(wires))
    unique = [unique_query(i) for i in range(20_000)]
    unique_us = await per_call_async_us(lambda: answer_all(unique), len(unique), once=True)
    decoded = [decode_query(data) for data in wires]
    config = kubernetes_of(app).config
    snapshot = kubernetes_of(app).holder.current
    answers = [answer(snapshot, config, q.name, q.qtype) for q in decoded]
    decode_us = per_call_us(lambda: [decode_query(d) for d in wires], len(wires))
    answer_us = per_call_us(
        lambda: [answer(snapshot, config, q.name, q.qtype) for q in decoded], len(wires)
    )
    pairs = [(q, a) for q, a in zip(decoded, answers, strict=True) if a is not None]
    encode_us = per_call_us(lambda: [encode_answer(q, a, 512) for q, a in pairs], len(pairs))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(3):
        await misses()
    profiler.disable()
    lines = [
        f"{stored} stored as hot answers",
        "",
        "| path | µs per query |",
        "| --- | ---: |",
        f"| hit: AnswerCache.reply (pre-encoded answer) | {hit_us:.2f} |",
        f"| hit: the same queries with an EDNS COOKIE option | {cookie_us:.2f} |",
        f"| miss: Dispatcher.serve_udp (all of the below + chain + metrics) | {miss_us:.2f} |",
        f"| never-repeated names below a Service (siblings: plugin.Family) | {unique_us:.2f} |",
        f"| miss part: decode_query | {decode_us:.2f} |",
        f"| miss part: kubernetes answer() | {answer_us:.2f} |",
        f"| miss part: encode_answer | {encode_us:.2f} |",
        "",
        f"miss path, cProfile, top {top} by own time (3 passes):",
    ]
    return "\n".join(lines) + "\n" + _top(profiler, top)


async def per_call_async_us(
    run: Callable[[], Awaitable[None]], calls: int, once: bool = False
) -> float:
    """Microseconds per call of the coroutine `run` (which makes `calls` calls), over 1 s."""
    rounds = 0
    started = time.perf_counter()
    while True:
        await run()
        rounds += 1
        elapsed = time.perf_counter() - started
        if once or elapsed >= 1.0:
            return elapsed / (rounds * calls) * 1e6


def with_cookie(data: bytes) -> bytes:
    """`data` (a query without EDNS) with an OPT carrying an 8-byte client COOKIE (RFC 7873)."""
    head = bytearray(data[:12])
    struct.pack_into("!H", head, 10, 1)
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 12) + struct.pack("!HH", 10, 8) + b"c" * 8
    return bytes(head) + data[12:] + opt


def unique_query(index: int) -> bytes:
    """A never-repeated name below a Service: NXDOMAIN, as a random-subdomain flood asks."""
    spec = service_spec(1, default_namespaces(1000))
    base = f"{spec.name}.{spec.namespace}.svc.cluster.local."
    return wire_query(f"r{index:06d}.{base}", "A", index & 0xFFFF)


def _top(profiler: cProfile.Profile, count: int) -> str:
    """The `count` functions with the most own time, with their share of the total."""
    stats = pstats.Stats(profiler)
    table = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in table.values())
    ranked = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:count]
    rows = ["| own % | cum % | calls | function |", "| ---: | ---: | ---: | --- |"]
    for (filename, line, function), (_, calls, own, cumulative, _) in ranked:
        where = _short(filename)
        rows.append(
            f"| {100 * own / total:.1f} | {100 * cumulative / total:.1f} | {calls} "
            f"| {where}:{line} {function} |"
        )
    by_package: dict[str, float] = {}
    for (filename, _, _), entry in table.items():
        package = _short(filename).split("/", 1)[0].removesuffix(".py")
        by_package[package] = by_package.get(package, 0.0) + entry[2]
    shares = sorted(by_package.items(), key=lambda item: item[1], reverse=True)
    rows += [
        "",
        "own time by package: " + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in shares[:8]),
    ]
    return "\n".join(rows)


def _short(filename: str) -> str:
    """A file name relative to the repo or to site-packages."""
    for marker in (str(REPO) + "/", "site-packages/", "python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


if __name__ == "__main__":
    sys.exit(main())
