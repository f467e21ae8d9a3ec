"""Query log formats: CoreDNS's placeholders (plugin/pkg/replacer), parsed once, filled in."""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

COMMON = (
    '{remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" '
    "{rcode} {>rflags} {rsize} {duration}"
)
COMBINED = COMMON + ' "{>opcode}"'
SHORTHANDS = {"{common}": COMMON, "{combined}": COMBINED}
EMPTY = "-"  # what a placeholder without a value prints

PLACEHOLDERS = frozenset(
    {
        "{type}",
        "{name}",
        "{class}",
        "{proto}",
        "{size}",
        "{remote}",
        "{port}",
        "{local}",
        "{>id}",
        "{>opcode}",
        "{>do}",
        "{>bufsize}",
        "{rcode}",
        "{rsize}",
        "{duration}",
        "{>rflags}",
    }
)


class PartKind(Enum):
    """What one piece of a format is."""

    LITERAL = "literal"
    PLACEHOLDER = "placeholder"
    METADATA = "metadata"  # `{/label}`: the metadata plugin's values, which clusterdns lacks


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of a parsed format: literal text, a placeholder, or a metadata label."""

    kind: PartKind
    text: str


def parse_format(text: str) -> tuple[Part, ...]:
    """Split `text` into parts as CoreDNS does: unknown `{...}` stays literal text."""
    parts: list[Part] = []
    rest = text
    while (close := rest.find("}")) >= 0:
        # The innermost '{' before the first '}': "{ {name} }" holds the placeholder {name}.
        open_ = rest.rfind("{", 0, close)
        token = rest[open_ : close + 1] if open_ >= 0 else ""
        if token in PLACEHOLDERS:
            parts.extend((Part(PartKind.LITERAL, rest[:open_]), Part(PartKind.PLACEHOLDER, token)))
        elif token.startswith("{/"):
            parts.extend((Part(PartKind.LITERAL, rest[:open_]), Part(PartKind.METADATA, token)))
        else:
            parts.append(Part(PartKind.LITERAL, rest[: close + 1]))
        rest = rest[close + 1 :]
    parts.append(Part(PartKind.LITERAL, rest))
    return _merge(parts)


def _merge(parts: list[Part]) -> tuple[Part, ...]:
    """Drop empty literals and join neighbouring ones."""
    merged: list[Part] = []
    for part in parts:
        if part.kind is PartKind.LITERAL:
            if not part.text:
                continue
            if merged and merged[-1].kind is PartKind.LITERAL:
                merged[-1] = Part(PartKind.LITERAL, merged[-1].text + part.text)
                continue
        merged.append(part)
    return tuple(merged)


def render(parts: tuple[Part, ...], values: Mapping[str, str]) -> str:
    """The log line: each placeholder replaced by its value, or `-` when it has none."""
    pieces = []
    for part in parts:
        if part.kind is PartKind.LITERAL:
            pieces.append(part.text)
        elif part.kind is PartKind.PLACEHOLDER:
            pieces.append(values.get(part.text, EMPTY))
        else:
            pieces.append(EMPTY)
    return "".join(pieces)


# What changes from one hit of a stored answer to the next, in `compile_line`'s slot order.
HIT_FIELDS = ("{remote}", "{port}", "{>id}", "{duration}")


def compile_line(parts: tuple[Part, ...], values: Mapping[str, str]) -> str:
    """A `str.format` template of the line: HIT_FIELDS as slots 0-3, the rest from `values`."""
    slots = {field: f"{{{i}}}" for i, field in enumerate(HIT_FIELDS)}
    pieces = []
    for part in parts:
        if part.kind is PartKind.PLACEHOLDER and part.text in slots:
            pieces.append(slots[part.text])
            continue
        text = render((part,), values)
        pieces.append(text.replace("{", "{{").replace("}", "}}"))
    return "".join(pieces)


def seconds_text(seconds: float) -> str:
    """A duration as CoreDNS prints `{duration}`: shortest decimal seconds, `0.000123s`."""
    nanoseconds = round(seconds * 1_000_000_000)
    if 0 <= nanoseconds < 10**15:
        # Up to 15 significant digits the shortest round-trip decimal of ns / 1e9 is ns
        # itself written with 9 decimals, trailing zeros dropped (no Decimal: hits are hot).
        whole, fraction = divmod(nanoseconds, 1_000_000_000)
        text = f"{whole}.{fraction:09d}"
        return text.rstrip("0").rstrip(".") + "s"
    # Go's strconv.FormatFloat(s, 'f', -1, 64): the shortest digits that round-trip, no exponent.
    text = format(Decimal(repr(nanoseconds / 1_000_000_000)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + "s"


def flags_text(flags: int) -> str:
    """The header flags that are set, as `{>rflags}` lists them: `qr,aa,rd`."""
    return ",".join(name for bit, name in _FLAGS if flags & bit)


_FLAGS = (
    (0x8000, "qr"),
    (0x0400, "aa"),
    (0x0200, "tc"),
    (0x0100, "rd"),
    (0x0080, "ra"),
    (0x0040, "z"),
    (0x0020, "ad"),
    (0x0010, "cd"),
)
