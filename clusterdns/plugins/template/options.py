"""`template` stanzas parsed into frozen templates: class, type, zones, regexes, records, rcode."""

import re
from dataclasses import dataclass

from clusterdns.corefile.directive import directive_error, expect_args
from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import Directive
from clusterdns.dns.mnemonics import class_text, rcode_text, type_text
from clusterdns.dns.names import is_subdomain, normalize
from clusterdns.plugins.template.gotemplate import Template, TemplateSyntaxError, parse

MAX_REGEX = 10_000  # CoreDNS maxRegexpLen
ANY = 255
_TYPES = {type_text(n): n for n in (*range(1, 300), 32768, 32769)}
_CLASSES = {class_text(n): n for n in (1, 3, 4, 254, 255)}
_RCODES = {rcode_text(n): n for n in range(24)}
SECTIONS = ("answer", "additional", "authority")
# Fields whose value differs between queries with the same question: such answers are never
# pre-encoded by the server.
PER_CLIENT_FIELDS = frozenset({"Remote", "Message"})


@dataclass(frozen=True, slots=True)
class RecordTemplate:
    """One `answer`/`additional`/`authority` template and where the Corefile has it."""

    section: str
    template: Template
    where: str  # FILE:LINE, for logs


@dataclass(frozen=True, slots=True)
class TemplateConfig:
    """One `template` stanza."""

    qclass: int
    qtype: int
    zones: tuple[str, ...]
    regexes: tuple[re.Pattern[str], ...]
    records: tuple[RecordTemplate, ...]
    rcode: int = 0
    ederror: tuple[int, str] | None = None
    fallthrough: tuple[str, ...] | None = None  # None: off; (): every zone

    @property
    def per_client(self) -> bool:
        """True when a record reads a field that depends on more than the question."""
        return any(r.template.fields & PER_CLIENT_FIELDS for r in self.records)

    def falls_through(self, name: str) -> bool:
        """CoreDNS fall.Through: fallthrough is on for `name`'s zone."""
        if self.fallthrough is None:
            return False
        return not self.fallthrough or any(is_subdomain(name, z) for z in self.fallthrough)


def compile_regex(pattern: str) -> re.Pattern[str]:
    """A Go (RE2) regex as Python's `re`; ValueError naming the problem."""
    if len(pattern) > MAX_REGEX:
        raise ValueError(f"regex pattern too long: {len(pattern)} > {MAX_REGEX}")
    translated = re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern)  # RE2's other named-group form
    try:
        return re.compile(translated)
    except re.error as exc:
        raise ValueError(f"could not parse regex '{pattern}': {exc}") from None


def parse_templates(
    directives: tuple[Directive, ...], server_zones: tuple[str, ...]
) -> tuple[TemplateConfig, ...]:
    """Every `template` directive of a block, in order; CorefileError with FILE:LINE if bad."""
    return tuple(parse_template(d, server_zones) for d in directives)


def parse_template(directive: Directive, server_zones: tuple[str, ...]) -> TemplateConfig:
    """One `template CLASS TYPE [ZONE...] { ... }` stanza."""
    args = expect_args(directive, 2)
    qclass = _mnemonic(directive, args[0], _CLASSES, "query class")
    qtype = _mnemonic(directive, args[1], _TYPES, "query type")
    zones = tuple(normalize(z) for z in args[2:]) or server_zones
    regexes: list[re.Pattern[str]] = []
    records: list[RecordTemplate] = []
    rcode, ederror, fallthrough = 0, None, None
    for child in directive.block:
        name = child.name
        if name == "match":
            for pattern in expect_args(child, 1, parent=directive):
                try:
                    regexes.append(compile_regex(pattern))
                except ValueError as exc:
                    raise directive_error(child, str(exc), directive) from None
        elif name in SECTIONS:
            for text in expect_args(child, 1, parent=directive):
                records.append(_record(child, directive, name, text))
        elif name == "rcode":
            (code,) = expect_args(child, 1, 1, parent=directive)
            if code.upper() not in _RCODES:
                raise directive_error(child, f"unknown rcode '{code}'", directive)
            rcode = _RCODES[code.upper()]
        elif name == "ederror":
            found = expect_args(child, 1, 2, parent=directive)
            if not found[0].isdigit() or int(found[0]) > 65535:
                raise directive_error(child, f"bad extended error code '{found[0]}'", directive)
            ederror = (int(found[0]), found[1] if len(found) > 1 else "")
        elif name == "fallthrough":
            fallthrough = tuple(normalize(z) for z in child.args)
        elif name == "upstream":
            pass  # CoreDNS ignores it too: CNAME targets are always resolved through the server
        elif name in ("var", "expr"):
            raise directive_error(child, "expressions (var, expr) are not supported", directive)
        else:
            raise CorefileError(child.file, child.line, f"template: unknown property '{name}'")
    return TemplateConfig(
        qclass,
        qtype,
        zones,
        tuple(regexes) or (re.compile(".*"),),
        tuple(records),
        rcode,
        ederror,
        fallthrough,
    )


def _mnemonic(directive: Directive, text: str, table: dict[str, int], what: str) -> int:
    if text in table:  # CoreDNS looks them up as written (upper case)
        return table[text]
    raise directive_error(directive, f"invalid {what} '{text}'")


def _record(child: Directive, parent: Directive, section: str, text: str) -> RecordTemplate:
    try:
        template = parse(text)
    except TemplateSyntaxError as exc:
        problem = f"could not parse template '{text}': {exc}"
        raise directive_error(child, problem, parent) from None
    return RecordTemplate(section, template, f"{child.file}:{child.line}")
