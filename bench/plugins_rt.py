"""CPU per query of `rewrite` and `template` handlers on their full (not pre-encoded) paths.

The server's hot path answers repeated cacheable questions without running any plugin; this
measures what a miss costs inside the handler: a rewritten question answered by kubernetes
(structured), a rewritten forward reply (bytes read, names mapped back, bytes written), a
question no rule matches, and a templated A record.

    python -m bench.plugins_rt [--queries N]
"""

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry

from clusterdns.corefile.parser import Directive, parse_corefile
from clusterdns.dns.message import decode_query, encode_query
from clusterdns.dns.records import Address, Answer, Rcode, Record, RType
from clusterdns.plugin import Handler, Request, Response
from clusterdns.plugins.rewrite.handler import RewriteHandler
from clusterdns.plugins.rewrite.rules import parse_rules
from clusterdns.plugins.template.handler import TemplateHandler
from clusterdns.plugins.template.metrics import TemplateMetrics
from clusterdns.plugins.template.options import parse_templates

Next = Callable[[Request], Awaitable[Response]]
TEMPLATE = (
    "template IN A example {\n"
    " match (^|[.])ip-(?P<a>[0-9]*)-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$\n"
    ' answer "{{ .Name }} 60 IN A {{ .Group.a }}.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"\n'
    "}"
)


def directives(text: str) -> tuple[Directive, ...]:
    """The directives of a server block holding `text`."""
    return parse_corefile(". {\n" + text + "\n}\n").blocks[0].directives


def request(name: str) -> Request:
    """An A query for `name` from 127.0.0.1."""
    return Request(decode_query(encode_query(name, RType.A, 4242)), "udp", ("127.0.0.1", 5353))


def forward_reply(query: Request) -> Response:
    """What forward hands back for www.upstream.test: a CNAME and two addresses, compressed."""
    wire = bytearray(encode_query("www.upstream.test.", RType.A, query.query.id, 0x8180))
    wire[6:8] = b"\x00\x03"
    wire += b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x07\x04edge\xc0\x10"
    for last in (1, 2):
        wire += b"\xc0\x2f\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02" + bytes((last,))
    return Response("forward", wire=bytes(wire))


async def measure(label: str, handler: Handler, asked: Request, next: Next, n: int) -> None:
    """Print the process CPU time per query of `n` queries through `handler`."""
    for _ in range(200):
        await handler.serve(asked, next)
    start = time.process_time()
    for _ in range(n):
        await handler.serve(asked, next)
    print(f"{label}: {(time.process_time() - start) / n * 1e6:.1f} us/query")


async def main(n: int) -> None:
    """Run every measurement."""
    service = Response(
        "kubernetes",
        answer=Answer(
            Rcode.NOERROR,
            (Record("web.demo.svc.cluster.local.", RType.A, 30, Address("10.96.0.20")),),
            authoritative=True,
        ),
        cacheable=True,
    )

    async def kubernetes(asked: Request) -> Response:
        return service

    async def forward(asked: Request) -> Response:
        return forward_reply(asked)

    exact = RewriteHandler(
        parse_rules(directives("rewrite name exact web.example.org web.demo.svc.cluster.local"))
    )
    suffix = RewriteHandler(
        parse_rules(directives("rewrite name suffix .corp.example .upstream.test answer auto"))
    )
    template = TemplateHandler(
        parse_templates(directives(TEMPLATE), (".",)), TemplateMetrics(CollectorRegistry())
    )
    await measure(
        "rewrite exact -> kubernetes answer", exact, request("web.example.org."), kubernetes, n
    )
    await measure(
        "rewrite suffix answer auto -> forward reply (3 records)",
        suffix,
        request("www.corp.example."),
        forward,
        n,
    )
    await measure(
        "rewrite, no rule matches", suffix, request("web.demo.svc.cluster.local."), kubernetes, n
    )
    await measure(
        "template A from named groups", template, request("ip-10-1-2-3.example."), kubernetes, n
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=20_000)
    asyncio.run(main(parser.parse_args().queries))
