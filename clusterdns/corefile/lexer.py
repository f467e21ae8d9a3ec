"""Corefile text to tokens: words, quoted strings and braces, with file, line and env values."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from clusterdns.errors import ConfigError

NO_ENV: Mapping[str, str] = MappingProxyType({})

# CoreDNS (Caddy 1) substitutes {$NAME} and the Windows form {%NAME%} inside each token, after
# lexing, so a value never splits into several tokens and never becomes syntax. There are no
# defaults: "{$NAME:x}" names the variable "NAME:x", and an unset variable is the empty string.
_ENV_REFERENCE = re.compile(r"\{\$([^}]+)\}|\{%(.+?)%\}", re.DOTALL)


class CorefileError(ConfigError):
    """A Corefile that cannot be used, located by file and line."""

    def __init__(self, file: str, line: int, problem: str) -> None:
        self.file = file
        self.line = line
        self.problem = problem
        super().__init__(f"{file}:{line}: {problem}")


class Kind(Enum):
    """What a token is to the parser."""

    WORD = "word"
    OPEN = "{"
    CLOSE = "}"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its text (env substituted, quotes removed), where it starts and how."""

    kind: Kind
    text: str
    file: str
    line: int
    line_start: bool  # a line break, or the start of the input, comes before it
    quoted: bool = False


def substitute_env(text: str, env: Mapping[str, str]) -> str:
    """`text` with each {$NAME} and {%NAME%} replaced by its value in `env` (unset: empty)."""
    if "{" not in text:
        return text
    return _ENV_REFERENCE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), text)


def tokenize(
    text: str, filename: str = "Corefile", env: Mapping[str, str] = NO_ENV
) -> tuple[Token, ...]:
    """Split Corefile `text` into tokens the way CoreDNS's Caddyfile lexer does."""
    tokens: list[Token] = []
    line = 1
    line_start = True
    i = 1 if text.startswith("\ufeff") else 0  # Caddy drops a leading byte order mark
    end = len(text)
    while i < end:
        ch = text[i]
        if ch == "\n":
            line += 1
            line_start = True
            i += 1
        elif ch.isspace():
            i += 1
        elif ch == "#":
            # Unquoted '#' starts a comment anywhere, even inside a word, as in CoreDNS.
            newline = text.find("\n", i)
            i = end if newline < 0 else newline
        elif ch == '"':
            value, i, last_line = _quoted(text, i + 1, filename, line)
            word = substitute_env(value, env)
            tokens.append(Token(Kind.WORD, word, filename, line, line_start, quoted=True))
            line = last_line
            line_start = False
        else:
            start = i
            while i < end and not text[i].isspace() and text[i] != "#":
                i += 1
            tokens.append(_bare(text[start:i], filename, line, line_start, env))
            line_start = False
    return tuple(tokens)


def end_line(text: str) -> int:
    """The line number the lexer is on at the end of `text`."""
    return text.count("\n") + 1


def _bare(word: str, filename: str, line: int, line_start: bool, env: Mapping[str, str]) -> Token:
    # Only a standalone brace is one: "foo{" stays a word, as in Caddy.
    if word == "{":
        return Token(Kind.OPEN, word, filename, line, line_start)
    if word == "}":
        return Token(Kind.CLOSE, word, filename, line, line_start)
    return Token(Kind.WORD, substitute_env(word, env), filename, line, line_start)


def _quoted(text: str, i: int, filename: str, line: int) -> tuple[str, int, int]:
    """The quoted string whose body starts at `i`: value, index after it, line it ends on."""
    start_line = line
    parts: list[str] = []
    end = len(text)
    while i < end:
        ch = text[i]
        if ch == "\\" and i + 1 < end:
            following = text[i + 1]
            # Caddy escapes only the quote; any other backslash stays as written.
            parts.append('"' if following == '"' else "\\" + following)
            if following == "\n":
                line += 1
            i += 2
        elif ch == '"':
            return "".join(parts), i + 1, line
        else:
            parts.append(ch)
            if ch == "\n":
                line += 1
            i += 1
    raise CorefileError(filename, start_line, "unterminated quoted string, expected a closing '\"'")
