"""The `cache` handler: lookups, stores, TTL rewriting, prefetch and serve_stale refreshes."""

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from cachetools import LRUCache

from clusterdns.dns.message import Query
from clusterdns.dns.names import is_subdomain
from clusterdns.dns.records import Answer, Rcode
from clusterdns.errors import WireError
from clusterdns.plugin import Next, Request, Response, SetupContext
from clusterdns.plugins.cache import wire
from clusterdns.plugins.cache.entry import Entry, answer_entry, wire_entry, with_ttl
from clusterdns.plugins.cache.metrics import CacheMetrics
from clusterdns.plugins.cache.options import CacheConfig
from clusterdns.plugins.cache.policy import (
    Kind,
    Shape,
    clamp,
    classify,
    message_ttl,
    shape_of_answer,
)

logger = logging.getLogger(__name__)

# (lowercased name, qtype, qclass, DO, CD): CoreDNS keys on DO and CD besides the question.
Key = tuple[str, int, int, bool, bool]
# Background refreshes (prefetch, serve_stale) in flight at once, per cache; more are skipped.
MAX_REFRESHES = 64
CACHED_SCOPE = ("cache",)  # pre-encoded cache hits depend on no zone data; they expire alone
MAX_VERDICTS = 256  # verdicts on shared answers kept (a few per zone and snapshot are in use)
# Answers with this many records are shared objects too (the kubernetes plugin keeps a big
# headless answer per zone): checking each record's TTL per query would cost 0.5 ms at 2,000.
BIG_VERDICT = 64
_TRANSFERS = (251, 252)  # IXFR, AXFR: classified apart whatever the answer (policy.classify)
_REFRESHED = (Rcode.NOERROR, Rcode.NXDOMAIN)  # RFC 8767 4: what may replace a stale entry


def key_of(query: Query) -> Key:
    """The cache key of `query`."""
    do = query.edns is not None and query.edns.do
    return (query.name, query.qtype, query.qclass, do, query.checking_disabled)


class _Entries(LRUCache[Key, Entry]):
    """Entries up to a capacity; the least recently used one makes room, and that is counted."""

    def __init__(self, capacity: int, evicted: Callable[[], None]) -> None:
        super().__init__(capacity)
        self._evicted = evicted

    def popitem(self) -> tuple[Key, Entry]:
        """Evict the least recently used entry."""
        item = super().popitem()
        self._evicted()
        return item


