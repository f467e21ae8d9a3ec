"""The subset of Go's text/template CoreDNS template records use: parsed at load, run per query.

Supported: text, `{{ pipeline }}` actions with `{{-`/`-}}` trimming and `{{/* comments */}}`;
a pipeline is commands joined by `|` (the value of one is the last argument of the next);
a command is a field chain (`.Name`, `.Group.a`, `.Question.Name`), `.`, a string or number
literal, a parenthesised pipeline, or a call of `index` or `parseInt` (CoreDNS's one extra
function, strconv.ParseUint). Anything else (variables, if/range/with, other functions) is
rejected at load with the offending token, instead of failing on every query.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

# Fields the data offers (CoreDNS templateData), and the fields of its structured members.
FIELDS = frozenset(
    {"Name", "Zone", "Class", "Type", "Regex", "Match", "Group", "Message", "Question", "Remote"}
)
QUESTION_FIELDS = frozenset({"Name", "Qtype", "Qclass"})
MESSAGE_FIELDS = frozenset(
    {"Id", "Opcode", "RecursionDesired", "CheckingDisabled", "AuthenticatedData", "Question"}
)
FUNCTIONS = frozenset({"index", "parseInt"})
_KEYWORDS = frozenset(
    {
        "if",
        "else",
        "end",
        "range",
        "with",
        "define",
        "template",
        "block",
        "break",
        "continue",
        "nil",
    }
)
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<number>[+-]?(?:0[xX][0-9a-fA-F]+|[0-9]+))(?![\w.])
    | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<punct>[|()])
    | (?P<other>\S+?)(?=[\s|()]|$)
    )""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "r": "\r", "0": "\0"}


class TemplateSyntaxError(ValueError):
    """A template that is not in the supported subset; the message names the bad token."""


class TemplateExecError(ValueError):
    """A template that failed on one query's data (index out of range, bad parseInt input)."""


@dataclass(frozen=True, slots=True)
class Field:
    """`.A.B`: a path into the data (empty: the data itself)."""

    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Literal:
    """A string or number constant."""

    value: str | int


@dataclass(frozen=True, slots=True)
class Call:
    """A command: a function with arguments, or a single operand (function None)."""

    function: str | None
    args: tuple["Operand", ...]


@dataclass(frozen=True, slots=True)
class Pipeline:
    """Commands joined by `|`."""

    commands: tuple[Call, ...]


Operand = Field | Literal | Pipeline
Node = str | Pipeline


class Question:
    """The question as templates see it (miekg dns.Question)."""

    __slots__ = ("Name", "Qclass", "Qtype", "_text")

    def __init__(self, name: str, qtype: int, qclass: int, text: str) -> None:
        self.Name, self.Qtype, self.Qclass, self._text = name, qtype, qclass, text

    def __str__(self) -> str:
        return self._text


class Message:
    """The header and question of the query as templates see it (a few dns.Msg fields)."""

    __slots__ = (
        "AuthenticatedData",
        "CheckingDisabled",
        "Id",
        "Opcode",
        "Question",
        "RecursionDesired",
    )

    def __init__(self, ident: int, flags: int, question: Question) -> None:
        self.Id = ident
        self.Opcode = (flags >> 11) & 0xF
        self.RecursionDesired = bool(flags & 0x0100)
        self.AuthenticatedData = bool(flags & 0x0020)
        self.CheckingDisabled = bool(flags & 0x0010)
        self.Question = [question]


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: text and actions, and which top-level fields it reads."""

    source: str
    nodes: tuple[Node, ...]
    fields: frozenset[str]

    def render(self, data: Mapping[str, object]) -> str:
        """The template's text for `data`; TemplateExecError when an action fails."""
        parts = []
        for node in self.nodes:
            parts.append(node if isinstance(node, str) else _print(_pipeline(node, data)))
        return "".join(parts)


