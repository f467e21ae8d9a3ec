"""The kubernetes handler never keeps a replaced zone alive (big answers are per snapshot)."""

import gc
import json
import sys
from pathlib import Path

from clusterdns.dns.message import decode_query, encode_query
from clusterdns.dns.records import RType
from clusterdns.plugin import Request, Response
from clusterdns.plugins.kubernetes.big import BIG_ANSWER
from clusterdns.plugins.kubernetes.handler import KubernetesPlugin
from clusterdns.plugins.kubernetes.snapshot import build_snapshot
from clusterdns.serve_flags import ServeOptions, serve_app
from tests.conftest import plugins
from tests.fakes.kube_api import endpoint_slice, namespace, service
from tests.fakes.upstream import FakeUpstream


def big_zone(folder: Path) -> Path:
    """A headless Service with more ready endpoints than BIG_ANSWER."""
    addresses = [f"10.244.{i // 200}.{i % 200 + 1}" for i in range(BIG_ANSWER + 6)]
    items = [
        {"kind": "Namespace", "apiVersion": "v1", **namespace("demo")},
        {"kind": "Service", "apiVersion": "v1", **service("many", "demo", "None")},
        {
            "kind": "EndpointSlice",
            "apiVersion": "discovery.k8s.io/v1",
            **endpoint_slice("many-1", "many", addresses, "demo"),
        },
    ]
    path = folder / "zone.json"
    path.write_text(json.dumps({"kind": "List", "apiVersion": "v1", "items": items}))
    return path


async def test_a_published_snapshot_releases_the_one_big_answers_came_from(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    options = ServeOptions(
        manifests=(str(big_zone(tmp_path)),),
        dns_addrs=("127.0.0.1",),
        dns_port=0,
        upstreams=(upstream.address,),
    )
    app = serve_app(options)
    await app.start()
    try:
        (plugin,) = plugins(app, "kubernetes")
        assert isinstance(plugin, KubernetesPlugin)
        query = decode_query(encode_query("many.demo.svc.cluster.local.", RType.A, 7))

        async def unused(request: Request) -> Response:
            raise AssertionError("kubernetes answers this name itself")

        response = await plugin.serve(Request(query, "udp", ("127.0.0.1", 5353)), unused)
        assert response.answer is not None and len(response.answer.answer) > BIG_ANSWER
        old = plugin.holder.current
        plugin.holder.publish(build_snapshot(plugin.store, None, None, old.serial + 1, True))
        gc.collect()
        # Only this test's `old` (and getrefcount's own argument) still refer to it.
        assert sys.getrefcount(old) == 2
    finally:
        await app.stop()
