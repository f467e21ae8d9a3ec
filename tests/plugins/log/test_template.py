"""Log formats: parsing as CoreDNS's replacer does, rendering, durations and flags."""

import pytest

from clusterdns.plugins.log.template import (
    COMBINED,
    COMMON,
    Part,
    PartKind,
    flags_text,
    parse_format,
    render,
    seconds_text,
)

LIT = PartKind.LITERAL
PH = PartKind.PLACEHOLDER
META = PartKind.METADATA


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        pytest.param("", [], id="empty"),
        pytest.param("plain", [(LIT, "plain")], id="literal"),
        pytest.param("{type} {name}", [(PH, "{type}"), (LIT, " "), (PH, "{name}")], id="two"),
        pytest.param("A } {type}", [(LIT, "A } "), (PH, "{type}")], id="stray-close"),
        pytest.param("{ {name} }", [(LIT, "{ "), (PH, "{name}"), (LIT, " }")], id="nested"),
        pytest.param("a {X} {>id}", [(LIT, "a {X} "), (PH, "{>id}")], id="unknown-is-literal"),
        pytest.param("{>ID}", [(LIT, "{>ID}")], id="case-sensitive"),
        pytest.param("{/pod} x", [(META, "{/pod}"), (LIT, " x")], id="metadata"),
        pytest.param("{type", [(LIT, "{type")], id="unclosed"),
    ],
)
def test_parse_format(text: str, parts: list[tuple[PartKind, str]]) -> None:
    assert parse_format(text) == tuple(Part(kind, piece) for kind, piece in parts)


def test_common_and_combined_are_coredns_formats() -> None:
    assert COMMON == (
        '{remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" '
        "{rcode} {>rflags} {rsize} {duration}"
    )
    assert COMBINED == COMMON + ' "{>opcode}"'


def test_render_fills_placeholders_and_dashes_the_rest() -> None:
    parts = parse_format("{type} {rcode} {/pod} {>rflags}|{local}")
    assert render(parts, {"{type}": "A", "{>rflags}": ""}) == "A - - |-"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0.0, "0s", id="zero"),
        pytest.param(0.000123, "0.000123s", id="micro"),
        pytest.param(0.00001, "0.00001s", id="no-exponent"),
        pytest.param(1.5, "1.5s", id="fraction"),
        pytest.param(2.0, "2s", id="whole"),
        pytest.param(0.037990251, "0.037990251s", id="nanoseconds"),
        pytest.param(1.0000000004, "1s", id="below-a-nanosecond"),
        pytest.param(0.1 + 0.2, "0.3s", id="float-noise"),
    ],
)
def test_seconds_text(seconds: float, text: str) -> None:
    assert seconds_text(seconds) == text


@pytest.mark.parametrize(
    ("flags", "text"),
    [
        pytest.param(0x0000, "", id="none"),
        pytest.param(0x8180, "qr,rd,ra", id="recursive"),
        pytest.param(0x8500, "qr,aa,rd", id="authoritative"),
        pytest.param(0x87F0, "qr,aa,tc,rd,ra,z,ad,cd", id="all"),
    ],
)
def test_flags_text(flags: int, text: str) -> None:
    assert flags_text(flags) == text
