"""The why of an answer: reasons with stable codes, suggestions, and phrasing helpers."""

from collections.abc import Sized
from dataclasses import dataclass, field

from clusterdns.dns.mnemonics import type_text
from clusterdns.dns.records import RType
from clusterdns.explain.suggest import nearest
from clusterdns.plugins.kubernetes.objects import LEGACY_SLICE_PREFIX, EndpointSlice
from clusterdns.plugins.kubernetes.snapshot import ZoneSnapshot

MAX_LISTED = 5  # addresses or names listed in one reason before "and N more"


@dataclass(frozen=True, slots=True)
class Reason:
    """One line of the why: a stable `code` for scripts and the `text` for people."""

    code: str
    text: str


@dataclass(slots=True)
class Why:
    """The reasons for one answer, and names that do exist near a name that does not."""

    reasons: list[Reason] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)

    def add(self, code: str, text: str) -> None:
        """Append a reason."""
        self.reasons.append(Reason(code, text))


def type_name(qtype: int) -> str:
    """`A`, `SRV`, `TYPE65280`."""
    return type_text(qtype)


def family(qtype: int) -> str:
    """The address family an A or AAAA question asks for."""
    return "IPv6" if qtype == RType.AAAA else "IPv4"


def is_v6(address: str) -> bool:
    """True for an IPv6 address (only those hold colons)."""
    return ":" in address


def listed(items: list[str]) -> str:
    """`a, b, c` with at most MAX_LISTED items, then `and N more`."""
    shown = ", ".join(items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def plural(items: Sized) -> str:
    """'s' unless there is exactly one."""
    return "" if len(items) == 1 else "s"


def swap(labels: list[str], index: int, value: str, zone: str) -> str:
    """The name `labels` + `zone` with one label replaced: a suggestion."""
    changed = list(labels)
    changed[index] = value
    return ".".join(changed) + "." + zone


def suggest_elsewhere(why: Why, snapshot: ZoneSnapshot, labels: list[str], zone: str) -> None:
    """Namespaces holding a Service of the asked name, as a reason and suggestions."""
    name = labels[-3]
    found = sorted(ns for ns, svc in snapshot.services if svc == name)
    if found:
        why.add(
            "service-elsewhere",
            f'a Service "{name}" exists in namespace {", ".join(found[:MAX_LISTED])}',
        )
        why.suggestions += [swap(labels, -2, ns, zone) for ns in found[:3]]


def suggest(
    why: Why, word: str, candidates: list[str], labels: list[str], index: int, zone: str
) -> None:
    """Names with label `index` replaced by each candidate near `word`."""
    why.suggestions += [swap(labels, index, c, zone) for c in nearest(word, candidates)]


def slice_name(piece: EndpointSlice) -> str:
    """`EndpointSlice ns/name`, or `Endpoints ns/name` for a mirrored legacy Endpoints."""
    if piece.name.startswith(LEGACY_SLICE_PREFIX):
        return f"Endpoints {piece.namespace}/{piece.name.removeprefix(LEGACY_SLICE_PREFIX)}"
    return f"EndpointSlice {piece.namespace}/{piece.name}"
