"""`rewrite` and `template` may repeat in a block: one handler takes every occurrence."""

import random

import pytest
from prometheus_client import CollectorRegistry

from clusterdns.assembly import build_servers
from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import parse_corefile
from clusterdns.plugin import SetupContext
from clusterdns.plugins.rewrite.handler import RewriteHandler
from clusterdns.plugins.template.handler import TemplateHandler
from tests.plugins.rewrite.conftest import FakeClock


def servers(text: str) -> list[tuple[str, object]]:
    process = SetupContext((), CollectorRegistry(), FakeClock(), random.Random(0), lambda _: "")
    (server,) = build_servers(parse_corefile(text), process, 53)
    return server.plugins


def test_repeated_rewrite_and_template_make_one_handler_each_in_order() -> None:
    plugins = servers(
        ". {\n"
        "    rewrite name a.example. b.example.\n"
        "    template IN A one.test\n"
        "    rewrite continue name c.example. d.example.\n"
        "    template IN A two.test\n"
        "}\n"
    )
    assert [name for name, _ in plugins] == ["rewrite", "template"]
    rewrite, template = (plugin for _, plugin in plugins)
    assert isinstance(rewrite, RewriteHandler) and isinstance(template, TemplateHandler)
    assert [rule.matcher.value for rule in rewrite.rules if rule.matcher] == [
        "a.example.",
        "c.example.",
    ]
    assert [rule.stop for rule in rewrite.rules] == [True, False]
    assert [t.zones for t in template.templates] == [("one.test.",), ("two.test.",)]


def test_other_plugins_still_may_appear_once() -> None:
    with pytest.raises(CorefileError, match="Corefile:3: cache: this plugin can only be used once"):
        servers(". {\n    cache\n    cache\n}\n")


def test_a_bad_second_rule_names_its_own_line() -> None:
    with pytest.raises(CorefileError, match=r"Corefile:3: rewrite: invalid regex '\('"):
        servers(". {\n    rewrite name a. b.\n    rewrite name regex ( x\n}\n")
