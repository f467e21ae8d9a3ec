"""The question `explain` asks: a validated name and type, the query bytes, the server's reply."""

import re
from dataclasses import dataclass, replace

from clusterdns.dns.message import TCP_MAX_MESSAGE, Edns, decode_query, encode_answer, encode_query
from clusterdns.dns.mnemonics import type_text
from clusterdns.dns.names import normalize
from clusterdns.dns.records import ZONE_TRANSFERS, Answer, Rcode, Record, RType, Target
from clusterdns.plugins.kubernetes.answer import answer
from clusterdns.plugins.kubernetes.options import KubernetesConfig
from clusterdns.plugins.kubernetes.snapshot import ZoneSnapshot

# dig's defaults: recursion desired, EDNS0 with a 1232-byte payload (DNS flag day 2020).
QUERY_FLAGS = 0x0100
QUERY_EDNS = Edns(payload=1232, do=False, version=0)
QUERY_ID = 0
_LABEL = re.compile(r"^[a-z0-9_*]([a-z0-9_-]{0,61}[a-z0-9_])?$")
_TYPE_NUMBER = re.compile(r"^TYPE([0-9]{1,5})$")
# Mirrors the kubernetes handler: CNAMEs it chases, and how far (CoreDNS: 8 links).
CHASED_TYPES = (RType.A, RType.AAAA, RType.TXT)
MAX_CHASE = 8
# Named types live below 300 and at 32768-32769 (TA, DLV): the mnemonics table's reverse.
_TYPE_NUMBERS: dict[str, int] = {
    type_text(n): n
    for n in (*range(1, 300), 32768, 32769)
    if not type_text(n).startswith("TYPE") and n != 41  # OPT is not a question type
}


class QuestionError(ValueError):
    """A name or type `explain` cannot ask about; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class Question:
    """A lowercase absolute name and a numeric type."""

    name: str
    qtype: int

    @property
    def type_name(self) -> str:
        """`A`, `SRV`, `TYPE65280`."""
        return type_text(self.qtype)

    def wire(self) -> bytes:
        """The query as `dig` sends it (id 0): RD set, EDNS0 payload 1232."""
        return encode_query(self.name, self.qtype, QUERY_ID, QUERY_FLAGS, QUERY_EDNS)

    def reply(self, result: Answer) -> bytes:
        """The server's encoding of `result` for this question, as it goes out over TCP."""
        return encode_answer(decode_query(self.wire()), result, TCP_MAX_MESSAGE)


def parse_question(name: str, type_name: str = "A") -> Question:
    """The question for NAME and TYPE as a user types them; QuestionError when invalid."""
    text = normalize(name)
    if text == ".":
        labels: list[str] = []
    else:
        labels = text[:-1].split(".")
    if not name.strip() or any(not _LABEL.match(label) for label in labels):
        bad = next((label for label in labels if not _LABEL.match(label)), name)
        raise QuestionError(f"not a valid DNS name: {name!r} (bad label {bad!r})")
    if len(text) > 254:
        raise QuestionError(f"not a valid DNS name: {name!r} is longer than 253 characters")
    return Question(text, _parse_type(type_name))


def _parse_type(text: str) -> int:
    upper = text.strip().upper()
    if upper in _TYPE_NUMBERS:
        return _TYPE_NUMBERS[upper]
    found = _TYPE_NUMBER.match(upper)
    if found and 0 < int(found.group(1)) < 65536:
        return int(found.group(1))
    raise QuestionError(f"unknown record type {text!r} (e.g. A, AAAA, SRV, PTR, TXT, TYPE65)")


def cluster_answer(
    snapshot: ZoneSnapshot, config: KubernetesConfig, question: Question
) -> tuple[Answer | None, str]:
    """What the kubernetes handler answers from `snapshot`, and a CNAME target left to chase.

    The answer is `answer()`'s, with ExternalName CNAMEs chased inside our zones as the
    handler does; the second value names the first target outside them ('' if none), which
    the running server resolves through the rest of the chain (the upstream).
    """
    if question.qtype in ZONE_TRANSFERS:
        # The handler refuses transfers of its zones (CoreDNS's kubernetes plugin has none).
        return Answer(Rcode.REFUSED), ""
    result = answer(snapshot, config, question.name, question.qtype)
    if result is None or question.qtype not in CHASED_TYPES or not _ends_in_alias(result):
        return result, ""
    chain = list(result.answer)
    seen = {question.name}
    outside = ""
    for _ in range(MAX_CHASE):
        target = _target(chain[-1])
        if target in seen:
            break
        seen.add(target)
        inside = answer(snapshot, config, target, question.qtype)
        if inside is None:
            outside = target
            break
        if inside.rcode != Rcode.NOERROR or not inside.answer:
            break
        chain.extend(inside.answer)
        if not _ends_in_alias(inside):
            break
    return replace(result, answer=tuple(chain)), outside


def _ends_in_alias(result: Answer) -> bool:
    return bool(result.answer) and result.answer[-1].rtype == RType.CNAME


def _target(record: Record) -> str:
    return record.data.target if isinstance(record.data, Target) else ""
