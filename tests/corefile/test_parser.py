"""Corefile parsing: kubeadm's defaults exactly, then snippets → outline or error (file:line)."""

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import (
    MAX_DEPTH,
    Corefile,
    Directive,
    ServerBlock,
    parse_corefile,
)
from clusterdns.errors import ConfigError

COREFILES = Path(__file__).resolve().parents[1] / "data" / "corefiles"


def _d(line: int, name: str, *args: str, block: tuple[Directive, ...] = ()) -> Directive:
    return Directive(name, args, block, "Corefile", line)


def _kubeadm(cache: Directive, tail: int) -> Corefile:
    """kubeadm's default Corefile, with `cache` as given and `tail` the line of `loop`."""
    return Corefile(
        (
            ServerBlock(
                (".:53",),
                (
                    _d(2, "errors"),
                    _d(3, "health", block=(_d(4, "lameduck", "5s"),)),
                    _d(6, "ready"),
                    _d(
                        7,
                        "kubernetes",
                        "cluster.local",
                        "in-addr.arpa",
                        "ip6.arpa",
                        block=(
                            _d(8, "pods", "insecure"),
                            _d(9, "fallthrough", "in-addr.arpa", "ip6.arpa"),
                            _d(10, "ttl", "30"),
                        ),
                    ),
                    _d(12, "prometheus", ":9153"),
                    _d(
                        13,
                        "forward",
                        ".",
                        "/etc/resolv.conf",
                        block=(_d(14, "max_concurrent", "1000"),),
                    ),
                    cache,
                    _d(tail, "loop"),
                    _d(tail + 1, "reload"),
                    _d(tail + 2, "loadbalance"),
                ),
                "Corefile",
                1,
            ),
        )
    )


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        pytest.param(
            "kubeadm.Corefile",
            _kubeadm(
                _d(
                    16,
                    "cache",
                    "30",
                    block=(
                        _d(17, "disable", "success", "cluster.local"),
                        _d(18, "disable", "denial", "cluster.local"),
                    ),
                ),
                tail=20,
            ),
            id="kubeadm-current",
        ),
        pytest.param(
            "kubeadm-old.Corefile", _kubeadm(_d(16, "cache", "30"), tail=17), id="kubeadm-old"
        ),
    ],
)
def test_kubeadm_defaults(fixture: str, expected: Corefile) -> None:
    assert parse_corefile((COREFILES / fixture).read_text()) == expected


def outline(corefile: Corefile) -> list[str]:
    """Blocks as `[keys]`, directives indented by depth, arguments in JSON when not plain."""
    lines: list[str] = []

    def walk(directives: tuple[Directive, ...], depth: int) -> None:
        for d in directives:
            args = [a if a and a.isprintable() and " " not in a else json.dumps(a) for a in d.args]
            lines.append("  " * depth + " ".join([d.name, *args]))
            walk(d.block, depth + 1)

    for block in corefile.blocks:
        lines.append("[" + " ".join(block.keys) + "]")
        walk(block.directives, 1)
    return lines


def located(corefile: Corefile) -> list[str]:
    """`FILE:LINE name` for every block and directive, depth first."""
    found: list[str] = []

    def walk(directives: tuple[Directive, ...]) -> None:
        for d in directives:
            found.append(f"{d.file}:{d.line} {d.name}")
            walk(d.block)

    for block in corefile.blocks:
        found.append(f"{block.file}:{block.line} [{' '.join(block.keys)}]")
        walk(block.directives)
    return found


