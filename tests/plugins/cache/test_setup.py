"""The `cache` stanza: Corefile snippets to configs, or to errors naming file and line."""

import pytest

from clusterdns.corefile.lexer import CorefileError
from clusterdns.plugins.cache.options import CacheConfig, parse_cache
from clusterdns.plugins.cache.setup import setup
from tests.plugins.cache.conftest import FakeClock, context, stanza

DEFAULT = CacheConfig()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("cache", DEFAULT, id="defaults"),
        pytest.param(
            "cache 30", CacheConfig(success_ttl=30, denial_ttl=30), id="ttl-caps-both-caches"
        ),
        pytest.param(
            "cache example.org", CacheConfig(zones=("example.org.",)), id="zones-replace-block"
        ),
        pytest.param(
            "cache 10 Example.ORG dns://example.net:53",
            CacheConfig(zones=("example.org.", "example.net."), success_ttl=10, denial_ttl=10),
            id="ttl-and-zones",
        ),
        pytest.param("cache 10.0.0.0/8", CacheConfig(zones=("10.in-addr.arpa.",)), id="cidr-zone"),
        pytest.param(
            "cache 30 {\n    disable success cluster.local\n    disable denial cluster.local\n}",
            CacheConfig(
                success_ttl=30,
                denial_ttl=30,
                disable_success=("cluster.local.",),
                disable_denial=("cluster.local.",),
            ),
            id="kubeadm",
        ),
        pytest.param(
            "cache {\n    success 5000\n    denial 2500\n}",
            CacheConfig(success_capacity=5000, denial_capacity=2500),
            id="capacities",
        ),
        pytest.param(
            "cache 30 {\n    success 100\n}",
            CacheConfig(success_capacity=100, success_ttl=30, denial_ttl=30),
            id="capacity-keeps-ttl",
        ),
        pytest.param(
            "cache {\n    success 5000 600 10\n    denial 2500 60 0\n}",
            CacheConfig(
                success_capacity=5000,
                success_ttl=600,
                success_min_ttl=10,
                denial_capacity=2500,
                denial_ttl=60,
                denial_min_ttl=0,
            ),
            id="capacity-ttl-minttl",
        ),
        pytest.param("cache {\n    prefetch 10\n}", CacheConfig(prefetch=10), id="prefetch"),
        pytest.param(
            "cache {\n    prefetch 10 2m 20%\n}",
            CacheConfig(prefetch=10, prefetch_window=120.0, prefetch_percentage=20),
            id="prefetch-window-percentage",
        ),
        pytest.param(
            "cache {\n    serve_stale\n}", CacheConfig(serve_stale=3600.0), id="serve-stale-1h"
        ),
        pytest.param(
            "cache {\n    serve_stale 30m verify\n}",
            CacheConfig(serve_stale=1800.0, verify_stale=True),
            id="serve-stale-verify",
        ),
        pytest.param(
            "cache {\n    serve_stale 10s IMMEDIATE\n}",
            CacheConfig(serve_stale=10.0),
            id="serve-stale-mode-any-case",
        ),
        pytest.param(
            "cache {\n    servfail 0\n}", CacheConfig(servfail_ttl=0.0), id="servfail-off"
        ),
        pytest.param(
            "cache {\n    servfail 1m30s\n}", CacheConfig(servfail_ttl=90.0), id="servfail-90s"
        ),
        pytest.param(
            "cache {\n    disable success\n}",
            CacheConfig(disable_success=(".",)),
            id="disable-everywhere",
        ),
        pytest.param(
            "cache {\n    disable denial a.org\n    disable denial b.org a.org\n}",
            CacheConfig(disable_denial=("a.org.", "b.org.")),
            id="disable-lines-add-up",
        ),
        pytest.param("cache {\n    keepttl\n}", CacheConfig(keepttl=True), id="keepttl"),
    ],
)
def test_parse(text: str, expected: CacheConfig) -> None:
    assert parse_cache(stanza(text), (".",)) == expected


