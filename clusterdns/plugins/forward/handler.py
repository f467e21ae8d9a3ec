"""The `forward` handler: queries for its zone go upstream; SERVFAIL when none answers."""

import asyncio
import logging
import random

from clusterdns.dns.message import with_id
from clusterdns.dns.names import is_subdomain
from clusterdns.dns.records import Answer, Rcode
from clusterdns.errors import UpstreamError
from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.forward.setup import ForwardConfig
from clusterdns.plugins.forward.upstream import Exchanger

logger = logging.getLogger(__name__)


class ForwardHandler:
    """Asks upstreams in random order until one answers or the deadline passes."""

    name = "forward"

    def __init__(self, config: ForwardConfig, exchanger: Exchanger, rng: random.Random) -> None:
        self.config = config
        self.exchanger = exchanger
        self.rng = rng

    async def serve(self, request: Request, next: Next) -> Response:
        """Forward names under our zone; pass the rest on."""
        query = request.query
        if not is_subdomain(query.name, self.config.zone):
            return await next(request)
        # A fresh id per upstream query, so replies to the client's id cannot be spoofed in.
        wire = with_id(query.wire, self.rng.randrange(1 << 16))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.timeout
        order = self.rng.sample(self.config.upstreams, len(self.config.upstreams))
        for index, upstream in enumerate(order):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining / (len(order) - index)):
                    reply = await self.exchanger.exchange(wire, upstream)
            except TimeoutError:
                logger.debug("forward %s: %s did not answer in time", query.name, upstream)
                continue
            except UpstreamError as exc:
                logger.debug("forward %s: %s", query.name, exc)
                continue
            return Response(self.name, wire=with_id(reply, query.id))
        logger.warning(
            "forward: no upstream answered %s within %.1fs", query.name, self.config.timeout
        )
        return Response(self.name, answer=Answer(Rcode.SERVFAIL, recursion_available=True))