SNIPPETS = """\
(common) {
    errors
    cache 30
}
(server) {
    example.org {
        import common
    }
}
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", [], id="empty"),
        pytest.param("# nothing here\n", [], id="only-comment"),
        pytest.param(". { }", ["[.]"], id="minimal"),
        pytest.param(". {\n}\n.:1053 {\n}", ["[.]", "[.:1053]"], id="two-blocks"),
        pytest.param(
            "example.org example.net:1053 {\n whoami\n}",
            ["[example.org example.net:1053]", "  whoami"],
            id="keys-spaces",
        ),
        pytest.param(
            "example.org, example.net {\n}", ["[example.org example.net]"], id="keys-comma-space"
        ),
        pytest.param("a.org,b.org {\n}", ["[a.org b.org]"], id="keys-comma-only"),
        pytest.param(
            "a.org,\n  b.org,\n  c.org {\n}", ["[a.org b.org c.org]"], id="trailing-comma-continues"
        ),
        pytest.param("dns://.:53 10.0.0.0/8 {\n}", ["[dns://.:53 10.0.0.0/8]"], id="keys-verbatim"),
        pytest.param(".:53\n{\n  log\n}", ["[.:53]", "  log"], id="open-brace-next-line"),
        pytest.param(".:53", ["[.:53]"], id="keys-only"),
        pytest.param(".\nwhoami\nlog", ["[.]", "  whoami", "  log"], id="braceless-last-block"),
        pytest.param(
            ". {\n  errors # comment\n  # whole line\n  log\n}",
            ["[.]", "  errors", "  log"],
            id="comments",
        ),
        pytest.param(
            '. {\n  chaos "CoreDNS 001" "a \\"b\\"" ""\n}',
            ["[.]", '  chaos "CoreDNS 001" "a \\"b\\"" ""'],
            id="quoted-args",
        ),
        pytest.param(
            ". {\n  forward . import\n}", ["[.]", "  forward . import"], id="import-as-argument"
        ),
        pytest.param('. {\n  "import" x\n}', ["[.]", "  import x"], id="quoted-import-is-a-word"),
        pytest.param(
            ". { whoami\n  log\n}", ["[.]", "  whoami", "  log"], id="directive-on-open-line"
        ),
        pytest.param(
            ". {\n  cache 30 { success 1000\n    denial 500\n  }\n}",
            ["[.]", "  cache 30", "    success 1000", "    denial 500"],
            id="property-on-open-line",
        ),
        pytest.param(
            ". {\n  cache 30 { }\n  health {\n  }\n}",
            ["[.]", "  cache 30", "  health"],
            id="empty-blocks",
        ),
        pytest.param(
            "a {\n b {\n  c 1 {\n   d 2\n  }\n  e\n }\n}",
            ["[a]", "  b", "    c 1", "      d 2", "    e"],
            id="nesting",
        ),
        pytest.param(
            SNIPPETS + ". {\n  import common\n  log\n}",
            ["[.]", "  errors", "  cache 30", "  log"],
            id="snippet-in-block",
        ),
        pytest.param(
            SNIPPETS + "import server\n",
            ["[example.org]", "  errors", "  cache 30"],
            id="snippet-at-top-level",
        ),
        pytest.param(
            SNIPPETS + ". { import common\n}",
            ["[.]", "  errors", "  cache 30"],
            id="import-on-open-line",
        ),
        pytest.param(
            SNIPPETS + ". {\n  forward . 1.1.1.1 {\n    import common\n  }\n}",
            ["[.]", "  forward . 1.1.1.1", "    errors", "    cache 30"],
            id="snippet-in-nested-block",
        ),
        pytest.param(
            "(one) { log }\n. {\n  import one\n  import one\n}",
            ["[.]", "  log", "  log"],
            id="one-line-snippet-twice",
        ),
    ],
)
def test_outline(text: str, expected: list[str]) -> None:
    assert outline(parse_corefile(text)) == expected


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        pytest.param(
            "{$ZONE}:{$PORT} {\n  forward . {$UPSTREAM}\n}",
            {"ZONE": "cluster.local", "PORT": "1053", "UPSTREAM": "10.0.0.10"},
            ["[cluster.local:1053]", "  forward . 10.0.0.10"],
            id="set",
        ),
        pytest.param(
            ". {\n  forward . {$UPSTREAM}\n}", {}, ["[.]", '  forward . ""'], id="unset-arg-empty"
        ),
        pytest.param("{$EXTRA} example.org {\n}", {}, ["[example.org]"], id="unset-key-skipped"),
        pytest.param(
            ". {\n  forward . {$UPSTREAMS}\n}",
            {"UPSTREAMS": "1.1.1.1 8.8.8.8"},
            ["[.]", '  forward . "1.1.1.1 8.8.8.8"'],
            id="value-is-one-argument",
        ),
        pytest.param(
            ". {\n  log {$BRACE}\n}", {"BRACE": "{"}, ["[.]", "  log {"], id="value-is-no-syntax"
        ),
    ],
)
def test_env(text: str, env: Mapping[str, str], expected: list[str]) -> None:
    assert outline(parse_corefile(text, env=env)) == expected


CYCLE = "(a) {\n  import b\n}\n(b) {\n  import a\n}\n. {\n  import a\n}\n"
DOUBLING = "".join(f"(s{i}) {{\n  import s{i - 1}\n  import s{i - 1}\n}}\n" for i in range(1, 12))


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param("}", "Corefile:1: unexpected '}', no block is open", id="close-at-top"),
        pytest.param("{\n}", "Corefile:1: expected server block keys before '{'", id="no-keys"),
        pytest.param(
            "\n\n. {\n  log\n",
            "Corefile:3: unterminated block: this '{' is never closed",
            id="unclosed",
        ),
        pytest.param(
            ". {\n  cache 30 {\n}\n",
            "Corefile:1: unterminated block: this '{' is never closed",
            id="unclosed-outer",
        ),
        pytest.param(
            ". {\n}\n}\n", "Corefile:3: unexpected '}', no block is open", id="extra-close"
        ),
        pytest.param(
            ". {\n  cache 30 {\n    success 10\n  }\n  }\n}\n",
            "Corefile:6: unexpected '}', no block is open",
            id="extra-close-nested",
        ),
        pytest.param(
            ". {\n  whoami }\n", "Corefile:2: unexpected '}' after 'whoami'", id="close-after-args"
        ),
        pytest.param(
            ". {\n  cache { success 1 }\n}",
            "Corefile:2: unexpected '}' after 'success'",
            id="one-line-block",
        ),
        pytest.param(". {\n} x\n", "Corefile:2: unexpected 'x' after '}'", id="word-after-close"),
        pytest.param(
            ". {\n  health {\n  } }\n", "Corefile:3: unexpected '}' after '}'", id="two-closes"
        ),
        pytest.param(
            ". {\n  health\n  {\n  }\n}",
            "Corefile:3: unexpected '{', expected it at the end",
            id="open-on-own-line",
        ),
        pytest.param(
            "a.org,", "Corefile:1: expected another server block key after ','", id="comma-eof"
        ),
        pytest.param(
            "a.org, {\n}",
            "Corefile:1: expected another server block key after ','",
            id="comma-brace",
        ),
        pytest.param(
            ". } {\n}", "Corefile:1: unexpected '}' among server block keys", id="key-close"
        ),
        pytest.param('"" {\n}', "Corefile:1: empty server block key", id="empty-key"),
        pytest.param('. {\n  "" x\n}', "Corefile:2: empty directive name", id="empty-directive"),
        pytest.param(
            '. {\n  log "x\n}\n', "Corefile:2: unterminated quoted string", id="unterminated-quote"
        ),
        pytest.param("(s)\n", "Corefile:1: snippet (s) needs a block", id="snippet-no-block"),
        pytest.param("() {\n}", "Corefile:1: empty snippet name", id="snippet-no-name"),
        pytest.param(
            "(s) {\n}\n(s) {\n}",
            "Corefile:3: snippet (s) is already defined at line 1",
            id="snippet-twice",
        ),
        pytest.param(
            "(s) {\n  log\n",
            "Corefile:1: unterminated snippet (s): this '{' is never closed",
            id="snippet-unclosed",
        ),
        pytest.param(
            ". {\n  import\n}", "Corefile:2: import: expected a snippet name", id="import-no-arg"
        ),
        pytest.param(
            ". {\n  import a b\n}",
            "Corefile:2: import: expected one snippet name or file pattern, got 'b' too",
            id="import-two-args",
        ),
        pytest.param(
            ". {\n  import nope\n}",
            "Corefile:2: import: no snippet (nope) defined above, and file imports are off",
            id="import-unknown",
        ),
        pytest.param(
            ". {\n  import later\n}\n(later) {\n}",
            "Corefile:2: import: no snippet (later)",
            id="snippet-used-before-definition",
        ),
        pytest.param(
            CYCLE, "Corefile:5: import cycle: snippet a -> snippet b -> snippet a", id="cycle"
        ),
        pytest.param(
            "(a) {\n  import a\n}\n. {\n  import a\n}",
            "Corefile:2: import cycle: snippet a -> snippet a",
            id="self-import",
        ),
        pytest.param(
            "(s0) {\n  log\n}\n" + DOUBLING + ". {\n  import s11\n}",
            "import: more than 1000 imports",
            id="import-bomb",
        ),
        pytest.param(
            "a {\n" * (MAX_DEPTH + 5),
            f"Corefile:{MAX_DEPTH + 1}: blocks nested more than {MAX_DEPTH} deep",
            id="too-deep",
        ),
    ],
)
def test_errors(text: str, error: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse_corefile(text)
    assert str(caught.value).startswith(error) or error in str(caught.value)
    assert isinstance(caught.value, ConfigError)


class Files:
    """An in-memory `read_import`: patterns to texts; others raise FileNotFoundError."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self.texts = texts
        self.read: list[str] = []

    def __call__(self, pattern: str, importer: str) -> list[tuple[str, str]]:
        self.read.append(pattern)
        if pattern not in self.texts:
            raise FileNotFoundError(f"no file matches {pattern}")
        return [(pattern, self.texts[pattern])]


