"""`rewrite` rules: the stanza parsed into frozen rules, and what each does to a question.

Pure values in, values out: a rule takes the question (name, type, class) and says what the
question becomes and which response rules must undo or adjust the reply. The semantics follow
CoreDNS's plugin/rewrite (name.go, ttl.go, rcode.go, type.go, class.go, cname_target.go).
"""

import re
from dataclasses import dataclass

from clusterdns.corefile.directive import directive_error
from clusterdns.corefile.lexer import CorefileError
from clusterdns.corefile.parser import Directive
from clusterdns.dns.mnemonics import class_text, rcode_text, type_text

MATCH_KINDS = ("exact", "prefix", "suffix", "substring", "regex")
MAX_REGEX = 10_000  # CoreDNS maxRegexpLen
_GROUP_REF = re.compile(r"\{(\d+)\}")
_TYPES = {type_text(n): n for n in (*range(1, 300), 32768, 32769)}
_CLASSES = {class_text(n): n for n in (1, 3, 4, 254, 255)}
_RCODES = {rcode_text(n): n for n in range(24)}
_GENERIC = re.compile(r"(TYPE|CLASS)([0-9]{1,5})")


def normalize(text: str) -> str:
    """CoreDNS plugin.Name.Normalize: lowercase and fully qualified."""
    text = text.lower()
    return text if text.endswith(".") else text + "."


def compile_regex(pattern: str) -> re.Pattern[str]:
    """A Go (RE2) regex as Python's `re`; ValueError naming the problem if it does not compile."""
    if len(pattern) > MAX_REGEX:
        raise ValueError(f"regex pattern too long: {len(pattern)} > {MAX_REGEX}")
    # RE2 spells named groups (?P<n>..) or (?<n>..); Python 3.11 only knows the first.
    translated = re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern)
    try:
        return re.compile(translated)
    except re.error as exc:
        raise ValueError(f"invalid regex '{pattern}': {exc}") from None


def substitute(pattern: re.Pattern[str], replacement: str, text: str) -> str | None:
    """`replacement` with {N} replaced by group N of the first match in `text`; None: no match."""
    found = pattern.search(text)
    if found is None:
        return None
    groups = (found.group(0), *found.groups(""))
    # CoreDNS replaces {0}..{n} in order with plain string replacement.
    result = replacement
    for index, value in enumerate(groups):
        result = result.replace("{" + str(index) + "}", value)
    return result


@dataclass(frozen=True, slots=True)
class Matcher:
    """How a rule matches the question name: exact, prefix, suffix, substring or regex."""

    kind: str
    value: str
    pattern: re.Pattern[str] | None = None

    def matches(self, name: str) -> bool:
        """True when `name` (lowercase, absolute) matches."""
        if self.kind == "exact":
            return name == self.value
        if self.kind == "prefix":
            return name.startswith(self.value)
        if self.kind == "suffix":
            return name.endswith(self.value)
        if self.kind == "substring":
            return self.value in name
        assert self.pattern is not None
        return self.pattern.search(name) is not None


@dataclass(frozen=True, slots=True)
class StringRewriter:
    """A name rewriting in replies: regex ({N} groups), remap (name or subdomain) or suffix."""

    kind: str  # "regex", "remap" or "suffix"
    source: str
    target: str
    pattern: re.Pattern[str] | None = None

    def rewrite(self, text: str) -> str:
        """`text` rewritten, or unchanged when the rewriter does not apply."""
        if self.kind == "regex":
            assert self.pattern is not None
            found = substitute(self.pattern, self.target, text)
            return text if found is None else found
        if self.kind == "suffix":
            return text[: -len(self.source)] + self.target if text.endswith(self.source) else text
        if text == self.source:
            return self.target
        # CoreDNS remapStringRewriter: a subdomain of the rewritten name maps too.
        cut = len(text) - len(self.source)
        if cut > 0 and text[cut - 1] == "." and text[cut:] == self.source:
            return text[:cut] + self.target
        return text


