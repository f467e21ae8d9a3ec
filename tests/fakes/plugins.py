"""Plugin test helpers: a fake clock, Corefile stanzas, setup contexts, dnspython-built requests."""

import random

import dns.message
from prometheus_client import CollectorRegistry

from clusterdns.corefile.parser import Directive, parse_corefile
from clusterdns.dns.message import decode_query
from clusterdns.plugin import Request, SetupContext


class FakeClock:
    """A clock that moves only when a test advances it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def monotonic(self) -> float:
        """The fake monotonic time."""
        return self.now

    def wall(self) -> float:
        """A wall time that moves with the monotonic one."""
        return 1_700_000_000.0 + self.now

    def advance(self, seconds: float) -> None:
        """Move time on by `seconds`."""
        self.now += seconds


def stanza(text: str) -> Directive:
    """The first directive of a server block holding `text` (which starts on line 2)."""
    return parse_corefile(f".:53 {{\n{text}\n}}\n").blocks[0].directives[0]


def context(clock: FakeClock) -> SetupContext:
    """A setup context with the fake clock, a fresh registry and no files."""
    return SetupContext(
        zones=(".",),
        registry=CollectorRegistry(),
        clock=clock,
        rng=random.Random(0),
        read_file=lambda path: "",
    )


def build_request(
    name: str = "example.org.",
    qtype: str = "A",
    protocol: str = "udp",
    client: tuple[str, int] = ("127.0.0.1", 40212),
    ident: int = 28631,
    **options: object,
) -> Request:
    """A Request for `name`/`qtype`, encoded by dnspython with `options` and decoded by us."""
    query = dns.message.make_query(name, qtype, **options)  # type: ignore[arg-type]
    query.id = ident
    return Request(decode_query(query.to_wire()), protocol, client)