def parse(source: str) -> Template:
    """Parse `source`; TemplateSyntaxError naming the first token outside the subset."""
    nodes: list[Node] = []
    fields: set[str] = set()
    position = 0
    while True:
        start = source.find("{{", position)
        if start < 0:
            nodes.append(source[position:])
            break
        text = source[position:start]
        inner_start = start + 2
        if source.startswith("{{- ", start):
            text = text.rstrip()
            inner_start += 1
        nodes.append(text)
        end = source.find("}}", inner_start)
        if end < 0:
            raise TemplateSyntaxError(f"unclosed action '{source[start : start + 20]}'")
        inner = source[inner_start:end]
        trim_right = inner.endswith(" -")
        if trim_right:
            inner = inner[:-2]
        position = end + 2
        if trim_right:
            while position < len(source) and source[position].isspace():
                position += 1
        stripped = inner.strip()
        if stripped.startswith("/*"):
            if not stripped.endswith("*/"):
                raise TemplateSyntaxError(f"unclosed comment '{stripped[:20]}'")
            continue
        pipeline = _Parser(inner, fields).pipeline()
        nodes.append(pipeline)
    return Template(source, tuple(n for n in nodes if n != ""), frozenset(fields))


class _Parser:
    """Recursive descent over the tokens of one action."""

    def __init__(self, text: str, fields: set[str]) -> None:
        self.tokens = self._tokenize(text)
        self.position = 0
        self.fields = fields

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            found = _TOKEN.match(text, position)
            if found is None or found.end() == position:
                if text[position:].strip():
                    raise TemplateSyntaxError(f"unexpected '{text[position:].strip()}'")
                break
            kind = found.lastgroup or "other"
            tokens.append((kind, found.group(kind)))
            position = found.end()
        return tokens

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def pipeline(self, closing: bool = False) -> Pipeline:
        commands = [self._command()]
        while (token := self._peek()) is not None and token == ("punct", "|"):
            self.position += 1
            commands.append(self._command())
        token = self._peek()
        if closing:
            if token != ("punct", ")"):
                raise TemplateSyntaxError("unclosed '('")
            self.position += 1
        elif token is not None:
            raise TemplateSyntaxError(f"unexpected '{token[1]}'")
        for later in commands[1:]:
            if later.function is None:
                raise TemplateSyntaxError("only a function can follow '|'")
        return Pipeline(tuple(commands))

    def _command(self) -> Call:
        token = self._peek()
        if token is None or token in (("punct", "|"), ("punct", ")")):
            raise TemplateSyntaxError("missing value in action")
        kind, text = token
        if kind == "ident":
            self.position += 1
            if text in _KEYWORDS:
                raise TemplateSyntaxError(f"'{text}' actions are not supported")
            if text not in FUNCTIONS:
                raise TemplateSyntaxError(
                    f"function '{text}' is not supported (only {', '.join(sorted(FUNCTIONS))})"
                )
            args = []
            while (following := self._peek()) is not None and following[1] not in ("|", ")"):
                args.append(self._operand())
            return Call(text, tuple(args))
        operand = self._operand()
        following = self._peek()
        if following is not None and following[1] not in ("|", ")"):
            raise TemplateSyntaxError(f"unexpected '{following[1]}' after a value")
        return Call(None, (operand,))

    def _operand(self) -> Operand:
        token = self._peek()
        assert token is not None
        kind, text = token
        self.position += 1
        if kind == "field":
            return self._field(text)
        if kind == "string":
            return Literal(_unquote(text))
        if kind == "raw":
            return Literal(text[1:-1])
        if kind == "number":
            return Literal(int(text, 0))
        if text == "(":
            return self.pipeline(closing=True)
        if text.startswith("$"):
            raise TemplateSyntaxError(f"variables are not supported: '{text}'")
        raise TemplateSyntaxError(f"unexpected '{text}'")

    def _field(self, text: str) -> Field:
        path = tuple(part for part in text.split(".") if part)
        if not path:
            return Field(())
        head = path[0]
        if head not in FIELDS:
            raise TemplateSyntaxError(
                f"unknown field '.{head}', expected one of {', '.join(sorted(FIELDS))}"
            )
        allowed: frozenset[str] | None = {
            "Question": QUESTION_FIELDS,
            "Message": MESSAGE_FIELDS,
        }.get(head)
        if head == "Group":
            if len(path) > 2:
                raise TemplateSyntaxError(f"'{text}': a group is a string, it has no fields")
        elif allowed is not None:
            if len(path) > 2 or (len(path) == 2 and path[1] not in allowed):
                raise TemplateSyntaxError(
                    f"'{text}' is not supported, expected .{head}.{{{','.join(sorted(allowed))}}}"
                )
            if head == "Message" and len(path) == 1:
                raise TemplateSyntaxError("'.Message' alone prints the whole message: name a field")
        elif len(path) > 1:
            raise TemplateSyntaxError(f"'{text}': .{head} has no fields")
        self.fields.add(head)
        return Field(path)


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def _pipeline(pipeline: Pipeline, data: Mapping[str, object]) -> object:
    commands = pipeline.commands
    if len(commands) == 1 and commands[0].function is None:
        return _operand(commands[0].args[0], data)  # the common `{{ .Field }}`
    value: object = None
    for index, command in enumerate(pipeline.commands):
        args = [_operand(arg, data) for arg in command.args]
        if index > 0:
            args.append(value)  # Go: the previous command's value is the last argument
        if command.function is None:
            value = args[0]
        else:
            value = _FUNCS[command.function](args)
    return value


