"""The `kubernetes` plugin: answers from the current zone snapshot, fed by its source."""

import asyncio
import socket
from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime

from clusterdns.dns.message import answer_records, make_query
from clusterdns.dns.records import CLASS_IN, Answer, Rcode, Record, RType, Target
from clusterdns.plugin import EVERYTHING, Family, Next, Request, Response, SetupContext
from clusterdns.plugins.kubernetes.answer import (
    Negatives,
    Question,
    answer,
    answer_question,
    changed_scopes,
    parse_question,
    reply_scope,
    sibling_family,
)
from clusterdns.plugins.kubernetes.big import BIG_ANSWER, BigAnswers
from clusterdns.plugins.kubernetes.metrics import KubernetesMetrics
from clusterdns.plugins.kubernetes.options import KubernetesConfig
from clusterdns.plugins.kubernetes.snapshot import SnapshotHolder, ZoneSnapshot
from clusterdns.plugins.kubernetes.source import LiveSource, ManifestSource
from clusterdns.plugins.kubernetes.store import Changes, ObjectStore


class KubernetesPlugin:
    """Handler, lifecycle and readiness of one `kubernetes` stanza."""

    name = "kubernetes"
    keeps_families = True  # it makes the claims (answer.sibling_family)

    def __init__(self, config: KubernetesConfig, context: SetupContext) -> None:
        if not config.ns_addresses:
            config = _with_ns_addresses(config, context.listen)
        self.config = config
        self.holder = SnapshotHolder()
        self.store = ObjectStore()
        self._zone_changed = context.zone_changed
        self._lookup = context.lookup
        self._synced = asyncio.Event()
        self._big = BigAnswers(config)
        self._big_snapshot: ZoneSnapshot | None = None
        self._negatives: Negatives = {}
        # Claims by (parent name, type, rcode), for the current snapshot.
        self._families: dict[tuple[str, int, Rcode], Family] = {}
        self._clock = context.clock
        self._last_sync: float | None = None
        self.holder.subscribe(self._published)
        self.source: ManifestSource | LiveSource
        if config.manifests:
            self.source = ManifestSource(
                config.manifests,
                self.store,
                self.holder,
                context.clock,
                config.endpoint_pod_names,
            )
        else:
            metrics = context.shared.get(
                "kubernetes.metrics", KubernetesMetrics, lambda: KubernetesMetrics(context.registry)
            )
            self.source = LiveSource(
                config,
                self.store,
                self.holder,
                context.clock,
                metrics,
                context.shared,
                context.environ,
            )

    async def serve(self, request: Request, next: Next) -> Response:
        """Answer names in our zones; everything else (and fallthrough) goes to `next`."""
        query = request.query
        if query.qclass != CLASS_IN:
            return await next(request)
        question = parse_question(self.config, query.name)  # once, for the answer and its scope
        if question is None:
            return await next(request)
        if query.qtype in ZONE_TRANSFERS:
            # CoreDNS's kubernetes plugin does not transfer its zones.
            return Response(self.name, answer=Answer(Rcode.REFUSED))
        snapshot = self.holder.current
        result = self._answer(snapshot, question, query.qtype)
        if result is not None and not isinstance(result, Answer):
            result = await result  # a big answer, built in a worker thread (big.py)
        if result is None:
            return await next(request)
        if _ends_in_alias(result) and query.qtype in CHASED_TYPES:
            return await self._chase(request, next, result, snapshot)
        # A SERVFAIL before the first sync must not outlive it in the pre-encoded answers.
        return Response(
            self.name,
            answer=result,
            cacheable=result.rcode != Rcode.SERVFAIL,
            scope=reply_scope(question, result),
            family=self._family(snapshot, question, query.qtype, result.rcode),
        )

    def _family(
        self, snapshot: ZoneSnapshot, question: Question, qtype: int, rcode: Rcode
    ) -> Family | None:
        """`sibling_family`, made once per parent name, type, rcode and snapshot (Services)."""
        if question.labels[-1:] != ("svc",):
            # A pod name's claim depends on its address family too; it is cheap to make.
            return sibling_family(snapshot, self.config, question, qtype, rcode)
        key = (question.parent, qtype, rcode)
        found = self._families.get(key)
        if found is None:
            found = sibling_family(snapshot, self.config, question, qtype, rcode)
            if found is not None and len(self._families) < FAMILIES_KEPT:
                self._families[key] = found
        return found

    def _answer(
        self, snapshot: ZoneSnapshot, question: Question, qtype: int
    ) -> Answer | Awaitable[Answer | None] | None:
        """`answer()`, with big answers (headless Services) built off the loop, once per zone.

        Returns an awaitable when the answer is being built in a worker thread (big.py); the
        same answer object then lets the server reuse its encoding, so repeats cost a lookup.
        """
        if snapshot is not self._big_snapshot:
            self._negatives = {}
            self._families = {}
            self._big_snapshot = snapshot
        found = self._big.find(snapshot, question, qtype)
        if found is not None:
            return found
        result = answer_question(snapshot, self.config, question, qtype, self._negatives)
        if result is not None and len(result.answer) >= BIG_ANSWER:
            self._big.keep(snapshot, question, qtype, result)
        return result

    async def _chase(
        self, request: Request, next: Next, result: Answer, snapshot: ZoneSnapshot
    ) -> Response:
        """An ExternalName's CNAME plus its target's records (CoreDNS backend_lookup.A).

        Targets in our zones are answered from the same snapshot (up to 8 links, no loops);
        others are looked up through the whole server from the top, so `cache` keeps them, as
        CoreDNS's upstream lookup does (without a server, the rest of the chain). If the target
        cannot be resolved, the CNAME alone is the answer: a resolver can still follow it.
        """
        chain = list(result.answer)
        resolved = False
        seen = {request.query.name}
        for _ in range(MAX_CHASE):
            target = _alias_target(chain[-1])
            if target in seen:
                break
            seen.add(target)
            inside = answer(snapshot, self.config, target, request.query.qtype)
            if inside is not None:
                if inside.rcode != Rcode.NOERROR or not inside.answer:
                    break
                chain.extend(inside.answer)
                if not _ends_in_alias(inside):
                    resolved = True
                    break
                continue
            lookup = self._lookup or next
            found = await lookup(
                replace(request, query=make_query(target, request.query.qtype, request.query))
            )
            before = len(chain)
            if found.answer is not None:
                chain.extend(found.answer.answer)
            elif found.wire is not None:
                chain.extend(answer_records(found.wire)[1])
            resolved = len(chain) > before
            break
        ttl = min(record.ttl for record in chain)
        if not resolved:
            # A target that did not resolve (upstream down, NXDOMAIN) is asked again soon:
            # CoreDNS's cache keeps such a failure for 5 s at most, not the answer's TTL.
            ttl = min(ttl, UNRESOLVED_TTL)
        # Pre-encoded for as long as its shortest TTL, and dropped by any zone change.
        return Response(
            self.name,
            answer=replace(result, answer=tuple(chain)),
            cacheable=ttl > 0,
            scope=EVERYTHING,
            ttl=ttl,
        )

    async def start(self) -> None:
        """Start the source (publishes the zone, or starts watching)."""
        await self.source.start()

    async def stop(self) -> None:
        """Stop the source."""
        await self.source.stop()

    def ready(self) -> bool:
        """True once every watched resource has listed once (CoreDNS: HasSynced)."""
        return self.holder.current.synced

    def describe_ready(self) -> str:
        """For /ready: what the first sync waits for, or what the zone holds and since when."""
        snapshot = self.holder.current
        if not snapshot.synced:
            if isinstance(self.source, LiveSource):
                return self.source.waiting()
            return "loading the manifests"
        slices = sum(len(entry.slices) for entry in snapshot.services.values())
        when = ""
        if self._last_sync is not None:
            stamp = datetime.fromtimestamp(self._last_sync, tz=UTC)
            when = f"; last sync {stamp.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        return (
            f"{len(snapshot.services)} services, {slices} endpointslices, "
            f"{len(snapshot.namespaces)} namespaces{when}"
        )

    async def wait_ready(self) -> None:
        """Return once the first synced zone is published."""
        await self._synced.wait()

    def _published(self, snapshot: ZoneSnapshot, changes: Changes | None) -> None:
        # Holding a replaced snapshot would keep a whole extra zone alive (+14 MiB at 100k
        # Services); big answers hold none, and those the changes leave alone are kept.
        self._big.published(None if changes is None else changed_scopes(changes))
        self._negatives = {}
        self._families = {}
        self._big_snapshot = None
        if snapshot.synced:
            self._synced.set()
            self._last_sync = self._clock.wall()
        self._zone_changed(None if changes is None else changed_scopes(changes))


