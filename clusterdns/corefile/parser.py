"""Corefile tokens to server blocks of nested directives, with snippets and imports expanded."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from clusterdns.corefile.lexer import NO_ENV, CorefileError, Kind, Token, end_line, tokenize
from clusterdns.errors import ConfigError

# Caddy caps import expansions at 1000; the cap also bounds snippets that import each other
# twice per level, which no cycle check catches.
MAX_IMPORTS = 1000
# No CoreDNS plugin nests deeper than two; the cap keeps hostile input off the Python stack.
MAX_DEPTH = 50

# Given an import's pattern as written (env substituted) and the file the `import` is in,
# returns (path, text) of each file it names, in order (none for a glob matching nothing);
# raises OSError or ConfigError when it cannot. Each file's tokens carry its own path, so
# errors inside it name FILE:LINE.
ReadImport = Callable[[str, str], Sequence[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class Directive:
    """One directive: name, arguments on its line, and the directives of its `{ }` block."""

    name: str
    args: tuple[str, ...]
    block: tuple["Directive", ...]
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class ServerBlock:
    """One server block: its keys as written and its directives in Corefile order."""

    keys: tuple[str, ...]
    directives: tuple[Directive, ...]
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class Corefile:
    """A parsed Corefile: its server blocks in order, snippets and imports already inlined."""

    blocks: tuple[ServerBlock, ...]


def parse_corefile(
    text: str,
    filename: str = "Corefile",
    env: Mapping[str, str] = NO_ENV,
    read_import: ReadImport | None = None,
) -> Corefile:
    """Parse Corefile `text`; `read_import(pattern)` returns the text an `import` names."""
    stream = _Stream(tokenize(text, filename, env), env, read_import, filename, end_line(text))
    return _Parser(stream).corefile()


@dataclass(slots=True)
class _Frame:
    tokens: tuple[Token, ...]
    origin: str  # "" for the main file, else "snippet NAME" or "file PATTERN"
    pos: int = 0


class _Stream:
    """The tokens in order, each `import` that starts a line replaced by what it names."""

    def __init__(
        self,
        tokens: tuple[Token, ...],
        env: Mapping[str, str],
        read_import: ReadImport | None,
        filename: str,
        last_line: int,
    ) -> None:
        self._frames = [_Frame(tokens, "")]
        self._env = env
        self._read_import = read_import
        self._imports = 0
        self.snippets: dict[str, tuple[Token, tuple[Token, ...]]] = {}
        self.filename = filename
        self.last_line = last_line

    def peek_raw(self) -> Token | None:
        """The next token without expanding imports, or None at the end."""
        frames = self._frames
        while True:
            frame = frames[-1]
            if frame.pos < len(frame.tokens):
                return frame.tokens[frame.pos]
            if len(frames) == 1:
                return None
            frames.pop()

    def peek(self, statement: bool = False) -> Token | None:
        """The next token after expanding imports, or None at the end."""
        # As in Caddy, `import` imports where it starts a line or, with `statement`, where a
        # directive may start (right after a '{'); elsewhere it is an ordinary argument.
        token = self.peek_raw()
        while token is not None and _is_import(token, statement):
            self._expand()
            token = self.peek_raw()
        return token

    def take(self) -> Token:
        """Consume the token that `peek` or `peek_raw` returned."""
        token = self.peek_raw()
        if token is None:
            raise self.eof_error("unexpected end of file")
        self._frames[-1].pos += 1
        return token

    def eof_error(self, problem: str) -> CorefileError:
        """An error located at the end of the main file."""
        return CorefileError(self.filename, self.last_line, problem)

    def where(self, token: Token) -> str:
        """`line N` in the main file, `FILE:N` elsewhere."""
        if token.file == self.filename:
            return f"line {token.line}"
        return f"{token.file}:{token.line}"

    def _expand(self) -> None:
        frame = self._frames[-1]
        tokens, pos = frame.tokens, frame.pos
        keyword = tokens[pos]
        if pos + 1 == len(tokens) or tokens[pos + 1].line_start:
            raise _error(keyword, "import: expected a snippet name or file pattern")
        target = tokens[pos + 1]
        if target.kind is not Kind.WORD or not target.text:
            raise _error(
                target, f"import: expected a snippet name or file pattern, got '{target.text}'"
            )
        if pos + 2 < len(tokens) and not tokens[pos + 2].line_start:
            extra = tokens[pos + 2].text
            raise _error(
                keyword, f"import: expected one snippet name or file pattern, got '{extra}' too"
            )
        frame.pos += 2
        name = target.text
        snippet = self.snippets.get(name)
        origin = f"snippet {name}" if snippet is not None else f"file {name}"
        active = [f.origin for f in self._frames if f.origin]
        if origin in active:
            cycle = " -> ".join([*active[active.index(origin) :], origin])
            raise _error(keyword, f"import cycle: {cycle}")
        self._imports += 1
        if self._imports > MAX_IMPORTS:
            raise _error(keyword, f"import: more than {MAX_IMPORTS} imports, expected fewer")
        body = snippet[1] if snippet is not None else self._read_file(keyword, name)
        self._frames.append(_Frame(body, origin))

    def _read_file(self, keyword: Token, pattern: str) -> tuple[Token, ...]:
        if self._read_import is None:
            raise _error(
                keyword, f"import: no snippet ({pattern}) defined above, and file imports are off"
            )
        try:
            files = self._read_import(pattern, keyword.file)
        except CorefileError:
            raise
        except (OSError, ConfigError) as exc:
            raise _error(keyword, f"import: cannot read '{pattern}': {exc}") from exc
        tokens: list[Token] = []
        for path, text in files:
            tokens.extend(tokenize(text, path, self._env))
        return tuple(tokens)


class _Parser:
    """Recursive descent over the token stream, following CoreDNS's Caddyfile rules."""

    def __init__(self, stream: _Stream) -> None:
        self._s = stream

    def corefile(self) -> Corefile:
        blocks: list[ServerBlock] = []
        while (token := self._s.peek()) is not None:
            block = self._server_block(token)
            if block is not None:
                blocks.append(block)
        return Corefile(tuple(blocks))

    def _server_block(self, first: Token) -> ServerBlock | None:
        if first.kind is Kind.OPEN:
            raise _error(first, "expected server block keys before '{'")
        if first.kind is Kind.CLOSE:
            raise _error(first, "unexpected '}', no block is open")
        keys = self._keys()
        token = self._s.peek()
        if len(keys) == 1 and keys[0].startswith("(") and keys[0].endswith(")"):
            self._define_snippet(keys[0][1:-1], first, token)
            return None
        if not keys:
            raise _error(first, "empty server block key, expected a zone such as '.:53'")
        if token is None:
            directives: tuple[Directive, ...] = ()
        elif token.kind is Kind.OPEN:
            self._s.take()
            directives = self._block(token, 1)
        else:
            # Caddy lets a lone last server block go without braces: it runs to the end.
            directives = self._directives_to_end()
        return ServerBlock(tuple(keys), directives, first.file, first.line)

    def _keys(self) -> list[str]:
        """The keys of one server block: a line of them, continued by a trailing comma."""
        keys: list[str] = []
        token = self._s.take()
        while True:
            more = token.text.endswith(",")
            # An empty key (an unset {$VAR}) is skipped, as in Caddy.
            keys.extend(key for key in token.text.split(",") if key)
            following = self._s.peek()
            if following is None:
                if more:
                    raise self._s.eof_error("expected another server block key after ','")
                return keys
            if following.kind is Kind.OPEN:
                if more:
                    raise _error(following, "expected another server block key after ',', got '{'")
                return keys
            if following.line_start and not more:
                return keys
            if following.kind is Kind.CLOSE:
                raise _error(following, "unexpected '}' among server block keys")
            token = self._s.take()

    def _define_snippet(self, name: str, first: Token, token: Token | None) -> None:
        if token is None or token.kind is not Kind.OPEN:
            raise _error(token or first, f"snippet ({name}) needs a block, expected '{{'")
        if not name:
            raise _error(first, "empty snippet name, expected '(name)'")
        if name in self._s.snippets:
            defined = self._s.snippets[name][0]
            raise _error(first, f"snippet ({name}) is already defined at {self._s.where(defined)}")
        self._s.take()
        # Snippet bodies are kept as tokens and expanded where imported, as Caddy does.
        body: list[Token] = []
        depth = 1
        while True:
            inner = self._s.peek_raw()
            if inner is None:
                # Located at the '{' left open, not at the end of the file: that is the line
                # to fix.
                raise _error(token, f"unterminated snippet ({name}): this '{{' is never closed")
            self._s.take()
            if inner.kind is Kind.OPEN:
                depth += 1
            elif inner.kind is Kind.CLOSE:
                depth -= 1
                if depth == 0:
                    break
            body.append(inner)
        self._end_of_line()
        if body:
            body[0] = replace(body[0], line_start=True)
        self._s.snippets[name] = (first, tuple(body))

    def _block(self, opening: Token, depth: int) -> tuple[Directive, ...]:
        """The directives up to the `}` that closes `opening` (already consumed)."""
        if depth > MAX_DEPTH:
            raise _error(opening, f"blocks nested more than {MAX_DEPTH} deep")
        directives: list[Directive] = []
        while True:
            token = self._s.peek(statement=True)
            if token is None:
                # Located at the innermost '{' left open, not at the end of the file: that is
                # the line to fix.
                raise _error(opening, "unterminated block: this '{' is never closed, expected '}'")
            if token.kind is Kind.CLOSE:
                # CoreDNS's setup functions read a '}' on a directive's line as an argument,
                # so a block closes only on a line of its own (or right after its '{').
                self._s.take()
                self._end_of_line()
                return tuple(directives)
            if token.kind is Kind.OPEN:
                raise _error(token, "unexpected '{', expected it at the end of a directive's line")
            # The first directive may share the '{' line, as CoreDNS's NextBlock allows.
            directives.append(self._directive(depth))

    def _directives_to_end(self) -> tuple[Directive, ...]:
        directives: list[Directive] = []
        while (token := self._s.peek(statement=True)) is not None:
            if token.kind is Kind.CLOSE:
                raise _error(token, "unexpected '}', no block is open")
            if token.kind is Kind.OPEN:
                raise _error(token, "unexpected '{', expected it at the end of a directive's line")
            directives.append(self._directive(1))
        return tuple(directives)

    def _directive(self, depth: int) -> Directive:
        name = self._s.take()
        if not name.text:
            raise _error(name, "empty directive name, expected a plugin or property name")
        args: list[str] = []
        block: tuple[Directive, ...] = ()
        while (token := self._s.peek()) is not None and not token.line_start:
            self._s.take()
            if token.kind is Kind.OPEN:
                block = self._block(token, depth + 1)
                break
            if token.kind is Kind.CLOSE:
                raise _error(
                    token, f"unexpected '}}' after '{name.text}', expected it on its own line"
                )
            args.append(token.text)
        return Directive(name.text, tuple(args), block, name.file, name.line)

    def _end_of_line(self) -> None:
        """Reject anything after a closing '}' on its line."""
        token = self._s.peek_raw()
        if token is not None and not token.line_start:
            raise _error(token, f"unexpected '{token.text}' after '}}', expected a new line")


def _is_import(token: Token, statement: bool) -> bool:
    at_start = token.line_start or statement
    return at_start and token.kind is Kind.WORD and not token.quoted and token.text == "import"


def _error(token: Token, problem: str) -> CorefileError:
    return CorefileError(token.file, token.line, problem)