@dataclass(frozen=True, slots=True)
class OwnerNames:
    """Response rule: rewrite the owner name of every record."""

    rewriter: StringRewriter


@dataclass(frozen=True, slots=True)
class RecordValues:
    """Response rule: rewrite the name inside CNAME, PTR, NS, DNAME, MX, SRV and SOA data."""

    rewriter: StringRewriter


@dataclass(frozen=True, slots=True)
class TtlClamp:
    """Response rule: clamp every record's TTL into minimum..maximum."""

    minimum: int
    maximum: int


@dataclass(frozen=True, slots=True)
class RcodeSwap:
    """Response rule: a reply with rcode `old` gets rcode `new`."""

    old: int
    new: int


@dataclass(frozen=True, slots=True)
class CnameTarget:
    """Response rule: rewrite a CNAME target and replace what follows it by a lookup of it."""

    matcher: Matcher
    target: str


ResponseRule = OwnerNames | RecordValues | TtlClamp | RcodeSwap | CnameTarget


@dataclass(frozen=True, slots=True)
class Question:
    """The part of a query rules read and change."""

    name: str
    qtype: int
    qclass: int


@dataclass(frozen=True, slots=True)
class Rule:
    """One rewrite rule: what it matches, what the question becomes, how replies change."""

    field: str  # name, type, class, ttl, rcode or cname
    stop: bool
    matcher: Matcher | None = None
    target: str = ""  # the new name (name rules)
    auto: bool = False  # answer auto: map the new name back to the asked one
    answers: tuple[ResponseRule, ...] = ()
    types: tuple[int, int] = (0, 0)  # from, to (type and class rules)
    response: ResponseRule | None = None  # ttl, rcode and cname rules

    def apply(self, question: Question) -> tuple[Question, tuple[ResponseRule, ...]] | None:
        """The rewritten question and response rules, or None when the rule does not match."""
        if self.field == "name":
            return self._rename(question)
        if self.field == "type":
            if question.qtype != self.types[0]:
                return None
            return Question(question.name, self.types[1], question.qclass), ()
        if self.field == "class":
            if question.qclass != self.types[0]:
                return None
            return Question(question.name, question.qtype, self.types[1]), ()
        assert self.response is not None
        if self.matcher is not None and not self.matcher.matches(question.name):
            return None
        return question, (self.response,)

    def _rename(self, question: Question) -> tuple[Question, tuple[ResponseRule, ...]] | None:
        matcher, name = self.matcher, question.name
        assert matcher is not None
        if not matcher.matches(name):
            return None
        if matcher.kind == "exact":
            new = self.target
        elif matcher.kind == "prefix":
            new = self.target + name[len(matcher.value) :]
        elif matcher.kind == "suffix":
            new = name[: len(name) - len(matcher.value)] + self.target
        elif matcher.kind == "substring":
            new = name.replace(matcher.value, self.target)
        else:
            assert matcher.pattern is not None
            new = substitute(matcher.pattern, self.target, name) or name
        answers = self.answers
        if self.auto:
            back = StringRewriter("remap", new, name)
            answers = (OwnerNames(back), RecordValues(back), *answers)
        return Question(new, question.qtype, question.qclass), answers


def parse_rule(directive: Directive) -> Rule:
    """One `rewrite` directive (arguments, or the tokens of its `{ }` block) as a Rule."""
    args = list(directive.args)
    if len(args) < 2:
        # CoreDNS: with fewer than two arguments the block's lines are the rest of the rule.
        for child in directive.block:
            args.extend((child.name, *child.args))
    elif directive.block:
        raise directive_error(directive, "a rule on the line cannot also have a { } block")
    try:
        return _rule(args)
    except ValueError as exc:
        raise directive_error(directive, str(exc)) from None


