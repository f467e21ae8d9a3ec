"""Wiring: sources into the store, snapshots into handlers, chains into listening sockets."""

import asyncio
import ctypes
import gc
import ipaddress
import logging
import os
import random
import signal
import socket
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from clusterdns import __version__
from clusterdns.chain import Chain
from clusterdns.clock import Clock, SystemClock
from clusterdns.errors import ConfigError
from clusterdns.plugin import Handler
from clusterdns.plugins.forward.handler import ForwardHandler
from clusterdns.plugins.forward.setup import Upstream, parse_resolv_conf, parse_upstream
from clusterdns.plugins.forward.setup import make_config as make_forward_config
from clusterdns.plugins.forward.upstream import NetworkExchanger
from clusterdns.plugins.kubernetes.answer import changed_scopes
from clusterdns.plugins.kubernetes.feed import ZoneFeed
from clusterdns.plugins.kubernetes.handler import KubernetesHandler
from clusterdns.plugins.kubernetes.manifests import parse_manifests
from clusterdns.plugins.kubernetes.metrics import KubernetesMetrics
from clusterdns.plugins.kubernetes.objects import (
    ENDPOINT_SLICE,
    ENDPOINTS,
    NAMESPACE,
    POD,
    SERVICE,
    ClusterObject,
)
from clusterdns.plugins.kubernetes.setup import make_config as make_kubernetes_config
from clusterdns.plugins.kubernetes.snapshot import SnapshotHolder, ZoneSnapshot, build_snapshot
from clusterdns.plugins.kubernetes.store import Changes, ObjectStore, kind_of
from clusterdns.server.dispatch import Dispatcher, ServerBlock
from clusterdns.server.hotpath import AnswerCache
from clusterdns.server.http import HttpReply, HttpServer

if TYPE_CHECKING:  # the kubernetes package costs ~30 MiB and 0.25 s; manifest mode skips it
    from clusterdns.plugins.kubernetes.client import KubeClient
    from clusterdns.plugins.kubernetes.reflector import Reflectors, ReflectorSettings
from clusterdns.server.tcp import TcpServer
from clusterdns.server.udp import UdpServer

