"""Forward stanzas to configs or errors naming file:line; TO addresses and resolv.conf files."""

import random
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry

from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import Directive, parse_corefile
from clusterdns.errors import ConfigError
from clusterdns.plugin import Lifecycle, SetupContext, Shared
from clusterdns.plugins.forward.handler import ForwardPlugin
from clusterdns.plugins.forward.metrics import ForwardMetrics
from clusterdns.plugins.forward.options import (
    ForwardConfig,
    HealthCheck,
    Upstream,
    parse_forward,
    parse_resolv_conf,
    parse_upstream,
)
from clusterdns.plugins.forward.setup import setup
from tests.fakes.plugins import FakeClock

FILES = {
    "/etc/resolv.conf": "search cluster.local\nnameserver 10.0.0.10\nnameserver fe80::1%eth0\n"
    "options ndots:5\n",
    "/etc/empty.conf": "search example.org\n",
}
ONE = (Upstream("10.0.0.1"),)


def read_file(path: str) -> str:
    """FILES, as the app's reader would give them."""
    try:
        return FILES[path]
    except KeyError:
        raise ConfigError(f"{path}: cannot read: no such file") from None


def stanza(text: str) -> Directive:
    """The forward directive in `. { TEXT }`; its first line is Corefile line 2."""
    return parse_corefile(f". {{\n{text}\n}}\n").blocks[0].directives[0]


def context(
    registry: CollectorRegistry | None = None, shared: Shared | None = None
) -> SetupContext:
    """A setup context with fakes for files, clock and chance."""
    return SetupContext(
        zones=(".",),
        registry=registry or CollectorRegistry(),
        clock=FakeClock(),
        rng=random.Random(1),
        read_file=read_file,
        shared=shared or Shared(),
    )


@dataclass(frozen=True)
class Good:
    """A stanza and the config it gives."""

    text: str
    config: ForwardConfig = field(default_factory=lambda: ForwardConfig(ONE))


GOOD = [
    pytest.param(Good("forward . 10.0.0.1"), id="minimal-defaults"),
    pytest.param(
        Good(
            "forward example.org 10.0.0.1:1053 dns://10.0.0.2 [2001:db8::1]:5353 2001:db8::2",
            ForwardConfig(
                (
                    Upstream("10.0.0.1", 1053),
                    Upstream("10.0.0.2"),
                    Upstream("2001:db8::1", 5353),
                    Upstream("2001:db8::2"),
                ),
                zone="example.org.",
            ),
        ),
        id="address-forms",
    ),
    pytest.param(
        Good(
            "forward . /etc/resolv.conf 10.0.0.1",
            ForwardConfig((Upstream("10.0.0.10"), Upstream("fe80::1"), Upstream("10.0.0.1"))),
        ),
        id="resolv-conf-expanded",
    ),
    pytest.param(
        Good("forward 10.0.0.0/8 10.0.0.1", ForwardConfig(ONE, zone="10.in-addr.arpa.")),
        id="from-cidr",
    ),
    pytest.param(
        Good("forward Example.ORG. 10.0.0.1", ForwardConfig(ONE, zone="example.org.")),
        id="from-normalized",
    ),
    pytest.param(
        Good(
            "forward . 10.0.0.1 {\n  except example.org Lab.example.com\n  except 10.0.0.0/8\n}",
            ForwardConfig(ONE, ignored=("example.org.", "lab.example.com.", "10.in-addr.arpa.")),
        ),
        id="except-accumulates",
    ),
    pytest.param(
        Good("forward . 10.0.0.1 {\n  force_tcp\n}", ForwardConfig(ONE, force_tcp=True)),
        id="force-tcp",
    ),
    pytest.param(
        Good("forward . 10.0.0.1 {\n  prefer_udp\n}", ForwardConfig(ONE)), id="prefer-udp-default"
    ),
    pytest.param(
        Good(
            "forward . 10.0.0.1 {\n  expire 30s\n  max_fails 0\n  policy sequential\n}",
            ForwardConfig(ONE, expire=30.0, max_fails=0, policy="sequential"),
        ),
        id="expire-max-fails-policy",
    ),
    pytest.param(
        Good(
            "forward . 10.0.0.1 {\n  health_check 5s no_rec domain Example.org\n}",
            ForwardConfig(ONE, health_check=HealthCheck(5.0, False, "example.org.")),
        ),
        id="health-check-all-options",
    ),
    pytest.param(
        Good(
            "forward . 10.0.0.1 {\n  health_check 100ms\n}",
            ForwardConfig(ONE, health_check=HealthCheck(0.1)),
        ),
        id="health-check-interval",
    ),
    pytest.param(
        Good(
            "forward . 10.0.0.1 {\n  max_concurrent 1000\n  next nxdomain SERVFAIL\n}",
            ForwardConfig(ONE, max_concurrent=1000, next_rcodes=(3, 2)),
        ),
        id="max-concurrent-next",
    ),
    pytest.param(
        Good(
            "forward . 10.0.0.1 {\n  policy random\n  policy round_robin\n}",
            ForwardConfig(ONE, policy="round_robin"),
        ),
        id="last-property-wins",
    ),
]