def _rule(args: list[str]) -> Rule:
    if not args:
        raise ValueError("no rule type specified")
    stop = True
    if args[0].lower() in ("continue", "stop"):
        stop = args[0].lower() == "stop"
        if len(args) < 2:
            raise ValueError(f"'{args[0]}' must be followed by a rule type")
        args = args[1:]
    field, rest = args[0].lower(), args[1:]
    if field == "name":
        return _name_rule(stop, rest)
    if field in ("type", "class"):
        if len(rest) != 2:
            raise ValueError(f"{field} rules take exactly two arguments, got {len(rest)}")
        table = _TYPES if field == "type" else _CLASSES
        pair = (_mnemonic(rest[0], table, field), _mnemonic(rest[1], table, field))
        return Rule(field, stop, types=pair)
    if field == "ttl":
        return _ttl_rule(stop, rest)
    if field == "rcode":
        return _rcode_rule(stop, rest)
    if field == "cname":
        return _cname_rule(stop, rest)
    if field == "answer":
        raise ValueError("response rewrites must begin with a name rule")
    if field == "edns0":
        raise ValueError("edns0 rules are not supported by clusterdns")
    raise ValueError(
        f"invalid rule type '{args[0]}', expected name, type, class, ttl, rcode or cname"
    )


def _mnemonic(text: str, table: dict[str, int], what: str) -> int:
    upper = text.upper()
    if upper in table:
        return table[upper]
    generic = _GENERIC.fullmatch(upper)
    if generic and generic.group(1) == what.upper() and int(generic.group(2)) < 65536:
        return int(generic.group(2))
    raise ValueError(f"invalid {what} '{text}'")


def _matcher(kind: str, value: str, what: str = "name") -> Matcher:
    if kind == "regex":
        return Matcher(kind, value, compile_regex(value))
    if kind not in MATCH_KINDS:
        raise ValueError(f"{what} rules match only by {', '.join(MATCH_KINDS)}, got '{kind}'")
    return Matcher(kind, normalize(value))


def _name_rule(stop: bool, args: list[str]) -> Rule:
    if len(args) < 2:
        raise ValueError("too few arguments for a name rule")
    if len(args) == 2:
        kind, source, target = "exact", args[0], args[1]
    else:
        kind, source, target = args[0].lower(), args[1], args[2]
    matcher = _matcher(kind, source)
    if kind == "regex":
        assert matcher.pattern is not None
        _check_groups(matcher.pattern, target)
    auto, answers = _answer_rules(args[3:]) if len(args) > 3 else (False, ())
    target = normalize(target)
    if kind == "suffix" and auto:
        # CoreDNS: a suffix rule's auto answer swaps the suffix back, whatever the name.
        back = StringRewriter("suffix", target, matcher.value)
        return Rule(
            "name", stop, matcher, target, False, (OwnerNames(back), RecordValues(back), *answers)
        )
    # CoreDNS: an exact rule always maps the answer back.
    return Rule("name", stop, matcher, target, auto or kind == "exact", answers)


def _check_groups(pattern: re.Pattern[str], replacement: str) -> None:
    used = {int(n) for n in _GROUP_REF.findall(replacement) if int(n) <= 100}
    if len(used) > pattern.groups:
        raise ValueError(
            f"'{replacement}' uses more groups than '{pattern.pattern}' has ({pattern.groups})"
        )


def _answer_rules(args: list[str]) -> tuple[bool, tuple[ResponseRule, ...]]:
    """`answer auto`, `answer name FROM TO`, `answer value FROM TO` (CoreDNS parseAnswerRules)."""
    auto, rules, names, index = False, [], 0, 0
    if len(args) < 2 or args[0] != "answer":
        raise ValueError(f"unexpected '{args[0]}' after the name rule, expected 'answer'")
    while index < len(args):
        if args[index] == "answer":
            index += 1
        if index == len(args):
            raise ValueError("answer rule without a type (auto, name or value)")
        what = args[index]
        index += 1
        if what == "auto":
            auto = True
            continue
        if what not in ("name", "value"):
            raise ValueError(f"invalid answer rule type '{what}', expected auto, name or value")
        if len(args) - index < 2:
            raise ValueError(f"answer {what} takes 2 arguments: FROM TO")
        pattern = compile_regex(args[index])
        _check_groups(pattern, args[index + 1])
        rewriter = StringRewriter("regex", args[index], normalize(args[index + 1]), pattern)
        rules.append(OwnerNames(rewriter) if what == "name" else RecordValues(rewriter))
        names += what == "name"
        index += 2
    if auto and names:
        raise ValueError("answer auto cannot be combined with answer name rules")
    return auto, tuple(rules)


