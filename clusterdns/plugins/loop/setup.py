"""`loop`: send one random HINFO probe to ourselves; seeing it come back 3 times is a loop."""

import asyncio
import logging
import os
import socket
from collections.abc import Callable

from clusterdns.corefile.directive import expect_args, expect_no_block
from clusterdns.corefile.parser import Directive
from clusterdns.dns.message import encode_query
from clusterdns.plugin import Next, Request, Response, SetupContext

logger = logging.getLogger(__name__)

PROBES_SEEN_FOR_A_LOOP = 3  # CoreDNS: more than twice
HINFO = 13


class LoopPlugin:
    """Handler that counts its own probe, and a lifecycle that sends it."""

    name = "loop"
    keeps_families = True  # it changes no answer; it counts its own probe, a name no one asks

    def __init__(self, zone: str, port: int, rng_label: Callable[[], str]) -> None:
        self.zone = zone
        self.port = port
        self.probe = f"{rng_label()}.{rng_label()}.{zone}".replace("..", ".")
        self.seen = 0
        self.target: tuple[str, int] | None = None
        self.fatal: Callable[[str], None] = _exit
        self._task: asyncio.Task[None] | None = None

    async def serve(self, request: Request, next: Next) -> Response:
        """Count the probe when it comes back; everything goes on to `next`."""
        query = request.query
        if query.qtype == HINFO and query.name == self.probe:
            self.seen += 1
            if self.seen >= PROBES_SEEN_FOR_A_LOOP:
                target = f"{self.target[0]}:{self.target[1]}" if self.target else "?"
                self.fatal(
                    f'Loop (127.0.0.1:{self.port} -> {target}) detected for zone "{self.zone}", '
                    "see https://coredns.io/plugins/loop#troubleshooting. "
                    f'Query: "HINFO {self.probe}"'
                )
        return await next(request)

    def aim(self, address: tuple[str, int]) -> None:
        """Where the server listens (known once bound): the probe is sent there."""
        self.target = address

    async def start(self) -> None:
        """Send the probe once, in the background."""
        if self.target is not None:
            self._task = asyncio.get_running_loop().create_task(self._send())

    async def stop(self) -> None:
        """Stop sending."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _send(self) -> None:
        assert self.target is not None
        host, port = self.target
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=(host, port), family=family
        )
        try:
            transport.sendto(encode_query(self.probe, HINFO, 0x4C50))
        finally:
            transport.close()


def _exit(message: str) -> None:
    """CoreDNS log.Fatalf: say why, exit 1 at once."""
    logger.critical("plugin/loop: %s", message)
    logging.shutdown()
    os._exit(1)


def setup(directive: Directive, context: SetupContext) -> LoopPlugin:
    """The plugin for the block's first zone."""
    expect_args(directive, 0, 0)
    expect_no_block(directive)
    port = int(context.server.rpartition(":")[2] or 53)
    rng = context.rng
    return LoopPlugin(context.zones[0], port, lambda: str(rng.getrandbits(63)))
