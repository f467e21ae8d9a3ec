"""The `log` handler: one line per logged query, batched to stdout while that logger is at INFO."""

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from clusterdns.clock import Clock
from clusterdns.dns.message import TCP_MAX_MESSAGE, UDP_MIN_PAYLOAD, decode_query, encode_answer
from clusterdns.dns.mnemonics import class_text, rcode_text, type_text
from clusterdns.dns.names import ROOT, is_subdomain
from clusterdns.dns.records import Answer, Rcode
from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.log.reply import classify, reply_facts
from clusterdns.plugins.log.template import (
    compile_line,
    flags_text,
    parse_format,
    render,
    seconds_text,
)
from clusterdns.plugins.log.writer import LineWriter

if TYPE_CHECKING:
    from clusterdns.plugins.log.options import LogConfig

# The query log's level switch: its lines are written (by LineWriter, in batches, to stdout)
# only while this logger is enabled for INFO, as clusterdns's own INFO lines are.
QUERY_LOG = logging.getLogger("clusterdns.plugins.log")
logger = logging.getLogger(__name__)

# Precompiled lines of pre-encoded hits, by query and reply bytes after the id: a repeated query
# costs one dict lookup and one str.format. Bounded: past this many, start again.
_HIT_LINES_MAX = 10_000


class LogHandler:
    """Times the rest of the chain and logs queries under its names whose class it wants."""

    name = "log"

    def __init__(self, config: "LogConfig", clock: Clock) -> None:
        self.config = config
        self.failures = 0  # log lines that could not be made (a bug): counted, never raised
        self._clock = clock
        self._parts = parse_format(config.format)
        self._hit_lines: dict[tuple[bytes, bytes], str] = {}
        self.writer = LineWriter()
        # Logging every name, it logs sibling names alike (plugin.Family); with names of its
        # own, a sibling may fall outside them while the question did not.
        self.keeps_families = config.names == (ROOT,)

    async def start(self) -> None:
        """Nothing to start: lines are written as they come."""

    async def stop(self) -> None:
        """Write the lines still queued (the server stops, or a reload replaced this chain)."""
        self.writer.flush()

    async def serve(self, request: Request, next: Next) -> Response:
        """Ask `next`, then log the query and its reply."""
        if not QUERY_LOG.isEnabledFor(logging.INFO) or not self._covers(request.query.name):
            return await next(request)
        start = self._clock.monotonic()
        try:
            response = await next(request)
        except Exception:
            # The client gets a SERVFAIL for this (from `errors` or the server): log that.
            self._record(request, Response(self.name, answer=Answer(Rcode.SERVFAIL)), start)
            raise
        return self._record(request, response, start)

    def line(self, request: Request, response: Response, elapsed: float) -> str:
        """The log line for `request` answered by `response` after `elapsed` seconds."""
        return render(self._parts, self._values(request, response, elapsed))

    def hit(self, data: bytes, reply: bytes, client: tuple[str, int], start: float) -> None:
        """Log a hit of a pre-encoded answer this handler logged: the line the chain would give."""
        elapsed = round(self._clock.monotonic() - start, 9)
        try:
            lines = self._hit_lines
            # Keyed by the reply too: the same question answered differently after a zone
            # change must not reuse the old line's rcode, flags or size.
            key = (data[2:], reply[2:])
            form = lines.get(key)
            if form is None:
                if len(lines) >= _HIT_LINES_MAX:
                    lines.clear()
                request = Request(decode_query(data), "udp", client)
                values = self._values(request, Response(self.name, wire=reply), elapsed)
                form = lines[key] = compile_line(self._parts, values)
            host, port = client
            remote = f"[{host}]" if ":" in host else host
            ident = data[0] << 8 | data[1]
            self.writer.write(form.format(remote, port, ident, seconds_text(elapsed)))
        except Exception:
            self.failures += 1
            logger.exception("log: cannot describe a stored reply to %s", client)

    def _values(self, request: Request, response: Response, elapsed: float) -> dict[str, str]:
        query = request.query
        host, port = request.client
        payload = query.edns.payload if query.edns is not None else 0
        bufsize = TCP_MAX_MESSAGE if request.protocol == "tcp" else max(UDP_MIN_PAYLOAD, payload)
        values = {
            "{type}": type_text(query.qtype),
            "{name}": query.name,
            "{class}": class_text(query.qclass),
            "{proto}": request.protocol,
            "{size}": str(len(query.wire)),
            "{remote}": f"[{host}]" if ":" in host else host,
            "{port}": str(port),
            "{>id}": str(query.id),
            "{>opcode}": str((query.flags >> 11) & 0xF),
            "{>do}": "true" if query.edns is not None and query.edns.do else "false",
            "{>bufsize}": str(bufsize),
            "{duration}": seconds_text(elapsed),
        }
        facts = reply_facts(query, response)
        if facts is not None:
            values["{rcode}"] = rcode_text(facts.rcode)
            values["{rsize}"] = str(facts.size)
            values["{>rflags}"] = flags_text(facts.flags)
        return values

    def _covers(self, name: str) -> bool:
        return any(is_subdomain(name, zone) for zone in self.config.names)

    def _class_wanted(self, request: Request, response: Response) -> bool:
        classes = self.config.classes
        return "all" in classes or classify(request.query, response) in classes

    def _record(self, request: Request, response: Response, start: float) -> Response:
        """Log the query if wanted; the response, with its encoding kept for the server."""
        elapsed = round(self._clock.monotonic() - start, 9)  # whole nanoseconds, as Go
        try:
            by_class = self._class_wanted(request, response)
            if by_class or 0 < self.config.min_duration < elapsed:
                if response.answer is not None and response.encoded is None:
                    # {rsize} needs the reply's bytes; the server reuses them (one encode).
                    encoded = encode_answer(request.query, response.answer, TCP_MAX_MESSAGE)
                    response = replace(response, encoded=encoded)
                self.writer.write(self.line(request, response, elapsed))
                if by_class and response.cacheable:
                    # Its pre-encoded copy is served without the chain: every hit of it is
                    # logged through `hit` (a hit is never slow, so minDuration adds none).
                    response = replace(response, observe=self.hit)
        except Exception:
            # The reply is good even if its log line is not: never fail a query over it.
            self.failures += 1
            logger.exception("log: cannot describe the reply to %s", request.query.name)
        return response
