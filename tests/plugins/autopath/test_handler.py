"""autopath in a real chain (kubernetes from manifests, forward to a loopback fake upstream)."""

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from clusterdns.app import read_text
from clusterdns.assembly import Server, build_servers
from clusterdns.corefile.parser import parse_corefile
from clusterdns.plugin import Lifecycle, SetupContext, Shared
from tests.fakes.plugins import FakeClock, build_request
from tests.fakes.upstream import FakeUpstream

POD = "10.244.0.5"  # a pod in `default`
MANIFESTS = """\
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: default}}
- {apiVersion: v1, kind: Namespace, metadata: {name: prod}}
- apiVersion: v1
  kind: Service
  metadata: {name: web, namespace: prod}
  spec: {clusterIP: 10.96.0.20, ports: [{name: http, port: 80}]}
- apiVersion: v1
  kind: Service
  metadata: {name: api, namespace: default}
  spec: {clusterIP: 10.96.0.30, ports: [{name: http, port: 80}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: client, namespace: default}
  status: {podIP: 10.244.0.5, podIPs: [{ip: 10.244.0.5}]}
"""


@pytest.fixture
async def server(
    tmp_path: Path, upstream: FakeUpstream
) -> AsyncIterator[tuple[Server, CollectorRegistry]]:
    (tmp_path / "cluster.yaml").write_text(MANIFESTS)
    for name in ("example.com.corp.example.", "nothing.invalid.corp.example.", "nothing.invalid."):
        upstream.script(name, "nxdomain")
    text = f"""\
.:53 {{
    autopath @kubernetes
    kubernetes cluster.local {{
        manifests {tmp_path / "cluster.yaml"}
        pods verified
    }}
    forward . {upstream.address}
}}
"""

    def read_file(path: str) -> str:
        # The node's resolv.conf, as CoreDNS's kubernetes plugin reads it for autopath.
        return (
            "nameserver 192.0.2.53\nsearch corp.example\n"
            if path == "/etc/resolv.conf"
            else read_text(path)
        )

    registry = CollectorRegistry()
    process = SetupContext((), registry, FakeClock(), random.Random(0), read_file, Shared())
    (built,) = build_servers(parse_corefile(text), process, 53)
    plugins = [plugin for _, plugin in built.plugins if isinstance(plugin, Lifecycle)]
    for plugin in plugins:
        await plugin.start()
    yield built, registry
    for plugin in plugins:
        await plugin.stop()


@dataclass(frozen=True)
class Case:
    """A question from `client` and the reply expected (zone-file lines)."""

    name: str
    client: str = POD
    rcode: str = "NOERROR"
    answer: list[str] = field(default_factory=list)
    cacheable: bool = False


CASES = [
    pytest.param(
        Case(
            "example.com.default.svc.cluster.local.",
            answer=[
                "example.com.default.svc.cluster.local. 60 IN CNAME example.com.",
                "example.com. 60 IN A 192.0.2.1",
            ],
        ),
        id="external-name-in-one-round-trip",
    ),
    pytest.param(
        Case(
            "web.prod.default.svc.cluster.local.",
            answer=[
                "web.prod.default.svc.cluster.local. 5 IN CNAME web.prod.svc.cluster.local.",
                "web.prod.svc.cluster.local. 5 IN A 10.96.0.20",
            ],
        ),
        id="service-in-another-namespace",
    ),
    pytest.param(
        Case(
            "intranet.default.svc.cluster.local.",
            answer=[
                "intranet.default.svc.cluster.local. 60 IN CNAME intranet.corp.example.",
                "intranet.corp.example. 60 IN A 192.0.2.1",
            ],
        ),
        id="node-search-domain",
    ),
    pytest.param(
        Case(
            "api.default.svc.cluster.local.",
            answer=["api.default.svc.cluster.local. 5 IN A 10.96.0.30"],
            cacheable=True,
        ),
        id="first-expansion-exists-unchanged",
    ),
    pytest.param(
        Case("nothing.invalid.default.svc.cluster.local.", rcode="NXDOMAIN"),
        id="nothing-found-first-reply",
    ),
    pytest.param(
        Case("example.com.default.svc.cluster.local.", client="10.9.9.9", rcode="NXDOMAIN"),
        id="not-a-pod-passes-through-uncached",
    ),
    pytest.param(
        Case("example.com.cluster.local.", rcode="NXDOMAIN", cacheable=True),
        id="not-the-first-search-element",
    ),
]


@pytest.mark.parametrize("case", CASES)
async def test_autopath(server: tuple[Server, CollectorRegistry], case: Case) -> None:
    built, _ = server
    response = await built.lookup(build_request(case.name, client=(case.client, 40000)))
    assert response.answer is not None
    assert response.answer.rcode.name == case.rcode
    assert [r.zone_line() for r in response.answer.answer] == case.answer
    assert response.cacheable is case.cacheable


async def test_success_is_counted(server: tuple[Server, CollectorRegistry]) -> None:
    built, registry = server
    for name in ("example.com.default.svc.cluster.local.", "api.default.svc.cluster.local."):
        await built.lookup(build_request(name, client=(POD, 40000)))
    assert registry.get_sample_value("coredns_autopath_success_total", {"server": "dns://:53"}) == 1
