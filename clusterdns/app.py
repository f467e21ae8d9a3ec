"""Wiring: a Corefile into servers and their listeners, reload, and the process's start and stop."""

import asyncio
import glob
import logging
import os
import random
import signal
from collections.abc import Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry

from clusterdns.assembly import Server, build_servers
from clusterdns.clock import Clock, SystemClock
from clusterdns.corefile.parser import ReadImport, parse_corefile
from clusterdns.errors import ConfigError
from clusterdns.plugin import ReadyReporter, Reloader, SetupContext, Shared
from clusterdns.server.connections import TcpLimits
from clusterdns.server.http import HttpListeners
from clusterdns.server.listener import Listener
from clusterdns.server.metrics import ServerCollector
from clusterdns.server.readiness import Readiness

logger = logging.getLogger(__name__)

GENERATED = "serve flags"  # the file name of a Corefile made from flags: not re-read by reload
READY_DEADLINE = 5.0  # seconds a reload waits for new plugins, as CoreDNS waits for a first sync


class App:
    """One running clusterdns: the servers of a Corefile, the process-wide objects they share.

    Each server owns its plugins' lifecycle and its listener (sockets, dispatcher, answer
    stores); the app owns the metrics registry, /ready, the HTTP listeners, and reload.
    """

    def __init__(
        self,
        corefile: str,
        filename: str = "Corefile",
        *,
        default_port: int = 53,
        tcp_limits: TcpLimits | None = None,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
        shared: Shared | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self.tcp_limits = tcp_limits or TcpLimits()
        self.registry = CollectorRegistry()
        self.collector = ServerCollector()
        self.registry.register(self.collector)
        self.shared = shared or Shared()
        self.readiness = self.shared.get("ready", Readiness, Readiness)
        self.http = self.shared.get("http", HttpListeners, HttpListeners)
        self.filename = filename
        self.default_port = default_port
        self.process = SetupContext(
            zones=(),
            registry=self.registry,
            clock=self.clock,
            # SystemRandom: upstream query ids and probe names must not be predictable.
            rng=random.SystemRandom(),
            read_file=read_text,
            shared=self.shared,
            environ=dict(os.environ if environ is None else environ),
        )
        self.servers: list[Server] = self._build(corefile)
        reloader = self.shared.get("reload", Reloader, Reloader)
        if filename != GENERATED:
            reloader.read = lambda: read_text(filename)
        reloader.apply = self.reload

    def _build(self, corefile: str) -> list[Server]:
        """Set up every plugin of `corefile` (ConfigError, with file:line, when it cannot)."""
        read_import = import_reader(self.filename)
        parsed = parse_corefile(corefile, self.filename, self.process.environ, read_import)
        return build_servers(parsed, self.process, self.default_port)

    def _adopt(self, servers: list[Server]) -> None:
        """Make `servers` the ones metrics and /ready describe."""
        self.collector.servers = [server.counters for server in servers]
        self.collector.plugins = [
            (server.counters.server, zone, name)
            for server in servers
            for block in server.blocks
            for zone in block.zones
            for name, _ in server.plugins
        ]
        self.readiness.reporters = [
            (name, plugin)
            for server in servers
            for name, plugin in server.plugins
            if isinstance(plugin, ReadyReporter)
        ]

    async def start(self) -> list[tuple[str, int]]:
        """Bind every server's sockets and the HTTP listeners, then start the plugins."""
        self._adopt(self.servers)
        for server in self.servers:
            await server.listen(self.tcp_limits, self.clock)
        await self.http.start()
        for server in self.servers:
            await server.start_plugins()
        return self.addresses

    async def reload(self, corefile: str) -> bool:
        """Swap in `corefile`'s servers; on any problem keep the running ones (and count it).

        As CoreDNS does, listeners whose address (port and bind addresses) stays are kept and
        handed the new chains; new addresses are bound, dropped ones closed. Pairing is by
        address, never by position, so reordering server blocks cannot cross-wire them.
        """
        try:
            servers = await self._prepare(corefile)
        except ConfigError as exc:
            self.collector.reload_failures += 1
            logger.error("plugin/reload: keeping the running Corefile: %s", exc)
            return False
        await self.http.start()
        for server in servers:
            await server.start_plugins()
        await _wait_ready(servers, READY_DEADLINE)
        await self._swap(servers)
        logger.info("plugin/reload: running the new Corefile")
        return True

    async def _prepare(self, corefile: str) -> list[Server]:
        """`corefile`'s servers, each given the running listener of its address or a new one.

        ConfigError (with nothing left bound) when the Corefile is bad or an address cannot be
        listened on; until the swap, kept listeners still route to the running chains.
        """
        running = {s.listen_address: s.listener for s in self.servers if s.listener}
        opened: list[Listener] = []
        try:
            servers = self._build(corefile)
            for server in servers:
                kept = running.get(server.listen_address)
                if kept is not None:
                    server.take_over(kept)
                else:
                    opened.append(await server.listen(self.tcp_limits, self.clock))
        except ConfigError:
            for listener in opened:
                await listener.close()
            raise
        return servers

    async def _swap(self, servers: list[Server]) -> None:
        """Route every listener to `servers`' chains, close dropped ones, stop the old plugins."""
        old, self.servers = self.servers, servers
        self._adopt(servers)
        for server in servers:
            server.serve_on_listener(self.tcp_limits)
        kept = {id(server.listener) for server in servers}
        for server in old:
            if server.listener is not None and id(server.listener) not in kept:
                await server.listener.close()
        for server in servers:
            server.zone_changed(None)
        for server in old:
            await server.stop_plugins()

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Every bound DNS address, in server order."""
        return [a for s in self.servers if s.listener is not None for a in s.listener.bound]

    @property
    def lameduck(self) -> float:
        """How long to keep answering after SIGTERM (the longest `health` lameduck)."""
        return max((server.lameduck for server in self.servers), default=0.0)

    async def stop(self, lameduck: float = 0.0) -> None:
        """Turn /ready 503, keep answering for `lameduck` seconds, then stop everything."""
        self.readiness.stopping = True
        if lameduck > 0:
            logger.info("lameduck: answering for %.1fs more", lameduck)
            await asyncio.sleep(lameduck)
        for server in self.servers:
            await server.stop_plugins()
        for server in self.servers:
            if server.listener is not None:
                await server.listener.close()
        await self.http.stop()


async def _wait_ready(servers: list[Server], deadline: float) -> None:
    """Wait (at most `deadline`) for the new servers' plugins; swap anyway after it."""
    waits = [plugin.wait_ready() for server in servers for plugin in server.awaited()]
    try:
        async with asyncio.timeout(deadline):
            await asyncio.gather(*waits)
    except TimeoutError:
        logger.warning("plugin/reload: new plugins not ready after %.0fs; swapping", deadline)


def read_text(path: str) -> str:
    """A file's text (setups read /etc/resolv.conf through this)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None


_GLOB = frozenset("*?[")


def import_reader(corefile: str) -> ReadImport:
    """How `import PATTERN` reads files: relative to the importing file's folder, globs expanded.

    As in CoreDNS (Caddy), a relative pattern is taken from the folder of the file that holds
    the `import` (the Corefile, or an imported file), a glob matching nothing is only a warning
    (AKS and k3s import `custom/*.override` whether or not a user added one), and a literal
    path that cannot be read is an error. Matches are read in sorted order, as Go's
    filepath.Glob returns them; folders that match are skipped.
    """
    generated = corefile == GENERATED  # no file: relative to the working directory

    def read(pattern: str, importer: str) -> list[tuple[str, str]]:
        base = Path.cwd() if generated and importer == corefile else Path(importer).parent
        path = str(base / pattern)  # an absolute pattern stays as it is
        if _GLOB.isdisjoint(pattern):
            return [(path, _read_import(path))]
        matches = [m for m in sorted(glob.glob(path, include_hidden=True)) if Path(m).is_file()]
        if not matches:
            logger.warning("import: no files match %s; importing nothing", path)
        return [(match, _read_import(match)) for match in matches]

    return read


def _read_import(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc}") from None


async def run(app: App) -> None:
    """Start `app`, log where it listens, run until SIGINT or SIGTERM, then shut down."""
    bound = await app.start()
    logger.info("clusterdns serving on %s (udp, tcp)", ", ".join(f"{a}:{p}" for a, p in bound))
    for name, address in app.http.bound.items():
        logger.info("http %s on %s:%d", name, *address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await app.stop(app.lameduck)
