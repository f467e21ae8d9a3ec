"""Wiring: a Corefile into servers, servers into sockets, and the process's start and stop."""

import asyncio
import ctypes
import glob
import ipaddress
import logging
import os
import random
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from prometheus_client import CollectorRegistry

from clusterdns.clock import Clock, SystemClock
from clusterdns.config import Environment, Server, build_servers
from clusterdns.corefile.parser import ReadImport, parse_corefile
from clusterdns.errors import ConfigError
from clusterdns.plugin import Lifecycle, ReadyReporter, Shared
from clusterdns.plugins.forward.setup import parse_upstream
from clusterdns.plugins.ready.setup import Readiness
from clusterdns.plugins.reload.setup import Reloader
from clusterdns.plugins.timeouts.setup import Timeouts
from clusterdns.server.connections import DEFAULT_TCP_LIMITS, TcpLimits
from clusterdns.server.dispatch import Dispatcher
from clusterdns.server.hotpath import AnswerCache
from clusterdns.server.http import HttpListeners
from clusterdns.server.metrics import ServerCollector
from clusterdns.server.tcp import TcpServer
from clusterdns.server.udp import UdpServer

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What `clusterdns serve` was asked to do; it becomes a Corefile (`serve_corefile`)."""

    manifests: tuple[str, ...] = ()
    kubeconfig: str | None = None
    context: str | None = None
    api_server: str | None = None
    token_file: str | None = None
    ca_file: str | None = None
    insecure: bool = False
    dns_addrs: tuple[str, ...] = ("0.0.0.0",)
    dns_port: int = 53
    upstreams: tuple[str, ...] = ()
    ttl: int = 30
    tcp_idle_timeout: float = DEFAULT_TCP_LIMITS.idle_timeout
    tcp_write_timeout: float = DEFAULT_TCP_LIMITS.write_timeout
    tcp_max_connections: int = DEFAULT_TCP_LIMITS.max_connections
    tcp_max_per_client: int = DEFAULT_TCP_LIMITS.max_per_client
    http_addr: str | None = None
    resolv_conf: str = "/etc/resolv.conf"


def _quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def check_flags(options: ServeOptions) -> None:
    """ConfigError naming the flag when one of `serve`'s flags has a value it cannot take.

    Each is checked here, before it becomes a Corefile token, so the error names the flag the
    user typed rather than a line of a Corefile they never wrote.
    """
    for address in options.dns_addrs:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ConfigError(f"--dns-addr: not an IP address: {address!r}") from None
    if not 0 <= options.dns_port <= 65535:
        raise ConfigError(f"--dns-port: must be 0..65535, got {options.dns_port}")
    if not 0 <= options.ttl <= 3600:  # the kubernetes plugin's ttl range, as in CoreDNS
        raise ConfigError(f"--ttl: must be 0..3600, got {options.ttl}")
    if not options.tcp_idle_timeout > 0:
        raise ConfigError(
            f"--tcp-idle-timeout: must be more than 0, got {options.tcp_idle_timeout}"
        )
    if options.http_addr is not None:
        port = options.http_addr.rpartition(":")[2]
        if ":" not in options.http_addr or not port.isdigit() or int(port) > 65535:
            raise ConfigError(f"--http-addr: want HOST:PORT or :PORT, got {options.http_addr!r}")
    if options.manifests and (options.kubeconfig or options.api_server):
        raise ConfigError("--manifests cannot be combined with --kubeconfig or --api-server")
    for path in options.manifests:
        if not Path(path).exists():
            raise ConfigError(f"--manifests: {path}: no such file or folder")
    for text in options.upstreams:
        try:
            parse_upstream(text)
        except ConfigError as exc:
            raise ConfigError(f"--upstream: {exc}") from None


def serve_corefile(options: ServeOptions) -> str:
    """The Corefile equivalent to `serve`'s flags: kind's default, fed as the flags say."""
    check_flags(options)
    upstreams = [str(parse_upstream(u)) for u in options.upstreams] or [options.resolv_conf]
    source: list[str] = []
    if options.manifests:
        source.append("manifests " + " ".join(_quote(p) for p in options.manifests))
    if options.api_server:
        source.append(f"endpoint {_quote(options.api_server)}")
    if options.kubeconfig:
        source.append(f"kubeconfig {_quote(options.kubeconfig)} {options.context or ''}".rstrip())
    elif options.context:
        raise ConfigError("--context needs --kubeconfig")
    if options.token_file:
        source.append(f"token_file {_quote(options.token_file)}")
    if options.ca_file:
        source.append(f"ca_file {_quote(options.ca_file)}")
    if options.insecure:
        source.append("insecure_skip_tls_verify")
    http = []
    if options.http_addr:
        http = [
            f"health {options.http_addr}",
            f"ready {options.http_addr}",
            f"prometheus {options.http_addr}",
        ]
    lines = [
        f".:{options.dns_port} {{",
        "    bind " + " ".join(options.dns_addrs),
        "    errors",
        *(f"    {line}" for line in http),
        "    kubernetes cluster.local in-addr.arpa ip6.arpa {",
        "        pods insecure",
        "        fallthrough in-addr.arpa ip6.arpa",
        f"        ttl {options.ttl}",
        *(f"        {line}" for line in source),
        "    }",
        f"    forward . {' '.join(upstreams)} {{",
        "        max_concurrent 1000",
        "    }",
        "    cache 30 {",
        "        disable success cluster.local",
        "        disable denial cluster.local",
        "    }",
        "    loadbalance",
        "}",
    ]
    return "\n".join(lines) + "\n"


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
    generated = corefile == "serve flags"  # no file: relative to the working directory

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


ListenKey = tuple[int, tuple[str, ...]]  # configured port, bind addresses
ANSWER_ENTRIES = 50_000  # pre-encoded replies kept per UDP socket when the hot path is on


def listen_key(server: Server) -> ListenKey:
    """What identifies a server's listeners across reloads: its port and bind addresses."""
    return server.port, server.addresses


