"""file, k8s_external and autopath end to end: the fake API behind clusterdns, asked with `dig`."""

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import dns.asyncquery
import dns.message
import dns.rcode
import pytest

from clusterdns.app import App
from clusterdns.plugins.autopath.options import resolv_search
from clusterdns.plugins.autopath.search import expand
from tests.conftest import Client, listener
from tests.fakes.kube_api import FakeKubeAPI, endpoint_slice, namespace, pod, service
from tests.fakes.upstream import FakeUpstream
from tests.integration.test_corefile import start, wait_ready
from tests.integration.test_live import plugin_of, until

pytestmark = pytest.mark.skipif(shutil.which("dig") is None, reason="dig (bind9-dnsutils) missing")

ZONE = """\
$ORIGIN example.net.
@ 3600 IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300
       IN NS ns1
ns1    IN A 192.0.2.53
www    IN A 192.0.2.80
alias  IN CNAME www
"""


def load_balancer(name: str, ip: str, ns: str = "default") -> dict[str, object]:
    """A LoadBalancer Service with an external IP and an ingress IP, as a cloud fills it in."""
    body = service(name, ns, "10.96.0.40", type="LoadBalancer", externalIPs=["192.0.2.10"])
    return {**body, "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    fake = FakeKubeAPI()
    for name in ("default", "prod"):
        fake.add("namespaces", namespace(name))
    fake.add("services", load_balancer("shop", "203.0.113.7"))
    fake.add("services", service("web", "prod", "10.96.0.20"))
    fake.add("endpointslices", endpoint_slice("web-1", "web", ["10.244.1.5"], "prod"))
    fake.add("pods", pod("client", "127.0.0.1"))  # dig asks from 127.0.0.1: a pod in default
    yield fake
    fake.close()


@pytest.fixture
async def app(api: FakeKubeAPI, upstream: FakeUpstream, tmp_path: Path) -> AsyncIterator[App]:
    (tmp_path / "db.example.net").write_text(ZONE)
    text = f"""\
.:0 {{
    bind 127.0.0.1
    autopath @kubernetes
    kubernetes cluster.local {{
        pods verified
    }}
    k8s_external example.org
    file {tmp_path / "db.example.net"} example.net
    forward . {upstream.address}
}}
"""
    running = await start(text, api, tmp_path)
    await wait_ready(running)
    yield running
    await running.stop()


def _node_search() -> tuple[str, ...]:
    """This machine's search domains, which autopath appends after the cluster's."""
    try:
        return resolv_search(Path("/etc/resolv.conf").read_text())
    except OSError:
        return ()


async def dig(app: App, *args: str) -> list[str]:
    """`dig +noall +answer` against the app, run without blocking its event loop."""
    port = app.addresses[0][1]
    process = await asyncio.create_subprocess_exec(
        "dig", "@127.0.0.1", "-p", str(port), "+tries=1", "+time=3", "+noall", "+answer",
        "+authority", *args, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode == 0
    return [" ".join(line.split()) for line in out.decode().splitlines() if line]


async def test_k8s_external_serves_load_balancer_addresses_and_follows_the_watch(
    app: App, api: FakeKubeAPI
) -> None:
    assert await dig(app, "shop.default.example.org", "A") == [
        "shop.default.example.org. 5 IN A 192.0.2.10",
        "shop.default.example.org. 5 IN A 203.0.113.7",
    ]
    api.modify("services", load_balancer("shop", "203.0.113.8"))

    def moved() -> bool:
        entry = plugin_of(app).holder.current.services.get(("default", "shop"))
        return (
            entry is not None
            and entry.service is not None
            and ("203.0.113.8" in entry.service.external)
        )

    await until(app, moved)
    assert await dig(app, "shop.default.example.org", "A") == [
        "shop.default.example.org. 5 IN A 192.0.2.10",
        "shop.default.example.org. 5 IN A 203.0.113.8",
    ]


async def test_k8s_external_apex(app: App) -> None:
    assert await dig(app, "example.org", "NS") == ["example.org. 5 IN NS ns1.dns.example.org."]
    (soa,) = await dig(app, "example.org", "SOA")
    assert soa.startswith("example.org. 5 IN SOA ns1.dns.example.org. hostmaster.dns.example.org.")
    # A Service without external addresses has no name here: NXDOMAIN with the SOA.
    missing = await dig(app, "web.prod.example.org", "A")
    assert [line.split()[:6] for line in missing] == [soa.split()[:6]]


async def test_autopath_answers_another_namespace_in_one_round_trip(app: App) -> None:
    assert await dig(app, "web.prod.default.svc.cluster.local", "A") == [
        "web.prod.default.svc.cluster.local. 5 IN CNAME web.prod.svc.cluster.local.",
        "web.prod.svc.cluster.local. 5 IN A 10.96.0.20",
    ]


async def test_autopath_answers_an_external_name_in_one_round_trip(
    app: App, upstream: FakeUpstream
) -> None:
    before = len(upstream.seen())
    answer = await dig(app, "example.com.default.svc.cluster.local", "A")
    alias, address = answer
    asked, ttl, _, kind, target = alias.split()
    assert (asked, kind) == ("example.com.default.svc.cluster.local.", "CNAME")
    # The first name that exists: this node's search domains (forwarded) come before the name.
    node_search = _node_search()
    assert target in {expand("example.com", d) for d in (*node_search, "")}
    assert address == f"{target} 60 IN A 192.0.2.1"
    assert len(upstream.seen()) - before <= len(node_search) + 1


async def test_file_zone_next_to_the_cluster(app: App) -> None:
    assert await dig(app, "alias.example.net", "A") == [
        "alias.example.net. 3600 IN CNAME www.example.net.",
        "www.example.net. 3600 IN A 192.0.2.80",
        "example.net. 3600 IN NS ns1.example.net.",
    ]
    (soa,) = await dig(app, "nope.example.net", "A")
    assert soa == (
        "example.net. 3600 IN SOA ns1.example.net. hostmaster.example.net. "
        "2024010101 7200 3600 1209600 300"
    )


async def test_a_non_pods_name_error_is_not_served_to_pods(app: App) -> None:
    """127.0.0.2 is no pod: its NXDOMAIN must not be pre-encoded and replayed to the pod."""
    query = dns.message.make_query("web.prod.default.svc.cluster.local.", "A")
    port = app.addresses[0][1]
    for _ in range(2):
        other = await dns.asyncquery.udp(
            query, "127.0.0.1", port=port, source="127.0.0.2", timeout=3
        )
        assert other.rcode() == dns.rcode.NXDOMAIN
    mine = await Client(port).udp(query)
    assert [rrset.to_text() for rrset in mine.answer] == [
        "web.prod.default.svc.cluster.local. 5 IN CNAME web.prod.svc.cluster.local.",
        "web.prod.svc.cluster.local. 5 IN A 10.96.0.20",
    ]


async def test_pre_encoded_external_answers_follow_the_watch(app: App, api: FakeKubeAPI) -> None:
    client = Client(app.addresses[0][1])
    hits = listener(app).stores[0].hits
    for _ in range(3):  # stored on the second sighting
        reply = await client.ask("shop.default.example.org.")
        assert sorted(rr.address for rrset in reply.answer for rr in rrset) == [
            "192.0.2.10",
            "203.0.113.7",
        ]
    assert listener(app).stores[0].hits == hits + 1  # the third came from the pre-encoded answers
    api.modify("services", load_balancer("shop", "203.0.113.9"))

    def moved() -> bool:
        entry = plugin_of(app).holder.current.services.get(("default", "shop"))
        return (
            entry is not None
            and entry.service is not None
            and ("203.0.113.9" in entry.service.external)
        )

    await until(app, moved)
    reply = await client.ask("shop.default.example.org.")
    assert sorted(rr.address for rrset in reply.answer for rr in rrset) == [
        "192.0.2.10",
        "203.0.113.9",
    ]