def test_zones_default_to_the_server_block() -> None:
    zones = ("example.org.", "10.in-addr.arpa.")
    assert parse_cache(stanza("cache 5", "example.org 10.0.0.0/8"), zones).zones == zones


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param("cache 0", "Corefile:2: cache: TTL must be 1..2147483647, got 0", id="zero"),
        pytest.param("cache -5", "Corefile:2: cache: TTL must be 1..", id="negative"),
        pytest.param(
            "cache 5 exa$mple.org",
            "Corefile:2: cache: 'exa$mple.org' is not a valid zone",
            id="bad-zone",
        ),
        pytest.param(
            "cache {\n    bogus 1\n}",
            "Corefile:3: cache: unknown property 'bogus'",
            id="unknown-property",
        ),
        pytest.param(
            "cache {\n    success\n}",
            "Corefile:3: cache: success: expected 1..3 arguments, got none",
            id="success-no-capacity",
        ),
        pytest.param(
            "cache {\n    success lots\n}",
            "Corefile:3: cache: success: CAPACITY must be an integer",
            id="success-capacity-word",
        ),
        pytest.param(
            "cache {\n    success 0\n}",
            "Corefile:3: cache: success: CAPACITY must be 1..",
            id="success-capacity-zero",
        ),
        pytest.param(
            "cache {\n    success 100 0\n}",
            "Corefile:3: cache: success: TTL must be 1..2147483647, got 0",
            id="success-ttl-zero",
        ),
        pytest.param(
            "cache {\n    denial 100 10 -1\n}",
            "Corefile:3: cache: denial: MINTTL must be 0..2147483647, got -1",
            id="denial-minttl-negative",
        ),
        pytest.param(
            "cache {\n    denial 1 2 3 4\n}",
            "Corefile:3: cache: denial: expected 1..3 arguments, got 4",
            id="denial-too-many",
        ),
        pytest.param(
            "cache {\n    prefetch\n}",
            "Corefile:3: cache: prefetch: expected 1..3 arguments",
            id="prefetch-no-amount",
        ),
        pytest.param(
            "cache {\n    prefetch 5 soon\n}",
            "Corefile:3: cache: prefetch: DURATION must be a duration",
            id="prefetch-bad-duration",
        ),
        pytest.param(
            "cache {\n    prefetch 5 1m 15\n}",
            "Corefile:3: cache: prefetch: PERCENTAGE must be a whole number and '%'",
            id="prefetch-percent-sign",
        ),
        pytest.param(
            "cache {\n    prefetch 5 1m 95%\n}",
            "Corefile:3: cache: prefetch: PERCENTAGE must be 10%..90%, got 95%",
            id="prefetch-percent-range",
        ),
        pytest.param(
            "cache {\n    serve_stale 1h later\n}",
            "Corefile:3: cache: serve_stale: REFRESH_MODE must be one of immediate, verify",
            id="serve-stale-mode",
        ),
        pytest.param(
            "cache {\n    serve_stale -1h\n}",
            "Corefile:3: cache: serve_stale: DURATION must be at least 0s, got -1h",
            id="serve-stale-negative",
        ),
        pytest.param(
            "cache {\n    serve_stale 1h verify 5s\n}",
            "Corefile:3: cache: serve_stale: expected at most 2 arguments, got 3",
            id="serve-stale-too-many",
        ),
        pytest.param(
            "cache {\n    servfail 10m\n}",
            "Corefile:3: cache: servfail: DURATION must be 0s..5m, got 10m",
            id="servfail-over-5m",
        ),
        pytest.param(
            "cache {\n    servfail\n}",
            "Corefile:3: cache: servfail: expected 1 argument, got none",
            id="servfail-missing",
        ),
        pytest.param(
            "cache {\n    disable everything\n}",
            "Corefile:3: cache: disable: cache type must be one of success, denial",
            id="disable-unknown-type",
        ),
        pytest.param(
            "cache {\n    disable success bad$zone\n}",
            "Corefile:3: cache: disable: 'bad$zone' is not a valid zone",
            id="disable-bad-zone",
        ),
        pytest.param(
            "cache {\n    keepttl 30\n}",
            "Corefile:3: cache: keepttl: expected no arguments, got 1: 30",
            id="keepttl-argument",
        ),
        pytest.param(
            "cache {\n    success 100 {\n        x\n    }\n}",
            "Corefile:3: cache: success: expected no block",
            id="nested-block",
        ),
    ],
)
def test_parse_errors(text: str, error: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse_cache(stanza(text), (".",))
    assert error in str(caught.value)


def test_setup_builds_the_handler_for_the_block_zones() -> None:
    plugin = setup(stanza("cache 30", "example.org"), context(FakeClock(), ("example.org.",)))
    assert plugin.name == "cache"
    assert plugin.config == CacheConfig(zones=("example.org.",), success_ttl=30, denial_ttl=30)