def _answer_entries(server: Server) -> int:
    return ANSWER_ENTRIES if server.hot_path else 0


@dataclass
class Listening:
    """The sockets of one server address: its dispatcher, UDP and TCP servers, answer caches."""

    dispatcher: Dispatcher
    udp: list[UdpServer]
    tcp: list[TcpServer]
    caches: list[AnswerCache]
    bound: list[tuple[str, int]]

    async def close(self) -> None:
        """Stop serving on these sockets."""
        for udp in self.udp:
            udp.close()
        for tcp in self.tcp:
            await tcp.close()


class App:
    """One running clusterdns: servers built from a Corefile, their sockets and plugins."""

    def __init__(
        self,
        corefile: str,
        filename: str = "Corefile",
        *,
        default_port: int = 53,
        tcp_idle_timeout: float | None = None,
        tcp_limits: TcpLimits | None = None,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
        shared: Shared | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self.tcp_limits = tcp_limits or TcpLimits()
        if tcp_idle_timeout is not None:
            self.tcp_limits = replace(self.tcp_limits, idle_timeout=tcp_idle_timeout)
        self.registry = CollectorRegistry()
        self.collector = ServerCollector()
        self.registry.register(self.collector)
        self.shared = shared or Shared()
        self.readiness = self.shared.get("ready", Readiness, Readiness)
        self.http = self.shared.get("http", HttpListeners, HttpListeners)
        self.filename = filename
        self.default_port = default_port
        env = dict(os.environ if environ is None else environ)
        self.environment = Environment(
            # SystemRandom: upstream query ids and probe names must not be predictable.
            self.registry,
            self.clock,
            random.SystemRandom(),
            read_text,
            env,
            self.shared,
        )
        self.servers: list[Server] = self._build(corefile)
        reloader = self.shared.get("reload", Reloader, Reloader)
        if filename != "serve flags":
            reloader.read = lambda: read_text(filename)
        reloader.apply = self.reload
        self._listening: dict[ListenKey, Listening] = {}  # by port and bind addresses
        self.dispatchers: list[Dispatcher] = []
        self._bound: dict[int, tuple[str, int]] = {}  # configured port → first bound address
        self.udp: list[UdpServer] = []
        self.tcp: list[TcpServer] = []
        self.addresses: list[tuple[str, int]] = []

    @classmethod
    def from_options(
        cls, options: ServeOptions, clock: Clock | None = None, shared: Shared | None = None
    ) -> "App":
        """The app `clusterdns serve` runs: its flags as a generated Corefile."""
        return cls(
            serve_corefile(options),
            "serve flags",
            tcp_limits=TcpLimits(
                idle_timeout=options.tcp_idle_timeout,
                write_timeout=options.tcp_write_timeout,
                max_connections=options.tcp_max_connections,
                max_per_client=options.tcp_max_per_client,
            ),
            clock=clock,
            shared=shared,
        )

    def _build(self, corefile: str) -> list[Server]:
        """Set up every plugin of `corefile` (ConfigError, with file:line, when it cannot)."""
        read_import = import_reader(self.filename)
        parsed = parse_corefile(corefile, self.filename, self.environment.environ, read_import)
        return build_servers(parsed, self.environment, self.default_port)

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

    async def reload(self, corefile: str) -> bool:
        """Swap in `corefile`'s servers; on any problem keep the running ones (and count it).

        As CoreDNS does, listeners whose address (port and bind addresses) stays are kept and
        handed the new chains; new addresses are bound, dropped ones closed. Pairing is by
        address, never by position, so reordering server blocks cannot cross-wire them.
        """
        opened: dict[ListenKey, Listening] = {}
        try:
            servers = self._build(corefile)
            for server in servers:
                kept = self._listening.get(listen_key(server))
                if kept is not None:
                    server.counters = kept.dispatcher.counters
                    server.caches = kept.caches
                elif listen_key(server) not in opened:
                    opened[listen_key(server)] = await self._listen(server)
        except ConfigError as exc:
            for listening in opened.values():
                await listening.close()
            self.collector.reload_failures += 1
            logger.error("plugin/reload: keeping the running Corefile: %s", exc)
            return False
        for server in servers:
            for cache in server.caches:
                # `log` or `acl` added by the reload: no more pre-encoded replies (and back).
                cache.max_entries = _answer_entries(server)
        await self.http.start()
        await _start_plugins(servers, self._first_bound({**self._listening, **opened}))
        await self._wait_ready(servers, deadline=5.0)
        old, self.servers = self.servers, servers
        self._adopt(servers)
        previous, self._listening = self._listening, {}
        for server in servers:
            key = listen_key(server)
            listening = opened.get(key) or previous[key]
            listening.dispatcher.replace_blocks(server.blocks)
            for tcp in listening.tcp:  # a kept listener takes the new `timeouts` too
                tcp.set_limits(_tcp_limits(self.tcp_limits, server))
            self._listening[key] = listening
        for key, listening in previous.items():
            if key not in self._listening:
                await listening.close()
        self._index()
        for server in servers:
            server.zone_changed(None)
        await _stop_plugins(old)
        logger.info("plugin/reload: running the new Corefile")
        return True

    async def _wait_ready(self, servers: list[Server], deadline: float) -> None:
        """Wait (at most `deadline`, as CoreDNS waits for its first sync) for new plugins."""
        waits = [
            wait()
            for s in servers
            for _, p in s.plugins
            if (wait := getattr(p, "wait_ready", None))
        ]
        try:
            async with asyncio.timeout(deadline):
                await asyncio.gather(*waits)
        except TimeoutError:
            logger.warning("plugin/reload: new plugins not ready after %.0fs; swapping", deadline)

    def plugins(self, name: str) -> list[object]:
        """Every set-up plugin called `name`, across servers."""
        return [plugin for server in self.servers for n, plugin in server.plugins if n == name]

    async def start(self) -> list[tuple[str, int]]:
        """Bind every server's sockets and the HTTP listeners, then start the plugins."""
        self._adopt(self.servers)
        for server in self.servers:
            self._listening[listen_key(server)] = await self._listen(server)
        self._index()
        await self.http.start()
        await _start_plugins(self.servers, self._bound)
        return self.addresses

    async def _listen(self, server: Server) -> "Listening":
        """Bind and start the UDP and TCP sockets of `server` (ConfigError if it cannot)."""
        dispatcher = Dispatcher(server.blocks, counters=server.counters)
        listening = Listening(dispatcher, [], [], [], [])
        port = server.port
        try:
            for address in server.addresses:
                udp_sock, tcp_sock = _bind_pair(address, port)
                port = udp_sock.getsockname()[1]  # port 0: every address shares the first pick
                cache = AnswerCache(max_entries=_answer_entries(server))
                udp = UdpServer(udp_sock, dispatcher, cache)
                udp.start()
                tcp = TcpServer(tcp_sock, dispatcher, _tcp_limits(self.tcp_limits, server))
                listening.udp.append(udp)
                listening.caches.append(cache)
                listening.bound.append((address, port))
                await tcp.start()
                listening.tcp.append(tcp)
        except ConfigError:
            await listening.close()
            raise
        server.caches = listening.caches
        return listening

    def _index(self) -> None:
        """Refresh the flat views (dispatchers, sockets, addresses) in server order."""
        ordered = [self._listening[listen_key(server)] for server in self.servers]
        self.dispatchers = [listening.dispatcher for listening in ordered]
        self.udp = [udp for listening in ordered for udp in listening.udp]
        self.tcp = [tcp for listening in ordered for tcp in listening.tcp]
        self.addresses = [bound for listening in ordered for bound in listening.bound]
        self._bound = self._first_bound(self._listening)

    @staticmethod
    def _first_bound(listening: Mapping["ListenKey", "Listening"]) -> dict[int, tuple[str, int]]:
        """Configured port → the first address bound for it (what `loop` probes)."""
        found: dict[int, tuple[str, int]] = {}
        for (port, _), each in listening.items():
            if each.bound:
                found.setdefault(port, each.bound[0])
        return found

    def ready(self) -> bool:
        """True when every plugin that reports readiness is ready, until shutdown begins."""
        return not self.readiness.stopping and not self.readiness.not_ready()

    @property
    def lameduck(self) -> float:
        """How long to keep answering after SIGTERM (the longest `health` lameduck)."""
        return max((getattr(p, "lameduck", 0.0) for p in self.plugins("health")), default=0.0)

    async def stop(self, lameduck: float = 0.0) -> None:
        """Turn /ready 503, keep answering for `lameduck` seconds, then stop everything."""
        self.readiness.stopping = True
        if lameduck > 0:
            logger.info("lameduck: answering for %.1fs more", lameduck)
            await asyncio.sleep(lameduck)
        await _stop_plugins(self.servers)
        for listening in self._listening.values():
            await listening.close()
        await self.http.stop()

    # Views the tests and the CLI use: the first server's pieces.

    @property
    def dispatcher(self) -> Dispatcher:
        """The first server's dispatcher."""
        return self.dispatchers[0]

    @property
    def answers(self) -> AnswerCache:
        """The first listener's pre-encoded answers."""
        return self.servers[0].caches[0]

    @property
    def http_address(self) -> tuple[str, int] | None:
        """The first HTTP listener's bound address."""
        return next(iter(self.http.bound.values()), None)


async def _start_plugins(servers: list[Server], bound: Mapping[int, tuple[str, int]]) -> None:
    for server in servers:
        for _, plugin in server.plugins:
            aim = getattr(plugin, "aim", None)  # the loop plugin probes our own address
            if aim is not None and server.port in bound:
                aim(bound[server.port])
            if isinstance(plugin, Lifecycle):
                await plugin.start()


async def _stop_plugins(servers: list[Server]) -> None:
    for server in servers:
        for _, plugin in server.plugins:
            if isinstance(plugin, Lifecycle):
                await plugin.stop()


def _tcp_limits(limits: TcpLimits, server: Server) -> TcpLimits:
    """`limits` as the server's `timeouts` stanzas change them (the last one wins, as CoreDNS)."""
    for _, plugin in server.plugins:
        if isinstance(plugin, Timeouts):
            limits = plugin.apply(limits)
    return limits


def _bind_pair(address: str, port: int) -> tuple[socket.socket, socket.socket]:
    """A UDP and a listening TCP socket on the same address and port."""
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    for _ in range(20 if port == 0 else 1):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        tcp = socket.socket(family, socket.SOCK_STREAM)
        try:
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            udp.bind((address, port))
            tcp.bind((address, udp.getsockname()[1]))
            tcp.listen(DEFAULT_TCP_LIMITS.backlog)  # TcpServer.start listens again with its limits
            tcp.setblocking(False)
            return udp, tcp
        except OSError as exc:
            udp.close()
            tcp.close()
            if port != 0:
                raise ConfigError(f"cannot listen on {address} port {port}: {exc}") from None
    raise ConfigError(f"cannot find a free port on {address} for both UDP and TCP")


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


def tune_allocator() -> None:
    """Make glibc return freed memory: fixed mmap threshold, two arenas (no-op elsewhere).

    With glibc's defaults, each reflector thread gets its own malloc arena and the mmap
    threshold grows after the first large free, so the 300 KiB list pages of a big sync stay
    in the heap: ~8 MiB more RSS at 100k Services. The values are those of the
    MALLOC_MMAP_THRESHOLD_ and MALLOC_ARENA_MAX variables, which still win when set.
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 128 * 1024)
        libc.mallopt(_M_ARENA_MAX, 2)
    except (OSError, AttributeError):
        logger.debug("not glibc: allocator left as it is")


_M_MMAP_THRESHOLD = -3  # glibc malloc.h
_M_ARENA_MAX = -8


def configure_logging() -> None:
    """CoreDNS-style log lines on stdout: `[LEVEL] message`."""
    level = os.environ.get("CLUSTERDNS_LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler(stream=sys.stdout)
    logging.basicConfig(level=level, format="[%(levelname)s] %(message)s", handlers=[handler])