@pytest.mark.parametrize("case", GOOD)
def test_stanza_gives_config(case: Good) -> None:
    assert parse_forward(stanza(case.text), read_file) == case.config


TOO_MANY = " ".join(f"10.0.0.{i}" for i in range(16))

BAD = [
    pytest.param("forward .", "Corefile:2: forward: expected at least 2 arguments", id="no-to"),
    pytest.param("forward", "Corefile:2: forward: expected at least 2 arguments", id="no-args"),
    pytest.param(
        "forward bad..zone 10.0.0.1", "Corefile:2: forward: FROM 'bad..zone' is not", id="bad-from"
    ),
    pytest.param(
        "forward . tls://9.9.9.9",
        "Corefile:2: forward: 'tls' is not supported as a destination protocol",
        id="tls-to",
    ),
    pytest.param(
        "forward . https://9.9.9.9", "'https' is not supported as a destination", id="doh-to"
    ),
    pytest.param(
        "forward . 10.0.0.1:99999",
        "Corefile:2: forward: upstream '10.0.0.1:99999': port must be",
        id="bad-port",
    ),
    pytest.param(
        "forward . dns://example.com", "upstream 'example.com': not an IP address", id="dns-host"
    ),
    pytest.param(
        "forward . example.com",
        "Corefile:2: forward: 'example.com' is not an IP address, nor a readable file",
        id="hostname",
    ),
    pytest.param(
        "forward . /etc/missing.conf",
        "'/etc/missing.conf' is not an IP address, nor a readable file: /etc/missing.conf: cannot",
        id="missing-file",
    ),
    pytest.param(
        "forward . /etc/empty.conf",
        "Corefile:2: forward: no nameservers found in /etc/empty.conf",
        id="file-without-nameservers",
    ),
    pytest.param(
        f"forward . {TOO_MANY}", "forward: more than 15 upstreams configured: 16", id="sixteen"
    ),
    pytest.param(
        "forward . 10.0.0.1 {\n  tls\n}",
        "Corefile:3: forward: tls: DNS-over-TLS is not supported",
        id="tls-property",
    ),
    pytest.param(
        "forward . 10.0.0.1 {\n  max_idle_conns 4\n}",
        "Corefile:3: forward: unknown property 'max_idle_conns', expected one of: except,",
        id="unknown-property",
    ),
    pytest.param(
        "forward . 10.0.0.1 {\n  except\n}",
        "Corefile:3: forward: except: expected at least 1 argument, got none",
        id="except-empty",
    ),
    pytest.param(
        "forward . 10.0.0.1 {\n  force_tcp yes\n}",
        "Corefile:3: forward: force_tcp: expected no arguments, got 1: yes",
        id="force-tcp-arg",
    ),
    pytest.param(
        "forward . 10.0.0.1 {\n  max_fails -1\n}",
        "Corefile:3: forward: max_fails: argument 1 must be 0..4294967295, got -1",
        id="max-fails-negative",
    ),
    pytest.param(
        "forward . 10.0.0.1 {\n  max_fails two\n}",
        "Corefile:3: forward: max_fails: argument 1 must be an integer",
        id="max-fails-word",
    ),
    pytest.param(
        "forward . 10.0.0.1 {\n  expire -1s\n}",
        "Corefile:3: forward: expire: duration must be at least 0s, got -1s",
        id="expire-negative",
    ),
    pytest.param(
        "forward . 10.0.0.1 {\n  expire 10\n}",
        "Corefile:3: forward: expire: duration must be a duration such as 5s",
        id="expire-no-unit",
    ),
    pytest.param(
        "forward . 10.0.0.1 {\n  health_check\n}",
        "Corefile:3: forward: health_check: expected at least 1 argument",
        id="health-check-empty",
    ),
    pytest.param(
        "forward . 10.0.0.1 {\n  health_check 0s\n}",
        "Corefile:3: forward: health_check: interval must be at least 1ms, got 0s",
        id="health-check-zero",
    ),
    pytest.param(
        "forward . 10.0.0.1 {\n  health_check 1s rec\n}",
        "Corefile:3: forward: health_check: unknown option 'rec', expected no_rec or domain",
        id="health-check-option",
    ),
    pytest.param(
        "forward . 10.0.0.1 {\n  health_check 1s domain\n}",
        "Corefile:3: forward: health_check: expected a name after 'domain'",
        id="health-check-domain-missing",
    ),
    pytest.param(
        "forward . 10.0.0.1 {\n  health_check 1s domain a..b\n}",
        "Corefile:3: forward: health_check: invalid domain name 'a..b'",
        id="health-check-domain-bad",
    ),
    pytest.param(
        "forward . 10.0.0.1 {\n  policy fastest\n}",
        "Corefile:3: forward: policy: argument 1 must be one of random, round_robin, sequential",
        id="policy-unknown",
    ),
    pytest.param(
        "forward . 10.0.0.1 {\n  max_concurrent -5\n}",
        "Corefile:3: forward: max_concurrent: argument 1 must be 0..2147483647, got -5",
        id="max-concurrent-negative",
    ),
    pytest.param(
        "forward . 10.0.0.1 {\n  next NOPE\n}",
        "Corefile:3: forward: next: 'NOPE' is not an rcode, expected one of NOERROR",
        id="next-bad-rcode",
    ),
    pytest.param(
        "forward . 10.0.0.1 {\n  next\n}",
        "Corefile:3: forward: next: expected at least 1 argument",
        id="next-empty",
    ),
]