class CachePlugin:
    """CoreDNS's cache: a success and a denial cache in front of the rest of the chain."""

    name = "cache"
    keeps_families = True  # it passes a claim on only for names it never keeps

    def __init__(self, config: CacheConfig, context: SetupContext) -> None:
        self.config = config
        self._clock = context.clock
        families = context.shared.get(
            "cache.metrics", CacheMetrics, lambda: CacheMetrics(context.registry)
        )
        self.metrics = families.series(context.server, config.zones_label)
        self.success = _Entries(config.success_capacity, self.metrics.success.evictions.inc)
        self.denial = _Entries(config.denial_capacity, self.metrics.denial.evictions.inc)
        self._refreshing: dict[Key, asyncio.Task[None]] = {}
        self.failed_refreshes = 0
        self.skipped_refreshes = 0
        # prefetch counts each hit's time and serve_stale answers past expiry: such hits must
        # reach this plugin, so its replies are then not pre-encoded by the server.
        self._hits_need_the_plugin = config.prefetch > 0 or config.serve_stale > 0
        # Verdicts on shared answer objects, by identity (see `_verdict`).
        self._verdicts: dict[int, tuple[Answer, tuple[Kind, float, bool]]] = {}

    async def start(self) -> None:
        """Nothing to start: refreshes begin when queries ask for them."""

    async def stop(self) -> None:
        """Cancel the refreshes in flight and wait for them to end."""
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def settle(self) -> None:
        """Wait until every background refresh started so far has stored its reply."""
        while self._refreshing:
            await asyncio.gather(*self._refreshing.values(), return_exceptions=True)

    async def serve(self, request: Request, next: Next) -> Response:
        """Answer from the cache, or ask `next` and keep what it says when that is cacheable."""
        query = request.query
        if not any(is_subdomain(query.name, zone) for zone in self.config.zones):
            return await next(request)
        key = key_of(query)
        if self._never_kept(query.name):
            # `disable success` and `disable denial` both cover the name: no entry can exist,
            # so this is a miss (counted as CoreDNS counts it) without looking.
            self.metrics.tally.miss()
            response = self._store(query, key, await next(request), keep=False)
            if response.family is not None and self._splits(response.family.parent):
                response = replace(response, family=None)
            # Every pre-encoded copy of it is such a miss too, for a sibling name as well.
            return response.counting_hits(self.metrics.tally.miss)
        now = self._clock.monotonic()
        entry = self._lookup(key, now)
        if entry is None:
            response = self._store(query, key, await next(request))
            # CoreDNS would make an entry for each sibling name: they must all come through.
            return response if response.family is None else replace(response, family=None)
        ttl = entry.remaining(now)
        if ttl <= 0:
            # Only reachable with serve_stale: the entry is past its TTL but within DURATION.
            if self.config.verify_stale:
                fresh = await self._verify(request, next, key)
                if fresh is not None:
                    return fresh
            else:
                self._refresh_later(request, next, key, entry, now)
            self.metrics.served_stale.inc()
            ttl = 0
        elif self._should_prefetch(entry, ttl, now):
            self._refresh_later(request, next, key, entry, now)
        response = entry.reply(query, entry.ttl if self.config.keepttl else ttl)
        if self._hits_need_the_plugin or ttl <= 0:
            return response
        # The server may pre-encode this reply until its TTL next counts down (TTLs are whole
        # seconds, as CoreDNS's cache gives them), so a cached name costs a hit on the fast
        # path, never a frozen TTL. Those hits are counted here through `on_hit`.
        tally = self.metrics.tally
        return replace(
            response,
            cacheable=True,
            scope=CACHED_SCOPE,
            ttl=1.0 - (now - entry.stored) % 1.0,
            on_hit=tally.success_hit if entry.cache == "success" else tally.denial_hit,
        )

    def _splits(self, parent: str) -> bool:
        """True when one of this cache's zones lies below `parent`: its siblings differ."""
        config = self.config
        zones = (*config.zones, *config.disable_success, *config.disable_denial)
        return any(zone != parent and is_subdomain(zone, parent) for zone in zones)

    def _never_kept(self, name: str) -> bool:
        """True when `disable` keeps every reply for `name` out of both caches."""
        config = self.config
        return (
            bool(config.disable_success)
            and bool(config.disable_denial)
            and any(is_subdomain(name, zone) for zone in config.disable_success)
            and any(is_subdomain(name, zone) for zone in config.disable_denial)
        )

    def _lookup(self, key: Key, now: float) -> Entry | None:
        """The usable entry for `key`, denial first (CoreDNS getIfNotStale); counts the outcome."""
        self.metrics.requests.inc()
        denial = self._usable(self.denial, key, now)
        if denial is not None and denial.rcode != Rcode.SERVFAIL:
            self.metrics.denial.hits.inc()
            return denial
        # A cached SERVFAIL is transient: it does not shadow a good answer still at hand.
        success = self._usable(self.success, key, now)
        if success is not None:
            self.metrics.success.hits.inc()
            return success
        if denial is not None:
            self.metrics.denial.hits.inc()
            return denial
        self.metrics.misses.inc()
        return None

    def _usable(self, entries: _Entries, key: Key, now: float) -> Entry | None:
        entry = entries.get(key)
        if entry is None:
            return None
        ttl = entry.remaining(now)
        stale_for = int(self.config.serve_stale)
        return entry if ttl > 0 or (stale_for > 0 and -ttl < stale_for) else None

    def _store(
        self,
        query: Query,
        key: Key,
        response: Response,
        refresh: bool = False,
        keep: bool = True,
    ) -> Response:
        """Keep `response` if cacheable (and `keep`); return it as the client gets it, TTLs capped.

        CoreDNS caps the TTLs of every reply passing through, kept or not (`disable`).
        """
        now = self._clock.monotonic()
        if response.answer is not None:
            return self._store_answer(query, key, response, response.answer, now, refresh, keep)
        if response.wire is not None:
            return self._store_wire(query, key, response, response.wire, now, refresh, keep)
        return response

    def _store_answer(
        self,
        query: Query,
        key: Key,
        response: Response,
        answer: Answer,
        now: float,
        refresh: bool,
        keep: bool,
    ) -> Response:
        kind, duration, unchanged = self._verdict(answer, query.qtype)
        ttl = int(duration)
        if keep and kind.cache and duration > 0:
            self._put(query.name, key, answer_entry(kind.cache, answer, now, ttl), refresh)
        if unchanged:
            return response  # TTLs already capped, so still what the server may pre-encode
        return replace(response, answer=with_ttl(answer, ttl))

    def _verdict(self, answer: Answer, qtype: int) -> tuple[Kind, float, bool]:
        """(kind, duration, whether every TTL already equals it) for `answer` to `qtype`.

        Kept for answers without answer records (shared objects: one negative answer per
        zone and snapshot), so a flood of never-repeated names reduces each one once, and for
        big ones (kept per zone by `kubernetes`), so a repeat does not walk them. The
        verdict depends on the question only through the zone-transfer types (`classify`).
        """
        memo = (not answer.answer or len(answer.answer) >= BIG_VERDICT) and qtype not in _TRANSFERS
        if memo:
            found = self._verdicts.get(id(answer))
            if found is not None and found[0] is answer:
                return found[1]
        shape = shape_of_answer(answer)
        kind = classify(shape, qtype)
        duration = self._duration(shape, kind)
        ttl = int(duration)
        records = answer.answer + answer.authority + answer.additional
        verdict = (kind, duration, all(record.ttl == ttl for record in records))
        if memo:
            if len(self._verdicts) >= MAX_VERDICTS:
                self._verdicts.pop(next(iter(self._verdicts)))
            self._verdicts[id(answer)] = (answer, verdict)
        return verdict

    def _store_wire(
        self,
        query: Query,
        key: Key,
        response: Response,
        data: bytes,
        now: float,
        refresh: bool,
        keep: bool,
    ) -> Response:
        try:
            reply = wire.parse_reply(data)
        except WireError as exc:
            logger.debug("cache: not keeping a malformed reply for %s: %s", query.name, exc)
            self.metrics.drops.inc()
            return response
        kind = classify(reply.shape, query.qtype)
        duration = self._duration(reply.shape, kind)
        ttl = int(duration)
        if keep and kind.cache and not reply.shape.truncated and duration > 0:
            entry = wire_entry(kind.cache, reply, now, ttl) if reply.matches(query) else None
            if entry is None:
                self.metrics.drops.inc()
            else:
                self._put(query.name, key, entry, refresh)
        return replace(response, wire=wire.rewrite(reply, query, ttl))

    def _duration(self, shape: Shape, kind: Kind) -> float:
        """Seconds to keep a reply (CoreDNS ResponseWriter.WriteMsg); also the TTL it is given."""
        config = self.config
        if kind in (Kind.NAME_ERROR, Kind.NO_DATA):
            return clamp(message_ttl(shape, kind), config.denial_min_ttl, config.denial_ttl)
        if kind is Kind.SERVER_ERROR:
            return config.servfail_ttl
        return clamp(message_ttl(shape, kind), config.success_min_ttl, config.success_ttl)

    def _put(self, name: str, key: Key, entry: Entry, refresh: bool) -> None:
        """Store `entry` unless `disable` excludes its zone; update the entries gauges."""
        success = entry.cache == "success"
        excluded = self.config.disable_success if success else self.config.disable_denial
        if any(is_subdomain(name, zone) for zone in excluded):
            return
        if success:
            self.success[key] = entry
            if refresh:
                self.denial.pop(key, None)  # a refreshed answer replaces a cached failure
        else:
            self.denial[key] = entry
        self.metrics.success.entries.set(len(self.success))
        self.metrics.denial.entries.set(len(self.denial))

    def _should_prefetch(self, entry: Entry, ttl: int, now: float) -> bool:
        """Popular (AMOUNT hits without a gap of DURATION) and within PERCENTAGE of expiry."""
        config = self.config
        if config.prefetch <= 0:
            return False
        hits = entry.popularity.update(config.prefetch_window, now)
        threshold = math.ceil(config.prefetch_percentage / 100 * entry.ttl)
        return hits >= config.prefetch and ttl <= threshold

    def _refresh_later(
        self, request: Request, next: Next, key: Key, entry: Entry, now: float
    ) -> None:
        """Start one background refresh of `key`, unless one runs or too many do."""
        if key in self._refreshing:
            return
        if len(self._refreshing) >= MAX_REFRESHES:
            self.skipped_refreshes += 1
            logger.debug("cache: %d refreshes in flight, not refreshing %s", MAX_REFRESHES, key)
            return
        refresh = self._refresh(request, next, key, entry.popularity.hits, now)
        task = asyncio.get_running_loop().create_task(refresh)
        self._refreshing[key] = task
        task.add_done_callback(partial(self._refreshed, key))

    def _refreshed(self, key: Key, task: asyncio.Task[None]) -> None:
        self._refreshing.pop(key, None)

    async def _refresh(self, request: Request, next: Next, key: Key, hits: int, now: float) -> None:
        """Ask `next` again and store the reply (CoreDNS doPrefetch), keeping the hit count."""
        self.metrics.prefetch.inc()
        # As CoreDNS does, refresh as if over TCP: what is stored should not be truncated.
        response = await self._ask(replace(request, protocol="tcp"), next)
        if response is None:
            return
        self._store(request.query, key, response, refresh=True)
        fresh = self.denial.get(key) or self.success.get(key)
        if fresh is not None:
            fresh.popularity.reset(now, hits)

    async def _verify(self, request: Request, next: Next, key: Key) -> Response | None:
        """serve_stale verify: the upstream's reply if it is NOERROR or NXDOMAIN, else None."""
        response = await self._ask(request, next)
        if response is None or _rcode(response) not in _REFRESHED:
            return None
        return self._store(request.query, key, response)

    async def _ask(self, request: Request, next: Next) -> Response | None:
        """`next`'s response, or None (logged and counted) when it fails."""
        try:
            return await next(request)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.failed_refreshes += 1
            query = request.query
            logger.warning(
                "cache: refreshing %s type %d failed", query.name, query.qtype, exc_info=True
            )
            return None


def _rcode(response: Response) -> int | None:
    """The rcode of a response, or None when it cannot be read."""
    if response.answer is not None:
        return int(response.answer.rcode)
    if response.wire is None:
        return None
    try:
        return wire.parse_reply(response.wire).shape.rcode
    except WireError:
        return None