def _split_kind(args: list[str], counts: tuple[int, int], what: str) -> tuple[Matcher, list[str]]:
    """`[KIND] NAME VALUES...`: the matcher and the values, for ttl, rcode and cname rules."""
    short, full = counts
    if len(args) == short:
        return _matcher("exact", args[0], what), args[1:]
    if len(args) == full:
        return _matcher(args[0].lower(), args[1], what), args[2:]
    raise ValueError(f"{what} rules take {short} or {full} arguments, got {len(args)}")


def _ttl_rule(stop: bool, args: list[str]) -> Rule:
    matcher, (value,) = _split_kind(args, (2, 3), "ttl")
    low, _, high = value.partition("-")
    try:
        if "-" not in value:
            minimum = maximum = int(value)
        else:
            if not low and not high:
                raise ValueError
            minimum = int(low) if low else 0
            maximum = int(high) if high else 2**31 - 1
    except ValueError:
        raise ValueError(f"invalid TTL '{value}', expected SECONDS or MIN-MAX") from None
    if not (0 <= minimum <= maximum <= 2**32 - 1) or not value.replace("-", "").isdigit():
        raise ValueError(f"invalid TTL '{value}', expected SECONDS or MIN-MAX")
    return Rule("ttl", stop, matcher, response=TtlClamp(minimum, maximum))


def _rcode_rule(stop: bool, args: list[str]) -> Rule:
    matcher, (old, new) = _split_kind(args, (3, 4), "rcode")
    return Rule("rcode", stop, matcher, response=RcodeSwap(_rcode(old), _rcode(new)))


def _rcode(text: str) -> int:
    if text.isdigit() and int(text) <= 23:
        return int(text)
    if text.upper() in _RCODES:
        return _RCODES[text.upper()]
    raise ValueError(f"invalid RCODE '{text}'")


def _cname_rule(stop: bool, args: list[str]) -> Rule:
    if len(args) not in (2, 3):
        raise ValueError(f"cname rules take 2 or 3 arguments, got {len(args)}")
    kind = args[0].lower() if len(args) == 3 else "exact"
    source, target = (a.lower() for a in args[-2:])
    if kind == "exact":
        source, target = normalize(source), normalize(target)
    matcher = Matcher(kind, source, compile_regex(source)) if kind == "regex" else None
    if matcher is None:
        if kind not in MATCH_KINDS:
            raise ValueError(f"unknown cname rewrite type '{kind}'")
        matcher = Matcher(kind, source)
    # CoreDNS matches cname rules on every query and looks at the reply's CNAMEs.
    return Rule("cname", stop, None, response=CnameTarget(matcher, target))


def new_cname_target(rule: CnameTarget, target: str) -> str | None:
    """The new target for CNAME data `target`, or None when the rule does not apply."""
    matcher = rule.matcher
    if not matcher.matches(target):
        return None
    if matcher.kind == "exact":
        return rule.target
    if matcher.kind == "prefix":
        return rule.target + target[len(matcher.value) :]
    if matcher.kind == "suffix":
        return target[: len(target) - len(matcher.value)] + rule.target
    if matcher.kind == "substring":
        return target.replace(matcher.value, rule.target)
    assert matcher.pattern is not None
    return substitute(matcher.pattern, rule.target, target)


def parse_rules(directives: tuple[Directive, ...]) -> tuple[Rule, ...]:
    """Every `rewrite` directive of a block, in order; CorefileError with FILE:LINE if bad."""
    if not directives:
        raise CorefileError("Corefile", 0, "rewrite: no rules")
    return tuple(parse_rule(d) for d in directives)