K3S = """\
.:53 {
    errors
    import /etc/coredns/custom/*.override
}
import /etc/coredns/custom/*.server
"""


def test_file_imports_inside_and_outside_blocks() -> None:
    files = Files(
        {
            "/etc/coredns/custom/*.override": "log\n",
            "/etc/coredns/custom/*.server": "(shared) {\n  cache 30\n}\n"
            "example.org {\n  import shared\n  forward . 10.0.0.1\n}\n",
        }
    )
    parsed = parse_corefile(K3S, read_import=files)
    assert outline(parsed) == [
        "[.:53]",
        "  errors",
        "  log",
        "[example.org]",
        "  cache 30",
        "  forward . 10.0.0.1",
    ]
    assert located(parsed) == [
        "Corefile:1 [.:53]",
        "Corefile:2 errors",
        "/etc/coredns/custom/*.override:1 log",
        "/etc/coredns/custom/*.server:4 [example.org]",
        "/etc/coredns/custom/*.server:2 cache",
        "/etc/coredns/custom/*.server:6 forward",
    ]
    assert files.read == ["/etc/coredns/custom/*.override", "/etc/coredns/custom/*.server"]


def test_env_reaches_imported_files() -> None:
    files = Files({"extra": "forward . {$UP}\n"})
    parsed = parse_corefile(". {\n  import extra\n}", env={"UP": "10.0.0.1"}, read_import=files)
    assert outline(parsed) == ["[.]", "  forward . 10.0.0.1"]


