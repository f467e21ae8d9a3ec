"""The `hosts` handler: answers from the file and inline tables, and re-reads the file."""

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from clusterdns.clock import Clock
from clusterdns.corefile.lexer import CorefileError
from clusterdns.dns.names import address_from_reverse, longest_zone
from clusterdns.dns.records import Address, Answer, Rcode, Record, RType, Target
from clusterdns.periodic import Periodic
from clusterdns.plugin import Next, Request, Response, ZoneChange
from clusterdns.plugins.hosts.metrics import HostsMetrics
from clusterdns.plugins.hosts.options import HostsConfig
from clusterdns.plugins.hosts.table import EMPTY_TABLE, HostsTable, file_lines, parse_hosts

logger = logging.getLogger(__name__)
_KEPT = (RType.A, RType.AAAA, RType.PTR)  # the types whose responses are remembered per table

# What identifies one version of the file: inode (an atomic rename makes a new one), size
# and modification time. CoreDNS compares size and mtime only, which misses a same-size file
# renamed into place within one mtime tick.
FileStamp = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class FileRead:
    """One read of the hosts file: its stamp and text, or why it could not be read."""

    stamp: FileStamp | None
    text: str | None
    error: str | None = None


def read_hosts_file(path: str) -> FileRead:
    """Stat and read `path` (blocking: run it in a thread once serving)."""
    try:
        with open(path, encoding="utf-8") as handle:
            info = os.fstat(handle.fileno())
            stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
            return FileRead(stamp, handle.read())
    except FileNotFoundError:
        return FileRead(None, None, "does not exist")
    except (OSError, UnicodeDecodeError) as exc:
        return FileRead(None, None, str(exc))


class HostsHandler:
    """Serves A, AAAA and PTR from a hosts file plus inline lines; the file may change."""

    name = "hosts"

    def __init__(
        self,
        config: HostsConfig,
        inline: HostsTable,
        first: FileRead,
        clock: Clock,
        metrics: HostsMetrics,
        zone_changed: ZoneChange,
        read: Callable[[str], FileRead] = read_hosts_file,
    ) -> None:
        self.config = config
        self.inline = inline
        self.clock = clock
        self.metrics = metrics
        self.zone_changed = zone_changed
        self.read = read
        self.scope = ("hosts", id(self))  # the pre-encoded answers that depend on this table
        self.table = EMPTY_TABLE
        self.stamp: FileStamp | None = None
        # Responses for names in the tables, made once per table: bounded by its entries.
        self._made: dict[tuple[str, int], Response] = {}
        self._complaint: str | None = None  # the last problem logged, so it is logged once
        self._poller = Periodic(
            config.reload, self.check_once, f"plugin/hosts: re-reading {config.path}"
        )
        if first.text is None:
            logger.warning("plugin/hosts: %s %s", config.path, first.error)
            self._complaint = first.error
        else:
            # Bad lines at load are a CorefileError: the stanza is refused, as for any typo.
            self._install(first.stamp, self._parse(first.text))

    async def serve(self, request: Request, next: Next) -> Response:
        """Answer from the tables, or pass the query on (see `answer`)."""
        response = self.answer(request)
        return response if response is not None else await next(request)

    def answer(self, request: Request) -> Response | None:
        """The reply CoreDNS's hosts plugin gives, or None to pass to the next plugin."""
        query = request.query
        key = (query.name, query.qtype)
        made = self._made.get(key)
        if made is not None:
            return made
        response = self._make(query.name, query.qtype)
        if response is not None and response.cacheable and query.qtype in _KEPT:
            self._made[key] = response
        return response

    def _make(self, name: str, qtype: int) -> Response | None:
        config = self.config
        if qtype == RType.PTR:
            address = address_from_reverse(name)
            names = self._names(address) if address is not None else ()
            if not names:
                return None  # CoreDNS passes unknown reverse names on, fallthrough or not
            records = tuple(Record(name, RType.PTR, config.ttl, Target(n)) for n in names)
            return self._reply(Answer(Rcode.NOERROR, records, authoritative=True))
        if longest_zone(name, config.zones) is None:
            return None
        v4, v6 = self._addresses(name, False), self._addresses(name, True)
        if qtype == RType.A:
            records = tuple(Record(name, RType.A, config.ttl, Address(a)) for a in v4)
        elif qtype == RType.AAAA:
            records = tuple(Record(name, RType.AAAA, config.ttl, Address(a)) for a in v6)
        else:
            records = ()
            if config.fallthrough_unsupported and config.falls_through(name):
                return None
        if not v4 and not v6:
            if config.falls_through(name):
                return None
            # CoreDNS: no SOA to make an NXDOMAIN with, so SERVFAIL says "cannot resolve".
            return Response(self.name, answer=Answer(Rcode.SERVFAIL))
        return self._reply(Answer(Rcode.NOERROR, records, authoritative=True))

    def _reply(self, answer: Answer) -> Response:
        return Response(self.name, answer=answer, cacheable=True, scope=self.scope)

    def _addresses(self, name: str, v6: bool) -> tuple[str, ...]:
        # The file's entries first, then the inline ones, as CoreDNS appends them.
        return self.table.addresses(name, v6) + self.inline.addresses(name, v6)

    def _names(self, address: str) -> tuple[str, ...]:
        return self.table.names.get(address, ()) + self.inline.names.get(address, ())

    def _parse(self, text: str) -> HostsTable:
        lines = file_lines(text, self.config.path)
        return parse_hosts(lines, self.config.zones, self.config.reverse)

    def _install(self, stamp: FileStamp | None, table: HostsTable) -> None:
        self.table, self.stamp = table, stamp
        self._made = {}
        self._complaint = None
        count = table.entries() + self.inline.entries()
        self.metrics.entries.labels(self.config.path).set(count)
        self.metrics.reload_timestamp.set(self.clock.wall())
        self.zone_changed((self.scope,))

    async def check_once(self) -> bool:
        """Re-read the file if it changed; True when a new table was installed.

        A file that disappears or turns bad keeps the last good table, and the problem is
        logged once until it changes (CoreDNS keeps serving what it has, too).
        """
        found = await asyncio.to_thread(self.read, self.config.path)
        if found.text is None:
            self._complain(f"{self.config.path} {found.error}; keeping the last good entries")
            return False
        if found.stamp == self.stamp:
            return False
        try:
            table = self._parse(found.text)
        except CorefileError as exc:
            self._complain(f"{exc}; keeping the last good entries")
            return False
        self._install(found.stamp, table)
        logger.info("plugin/hosts: %s reloaded, %d entries", self.config.path, table.entries())
        return True

    def _complain(self, problem: str) -> None:
        if problem != self._complaint:
            logger.warning("plugin/hosts: %s", problem)
            self._complaint = problem

    async def start(self) -> None:
        """Start re-reading the file every `reload` seconds (0: never)."""
        self._poller.start()

    async def stop(self) -> None:
        """Stop re-reading."""
        await self._poller.stop()
