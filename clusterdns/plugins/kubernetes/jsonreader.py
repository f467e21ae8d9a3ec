"""JSON text read value by value, whole or in pieces from a file, with file-wide line numbers."""

import json
import re
from collections.abc import Callable
from typing import Any

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
# Characters of a file read at a time: the window holds one piece plus the value being
# decoded, whatever the size of the file.
PIECE = 256 * 1024


class JsonReader:
    """JSON text, whole or read in pieces: the part not consumed yet, and a position in it.

    `value()` decodes the next value with the standard decoder. When the text is read in
    pieces, a value the window cuts off is decoded again once the next piece is in, so the
    window only ever holds one piece and the value being decoded.
    """

    def __init__(
        self, text: str, read: Callable[[int], str] | None = None, piece: int = PIECE
    ) -> None:
        self.text = text
        self.pos = 0
        self._read = read
        self._piece = piece
        self._lines = 0  # newlines in the text consumed and dropped before `text`

    def _more(self, at_least: int = 0) -> bool:
        """Drop what is consumed and append the next piece; False at the end of the input."""
        piece = self._read(max(self._piece, at_least)) if self._read is not None else ""
        if not piece:
            self._read = None
            return False
        self._lines += self.text.count("\n", 0, self.pos)
        self.text = self.text[self.pos :] + piece
        self.pos = 0
        return True

    def at(self, char: str) -> bool:
        """True when the next character after whitespace is `char` (not consumed)."""
        while True:
            match = _WHITESPACE.match(self.text, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.text) or not self._more():
                return self.text.startswith(char, self.pos)

    def at_end(self) -> bool:
        """True when only whitespace is left."""
        self.at("")
        return self.pos >= len(self.text)

    def expect(self, char: str) -> None:
        """Consume `char`, the next character after whitespace, or raise JSONDecodeError."""
        if not self.at(char):
            raise self.error(f"Expecting {char!r} delimiter")
        self.pos += 1

    def value(self) -> Any:
        """Decode and consume the next value."""
        self.at("")
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                # Cut off by the window, or bad: more text tells. Doubling the window each
                # time keeps a bad value early in a big file from costing a copy per piece.
                if self._more(len(self.text) - self.pos):
                    continue
                raise self.error(exc.msg, exc.pos) from None
            # A value that ends with the window may go on in the next piece (a number).
            if end < len(self.text) or not self._more():
                self.pos = end
                return value

    def rest(self) -> Any:
        """Decode everything left as one document."""
        while self._more(len(self.text)):
            pass
        try:
            return json.loads(self.text[self.pos :])
        except json.JSONDecodeError as exc:
            raise self.error(exc.msg, self.pos + exc.pos) from None

    def error(self, message: str, pos: int | None = None) -> json.JSONDecodeError:
        """A JSONDecodeError at `pos` (default: here), its line counted from the file's start."""
        error = json.JSONDecodeError(message, self.text, self.pos if pos is None else pos)
        error.lineno += self._lines
        return error