logger = logging.getLogger(__name__)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
ALL_KINDS = (NAMESPACE, SERVICE, ENDPOINT_SLICE, ENDPOINTS, POD)


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What `clusterdns serve` was asked to do."""

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
    tcp_idle_timeout: float = 10.0
    http_addr: str | None = None
    resolv_conf: str = "/etc/resolv.conf"
    reflector_settings: "ReflectorSettings | None" = None


def manifest_files(paths: Iterable[str]) -> list[Path]:
    """The files named, and the YAML/JSON files inside folders named (sorted, recursive)."""
    files: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in MANIFEST_SUFFIXES))
        elif path.exists():
            files.append(path)
        else:
            raise ConfigError(f"{text}: no such file or folder")
    return files


def load_manifests(paths: Iterable[str]) -> list[ClusterObject]:
    """Every object in the manifests; ConfigError listing one line per bad document."""
    objects: list[ClusterObject] = []
    problems: list[str] = []
    for path in manifest_files(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot read: {exc}")
            continue
        parsed = parse_manifests(text, str(path))
        objects.extend(parsed.objects)
        problems.extend(str(error) for error in parsed.errors)
    if problems:
        raise ConfigError("\n".join(problems))
    return objects


def default_upstreams(options: ServeOptions) -> tuple[Upstream, ...]:
    """--upstream values, or the nameservers of resolv.conf."""
    if options.upstreams:
        return tuple(parse_upstream(text) for text in options.upstreams)
    try:
        text = Path(options.resolv_conf).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{options.resolv_conf}: cannot read: {exc}") from None
    return parse_resolv_conf(text)


class App:
    """One running clusterdns: store, snapshots, chain, listeners and the source feeding them."""

    def __init__(self, options: ServeOptions, clock: Clock | None = None) -> None:
        self.options = options
        self.clock = clock or SystemClock()
        self.registry = CollectorRegistry()
        self.store = ObjectStore()
        self.holder = SnapshotHolder()
        self.answers = AnswerCache()
        self.holder.subscribe(self._invalidate_answers)
        kubernetes = make_kubernetes_config(ttl=options.ttl, ns_addresses=_ns_addresses(options))
        forward = make_forward_config(default_upstreams(options))
        self.upstreams = forward.upstreams
        handlers: list[Handler] = [
            KubernetesHandler(kubernetes, self.holder),
            ForwardHandler(forward, NetworkExchanger(), random.Random()),
        ]
        self.dispatcher = Dispatcher([ServerBlock((".",), Chain(handlers))], self.answers)
        self.feed = ZoneFeed(self.store, self.holder, self.clock, KubernetesMetrics(self.registry))
        self.reflectors: Reflectors | None = None
        self._client: KubeClient | None = None
        self.stopping = False
        self._frozen = False
        self.udp: list[UdpServer] = []
        self.tcp: list[TcpServer] = []
        self.http: HttpServer | None = None
        self.addresses: list[tuple[str, int]] = []
        self.http_address: tuple[str, int] | None = None

    def _invalidate_answers(self, snapshot: ZoneSnapshot, changes: Changes | None) -> None:
        self.answers.invalidate(None if changes is None else changed_scopes(changes))
        if snapshot.synced and not self._frozen:
            # The first full zone is long-lived: keep the cyclic GC from rescanning its million
            # objects (a full collection at 100k Services stalls the loop for ~0.3 s).
            gc.freeze()
            self._frozen = True

    def load(self, objects: Iterable[ClusterObject]) -> None:
        """Make `objects` the whole cluster and publish the snapshot (manifest mode)."""
        by_kind: dict[str, list[ClusterObject]] = {kind: [] for kind in ALL_KINDS}
        for obj in objects:
            by_kind[kind_of(obj)].append(obj)
        for kind, items in by_kind.items():
            self.store.replace(kind, items)
        self.store.take_changes()
        snapshot = build_snapshot(self.store, None, None, int(self.clock.wall()), synced=True)
        self.holder.publish(snapshot)

    def connect(self) -> str:
        """Prepare the live API source (ConfigError when no config is usable); returns its name."""
        from clusterdns.plugins.kubernetes.client import (
            ENDPOINT_SLICES,
            NAMESPACES,
            SERVICES,
            KubeClient,
            load_api_config,
        )
        from clusterdns.plugins.kubernetes.reflector import Reflectors

        options = self.options
        token = _read_secret(options.token_file) if options.token_file else None
        config = load_api_config(
            options.kubeconfig,
            options.context,
            options.api_server,
            token,
            options.ca_file,
            options.insecure,
        )
        self._client = KubeClient(config)
        self.reflectors = Reflectors(
            self._client,
            self.store,
            (SERVICES, ENDPOINT_SLICES, NAMESPACES),
            on_change=self.feed.notify,
            on_synced=self.feed.mark_synced,
            settings=options.reflector_settings,
            clock=self.clock,
        )
        return f"{config.source} ({config.host})"

    async def start(self) -> list[tuple[str, int]]:
        """Bind every listener, then start the API source if there is one."""
        port = self.options.dns_port
        for address in self.options.dns_addrs:
            udp_sock, tcp_sock = _bind_pair(address, port)
            port = udp_sock.getsockname()[1]  # port 0: every address shares the first pick
            udp = UdpServer(udp_sock, self.dispatcher)
            udp.start()
            tcp = TcpServer(tcp_sock, self.dispatcher, self.options.tcp_idle_timeout)
            await tcp.start()
            self.udp.append(udp)
            self.tcp.append(tcp)
            self.addresses.append((address, port))
        if self.options.http_addr:
            await self._start_http(self.options.http_addr)
        if self.reflectors is not None:
            self.feed.start()
            self.reflectors.start()
        return self.addresses

    def ready(self) -> bool:
        """True once every watched resource has synced, until shutdown begins."""
        return self.holder.current.synced and not self.stopping

    async def stop(self) -> None:
        """Stop the source and close every listener."""
        self.stopping = True
        if self.reflectors is not None:
            await asyncio.to_thread(self.reflectors.stop)
        if self._client is not None:
            self._client.close()
        await self.feed.stop()
        for udp in self.udp:
            udp.close()
        for tcp in self.tcp:
            await tcp.close()
        if self.http is not None:
            await self.http.close()

    async def _start_http(self, text: str) -> None:
        host, port = _split_host_port(text)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(64)
        except OSError as exc:
            sock.close()
            raise ConfigError(f"--http-addr {text}: cannot listen: {exc}") from None
        self.http_address = sock.getsockname()[:2]
        self.http = HttpServer(
            sock,
            {
                "/health": lambda: HttpReply(200, b"OK"),
                "/ready": self._ready_reply,
                "/metrics": lambda: HttpReply(
                    200, generate_latest(self.registry), CONTENT_TYPE_LATEST
                ),
            },
        )
        await self.http.start()

    def _ready_reply(self) -> HttpReply:
        return HttpReply(200, b"OK") if self.ready() else HttpReply(503, b"not ready")


def _read_secret(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"--token-file {path}: cannot read: {exc}") from None


def _split_host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    if not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"want HOST:PORT, got {text!r}")
    return host, int(port)


def _ns_addresses(options: ServeOptions) -> tuple[str, ...]:
    """Addresses for ns.dns.<zone>: the listen addresses, loopback for wildcards."""
    specific = tuple(a for a in options.dns_addrs if not ipaddress.ip_address(a).is_unspecified)
    return specific or ("127.0.0.1",)


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
            tcp.listen(128)
            tcp.setblocking(False)
            return udp, tcp
        except OSError as exc:
            udp.close()
            tcp.close()
            if port != 0:
                raise ConfigError(f"cannot listen on {address} port {port}: {exc}") from None
    raise ConfigError(f"cannot find a free port on {address} for both UDP and TCP")


async def serve_forever(options: ServeOptions) -> None:
    """Run until SIGINT or SIGTERM."""
    app = App(options)
    if options.manifests:
        objects = await asyncio.to_thread(load_manifests, options.manifests)
        app.load(objects)
        source = f"{len(objects)} objects from {', '.join(options.manifests)}"
    else:
        source = app.connect()
    bound = await app.start()
    logger.info(
        "clusterdns %s serving on %s (udp, tcp) from %s; forwarding to %s",
        __version__,
        ", ".join(f"{a}:{p}" for a, p in bound),
        source,
        ", ".join(str(u) for u in app.upstreams),
    )
    if app.http_address is not None:
        logger.info("health, readiness and metrics on http://%s:%d", *app.http_address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await app.stop()


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
