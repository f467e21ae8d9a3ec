"""The `file` handler: answers from the loaded zones, and the reload loop that replaces them."""

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from clusterdns.dns.message import answer_records, make_query
from clusterdns.dns.names import longest_zone
from clusterdns.dns.records import CLASS_IN, ZONE_TRANSFERS, Answer, Rcode, Record
from clusterdns.errors import ConfigError
from clusterdns.periodic import Periodic
from clusterdns.plugin import EVERYTHING, Next, Request, Response, ZoneChange
from clusterdns.plugins.file.options import FileConfig
from clusterdns.plugins.file.zone import Result, Zone, build_zone, lookup
from clusterdns.plugins.file.zonefile import parse_zone

logger = logging.getLogger(__name__)


Sources = dict[str, str]  # every file a load read (the zone file and its includes) → text


class ZoneFileUnreadable(ConfigError):
    """The zone file itself cannot be read (missing, unreadable, not UTF-8)."""


def load_zones(
    config: FileConfig, read_file: Callable[[str], str]
) -> tuple[Sources, dict[str, Zone]]:
    """Read the zone file (and what it includes) and build every zone of the stanza.

    Raises ZoneFileUnreadable when the zone file cannot be read, CorefileError (FILE:LINE and
    the bad token) for a bad record or an $INCLUDE that cannot be read. Blocking: once
    running, call it from a thread.
    """
    sources: Sources = {}

    def read(path: str) -> str:
        sources[path] = read_file(path)
        return sources[path]

    try:
        text = read(config.path)
    except (OSError, ConfigError) as exc:
        raise ZoneFileUnreadable(str(exc)) from None
    zones = {
        origin: build_zone(parse_zone(text, origin, config.path, read), origin, config.path)
        for origin in config.zones
    }
    return sources, zones


def read_sources(paths: Iterable[str], read_file: Callable[[str], str]) -> Sources:
    """The current text of each file (a cheap check before parsing anything again)."""
    return {path: read_file(path) for path in paths}


class FileHandler:
    """Serves the zones of one `file` stanza; with `reload`, re-reads the file periodically."""

    name = "file"

    def __init__(
        self,
        config: FileConfig,
        zones: Mapping[str, Zone | None],
        sources: Sources,
        read_file: Callable[[str], str],
        zone_changed: ZoneChange,
        lookup: Next | None = None,
    ) -> None:
        self.config = config
        self.zones: Mapping[str, Zone | None] = dict(zones)  # replaced whole on reload
        self._origins = tuple(zones)
        self._sources = sources  # {} until the zone file was read once
        self._read = read_file
        self._zone_changed = zone_changed
        self._lookup = lookup
        self._problem = ""
        self._poller = Periodic(config.reload, self.check_once, "plugin/file: re-reading zones")

    async def serve(self, request: Request, next: Next) -> Response:
        """Answer names in our zones; the rest, and fallthrough, go to `next`."""
        query = request.query
        origin = longest_zone(query.name, self._origins) if query.qclass == CLASS_IN else None
        if origin is None:
            return await next(request)
        if query.qtype in ZONE_TRANSFERS:
            return Response(self.name, answer=Answer(Rcode.REFUSED))
        zone = self.zones[origin]
        if zone is None:  # the file has not been readable yet (CoreDNS: SERVFAIL)
            return Response(self.name, answer=Answer(Rcode.SERVFAIL))
        result = lookup(zone, query.name, query.qtype)
        if result.name_error and self.config.falls_through(query.name):
            return await next(request)
        if result.external:
            return await self._resolve(request, next, result)
        return Response(self.name, answer=result.answer, cacheable=True, scope=("file", origin))

    async def _resolve(self, request: Request, next: Next, result: Result) -> Response:
        """Append the records of a CNAME target outside the zone, looked up through the whole
        server (CoreDNS: upstream.Lookup); its name error or failure becomes the rcode."""
        lookup = self._lookup or next
        query = make_query(result.external, request.query.qtype, request.query)
        found = await lookup(replace(request, query=query))
        rcode: int = Rcode.NOERROR
        records: tuple[Record, ...] = ()
        if found.answer is not None:
            rcode, records = found.answer.rcode, found.answer.answer
        elif found.wire is not None:
            rcode, records = answer_records(found.wire)
        answer = result.answer
        chain = (*answer.answer, *records)
        final = Rcode(rcode) if rcode in (Rcode.NXDOMAIN, Rcode.SERVFAIL) else Rcode.NOERROR
        merged = replace(answer, rcode=final, answer=chain)
        ttl = min(record.ttl for record in chain)
        return Response(self.name, answer=merged, cacheable=ttl > 0, scope=EVERYTHING, ttl=ttl)

    async def start(self) -> None:
        """Start checking the file every `reload` interval (none when it is 0)."""
        self._poller.start()

    async def stop(self) -> None:
        """Stop checking."""
        await self._poller.stop()

    async def check_once(self) -> bool:
        """Re-read the files; swap in the zones whose serial grew (any change with
        reload_by_mtime). A missing or bad file keeps the zones and is logged once."""
        paths = list(self._sources) or [self.config.path]
        try:
            current = await asyncio.to_thread(read_sources, paths, self._read)
        except (OSError, ConfigError) as exc:
            self._report(f"cannot read {self.config.path} or a file it includes: {exc}")
            return False
        if current == self._sources:
            self._problem = ""
            return False
        self._sources = current  # a bad version is parsed (and reported) only once
        try:
            self._sources, fresh = await asyncio.to_thread(load_zones, self.config, self._read)
        except (OSError, ConfigError) as exc:
            self._report(str(exc))
            return False
        self._problem = ""
        return self._swap(fresh)

    def _swap(self, fresh: Mapping[str, Zone]) -> bool:
        changed = [
            origin
            for origin, zone in fresh.items()
            if self.config.by_mtime or _newer(zone, self.zones.get(origin))
        ]
        if not changed:
            return False
        self.zones = {**self.zones, **{origin: fresh[origin] for origin in changed}}
        for origin in changed:
            serial = fresh[origin].serial
            logger.info(
                "plugin/file: reloaded zone %s from %s, serial %d", origin, self.config.path, serial
            )
        self._zone_changed([("file", origin) for origin in changed])
        return True

    def _report(self, problem: str) -> None:
        if problem != self._problem:
            logger.error("plugin/file: %s; serving the last good zone", problem)
            self._problem = problem


def _newer(zone: Zone, old: Zone | None) -> bool:
    """CoreDNS reloads only when the SOA serial grows (or nothing was loaded yet)."""
    return old is None or zone.serial > old.serial