def _operand(operand: Operand, data: Mapping[str, object]) -> object:
    if isinstance(operand, Literal):
        return operand.value
    if isinstance(operand, Pipeline):
        return _pipeline(operand, data)
    value: object = data
    for part in operand.path:
        value = _attribute(value, part)
    return value


def _attribute(value: object, part: str) -> object:
    if type(value) is dict or isinstance(value, Mapping):
        # Go text/template: a missing map key prints as "<no value>".
        return value.get(part, _NO_VALUE)
    return getattr(value, part)


class _NoValue:
    def __str__(self) -> str:
        return "<no value>"


_NO_VALUE = _NoValue()


def _print(value: object) -> str:
    """Go's fmt.Print form of the values templates meet."""
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_print(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{_print(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _index(args: Sequence[object]) -> object:
    if not args:
        raise TemplateExecError("index: no arguments")
    value = args[0]
    for key in args[1:]:
        if isinstance(value, Mapping):
            value = value.get(key, _NO_VALUE)
        elif isinstance(value, list | tuple | str) and isinstance(key, int):
            if not 0 <= key < len(value):
                raise TemplateExecError(f"index out of range: {key}")
            value = value[key]
        else:
            raise TemplateExecError(f"cannot index {_print(value)!r} with {_print(key)!r}")
    return value


def _parse_int(args: Sequence[object]) -> object:
    """strconv.ParseUint(s, base, bitSize): an unsigned integer, or an error."""
    if len(args) != 3:
        raise TemplateExecError(f"parseInt wants 3 arguments (string, base, bits), got {len(args)}")
    text, base, bits = args
    if not isinstance(text, str) or not isinstance(base, int) or not isinstance(bits, int):
        raise TemplateExecError("parseInt wants a string, a base and a bit size")
    if not (base == 0 or 2 <= base <= 36) or not 0 <= bits <= 64:
        raise TemplateExecError(f"parseInt: invalid base {base} or bit size {bits}")
    digits = text.replace("_", "") if base == 0 else text
    if not digits or digits[0] in "+-" or not digits.isalnum():
        raise TemplateExecError(f'parseInt: parsing "{text}": invalid syntax')
    try:
        value = int(digits, base)
    except ValueError:
        raise TemplateExecError(f'parseInt: parsing "{text}": invalid syntax') from None
    if value >= 1 << (bits or 64):
        raise TemplateExecError(f'parseInt: parsing "{text}": value out of range')
    return value


_FUNCS: dict[str, Callable[[Sequence[object]], object]] = {"index": _index, "parseInt": _parse_int}
