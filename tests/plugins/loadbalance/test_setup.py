"""The `loadbalance` stanza: round_robin or a clear error naming file and line."""

import pytest

from clusterdns.corefile.lexer import CorefileError
from clusterdns.plugins.loadbalance.handler import LoadBalanceHandler
from clusterdns.plugins.loadbalance.setup import LoadBalanceConfig, parse, setup
from tests.plugins.loadbalance.conftest import FakeClock, context, stanza


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("loadbalance", id="bare"),
        pytest.param("loadbalance round_robin", id="round-robin"),
    ],
)
def test_parse(text: str) -> None:
    assert parse(stanza(text)) == LoadBalanceConfig("round_robin")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "loadbalance weighted db.example.com.weights {\n reload 10s\n}",
            "Corefile:2: loadbalance: policy 'weighted' is not supported, expected round_robin",
            id="weighted",
        ),
        pytest.param(
            "loadbalance random",
            "Corefile:2: loadbalance: unknown policy 'random', expected round_robin",
            id="unknown",
        ),
        pytest.param(
            "loadbalance round_robin extra",
            "Corefile:2: loadbalance: expected at most 1 argument, got 2: round_robin extra",
            id="extra-argument",
        ),
        pytest.param(
            "loadbalance round_robin {\n prefer 10.0.0.0/8\n}",
            "Corefile:3: loadbalance: unknown property 'prefer', expected one of: none",
            id="prefer",
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse(stanza(text))
    assert str(caught.value) == message


def test_setup_makes_a_handler() -> None:
    handler = setup(stanza("loadbalance"), context(FakeClock()))
    assert isinstance(handler, LoadBalanceHandler)
    assert handler.name == "loadbalance"
