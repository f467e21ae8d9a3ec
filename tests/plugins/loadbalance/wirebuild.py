"""Hand-built DNS messages, for replies no encoder would write (RFC 1035 4.1)."""

import struct

QUESTION_NAME = 12  # offset of the question's name, right after the header


def name(*labels: str, then: bytes = b"\x00") -> bytes:
    """Length-prefixed `labels`, ended by `then` (the root, or a pointer)."""
    return b"".join(bytes([len(label)]) + label.encode() for label in labels) + then


def pointer(offset: int) -> bytes:
    """A compression pointer to `offset` (RFC 1035 4.1.4)."""
    return struct.pack("!H", 0xC000 | offset)


def rr(owner: bytes, rtype: int, rdata: bytes, ttl: int = 30) -> bytes:
    """One IN record."""
    return owner + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def message(
    answers: list[bytes],
    authority: list[bytes] | None = None,
    additional: list[bytes] | None = None,
    flags: int = 0x8180,
    question: bytes | None = None,
) -> bytes:
    """A reply to `example.org. A` (or `question`) holding the given records."""
    authority = authority or []
    additional = additional or []
    header = struct.pack("!HHHHHH", 4242, flags, 1, len(answers), len(authority), len(additional))
    question = name("example", "org") + struct.pack("!HH", 1, 1) if question is None else question
    return header + question + b"".join(answers + authority + additional)