MAX_CHASE = 8  # CoreDNS: at most 8 CNAMEs in a chain
FAMILIES_KEPT = 4096  # claims kept per snapshot, by parent; past it, made per query
UNRESOLVED_TTL = 5  # seconds an ExternalName answer without its target's records is kept
ZONE_TRANSFERS = (251, 252)  # IXFR, AXFR
CHASED_TYPES = (RType.A, RType.AAAA, RType.TXT)


def _ends_in_alias(result: Answer) -> bool:
    return bool(result.answer) and result.answer[-1].rtype == RType.CNAME


def _alias_target(record: Record) -> str:
    data = record.data
    return data.target if isinstance(data, Target) else ""


def _with_ns_addresses(config: KubernetesConfig, listen: tuple[str, ...]) -> KubernetesConfig:
    """ns.dns.<zone> answers with the bound addresses, else this host's (CoreDNS: local IPs)."""
    from ipaddress import ip_address

    specific = tuple(a for a in listen if not ip_address(a).is_unspecified)
    if specific:
        return replace(config, ns_addresses=specific)
    try:
        own = socket.gethostbyname(socket.gethostname())
    except OSError:
        own = "127.0.0.1"
    return replace(config, ns_addresses=(own if not ip_address(own).is_loopback else "127.0.0.1",))