@pytest.mark.parametrize(("text", "error"), BAD)
def test_stanza_error_names_file_and_line(text: str, error: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse_forward(stanza(text), read_file)
    assert error in str(caught.value)


@pytest.mark.parametrize(
    ("text", "upstream"),
    [
        pytest.param("10.0.0.1", Upstream("10.0.0.1"), id="v4"),
        pytest.param("10.0.0.1:5353", Upstream("10.0.0.1", 5353), id="v4-port"),
        pytest.param("dns://10.0.0.1:5353", Upstream("10.0.0.1", 5353), id="dns-scheme"),
        pytest.param("2001:DB8::1", Upstream("2001:db8::1"), id="v6-canonical"),
        pytest.param("[2001:db8::1]:5353", Upstream("2001:db8::1", 5353), id="v6-port"),
    ],
)
def test_parse_upstream(text: str, upstream: Upstream) -> None:
    assert parse_upstream(text) == upstream


def test_upstream_text_is_the_to_label() -> None:
    assert [str(Upstream("10.0.0.1")), str(Upstream("::1", 5353))] == ["10.0.0.1:53", "[::1]:5353"]


def test_resolv_conf_skips_what_it_cannot_use() -> None:
    text = "nameserver 10.0.0.10\nnameserver bogus\n# nameserver 10.0.0.11\nnameserver fe80::1%eth0"
    assert parse_resolv_conf(text) == (Upstream("10.0.0.10"), Upstream("fe80::1"))


def test_setup_builds_a_started_plugin_sharing_metrics() -> None:
    registry, shared = CollectorRegistry(), Shared()
    first = setup(stanza("forward . 10.0.0.1"), context(registry, shared))
    second = setup(stanza("forward example.org /etc/resolv.conf"), context(registry, shared))
    assert isinstance(first, ForwardPlugin) and isinstance(first, Lifecycle)
    assert first.name == "forward" and second.config.zone == "example.org."
    assert second.config.upstreams == (Upstream("10.0.0.10"), Upstream("fe80::1"))
    # One family per process: a second registration on the registry would have raised.
    shared.get("forward.metrics", ForwardMetrics, lambda: pytest.fail("metrics made twice"))
    assert (
        registry.get_sample_value(
            "coredns_forward_conn_cache_misses_total", {"to": "10.0.0.10:53", "proto": "udp"}
        )
        == 0.0
    )