def test_snippet_wins_over_file() -> None:
    files = Files({})
    parsed = parse_corefile("(s) {\n  log\n}\n. {\n  import s\n}", read_import=files)
    assert outline(parsed) == ["[.]", "  log"]
    assert files.read == []


@pytest.mark.parametrize(
    ("texts", "error"),
    [
        pytest.param({}, "Corefile:2: import: cannot read 'a.conf': no file matches", id="missing"),
        pytest.param(
            {"a.conf": 'log "x\n'}, "a.conf:1: unterminated quoted string", id="lex-error-in-file"
        ),
        # Imported tokens are spliced in as Caddy does, so a file's '}' closes the outer block.
        pytest.param({"a.conf": "}\n"}, "Corefile:3: unexpected '}'", id="close-in-file"),
        pytest.param(
            {"a.conf": "import b.conf\n", "b.conf": "log\nimport a.conf\n"},
            "b.conf:2: import cycle: file a.conf -> file b.conf -> file a.conf",
            id="file-cycle",
        ),
        pytest.param(
            {"a.conf": "cache {\n"},
            # The file's '{' is closed by the Corefile's '}': the server block is left open.
            "Corefile:1: unterminated block: this '{' is never closed",
            id="unclosed-in-file",
        ),
    ],
)
def test_file_import_errors(texts: Mapping[str, str], error: str) -> None:
    with pytest.raises(CorefileError, match="^" + error.replace("*", r"\*")):
        parse_corefile(". {\n  import a.conf\n}\n", read_import=Files(texts))


def test_block_opened_in_file_located() -> None:
    files = Files({"a.conf": ". {\n  log\n"})
    with pytest.raises(CorefileError, match="^a.conf:1: unterminated block: this '{' is never"):
        parse_corefile("\nimport a.conf", read_import=files)


def test_reader_config_error_is_located() -> None:
    def refuse(pattern: str, importer: str) -> list[tuple[str, str]]:
        raise ConfigError(f"{pattern} is outside /etc/coredns")

    with pytest.raises(CorefileError, match="^Corefile:1: import: cannot read '/x': /x is outside"):
        parse_corefile("import /x\n", read_import=refuse)


FUZZ_ALPHABET = st.sampled_from(
    list(' \t\n{}{}"\\#,:.()$%') + ["import", "import s", "(s)", "a", "53", "{$X}", "\n}\n"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(FUZZ_ALPHABET, max_size=40).map("".join) | st.text(max_size=60))
def test_fuzz_parses_or_raises_corefile_error(text: str) -> None:
    files = Files({"s": "log\n", "(s)": "(s) {\n import s\n}\n", "a": text})
    try:
        parsed = parse_corefile(text, env={"X": "{"}, read_import=files)
    except CorefileError as exc:
        assert exc.line >= 1 and str(exc).startswith(f"{exc.file}:{exc.line}: ")
    else:
        assert isinstance(parsed, Corefile)
