"""An Explanation as `dig`-style text for people, or as one JSON object for scripts."""

import json
import struct

from clusterdns.dns.message import answer_records
from clusterdns.dns.mnemonics import rcode_text
from clusterdns.dns.records import Record
from clusterdns.explain.explanation import Explanation

_FLAGS = (("qr", 0x8000), ("aa", 0x0400), ("tc", 0x0200), ("rd", 0x0100), ("ra", 0x0080))
_FLAGS_LOW = (("ad", 0x0020), ("cd", 0x0010))


def header(reply: bytes) -> tuple[str, list[str], tuple[int, int, int, int]]:
    """Rcode name, flag names and the four section counts of a reply."""
    _, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", reply)
    names = [name for name, bit in (*_FLAGS, *_FLAGS_LOW) if flags & bit]
    return rcode_text(flags & 0xF), names, (qd, an, ns, ar)


def sections(explanation: Explanation) -> dict[str, list[Record]]:
    """The records to show by section: all three when computed, the answer when sent."""
    if explanation.answer is not None and not explanation.sent:
        result = explanation.answer
        return {
            "answer": list(result.answer),
            "authority": list(result.authority),
            "additional": list(result.additional),
        }
    if explanation.reply is not None:
        return {"answer": list(answer_records(explanation.reply)[1])}
    return {}


def _line(record: Record) -> str:
    data = record.data.text()
    return f"{record.name}\t{record.ttl}\tIN\t{record.rtype.name}\t{data}"


def to_text(explanation: Explanation, source: str = "") -> str:
    """dig's layout (header, sections), then the why and any suggestions as comments."""
    question = explanation.question
    lines: list[str] = []
    if explanation.reply is not None:
        rcode, flags, counts = header(explanation.reply)
        lines += [
            f";; ->>HEADER<<- opcode: QUERY, status: {rcode}, answered by: "
            f"{explanation.plugin or 'the server'}{' (sent)' if explanation.sent else ''}",
            f";; flags: {' '.join(flags)}; QUERY: {counts[0]}, ANSWER: {counts[1]}, "
            f"AUTHORITY: {counts[2]}, ADDITIONAL: {counts[3]}",
        ]
    else:
        lines.append(f";; answered by: {explanation.plugin} (not sent; add --send to ask it)")
    lines += ["", ";; QUESTION SECTION:", f";{question.name}\t\tIN\t{question.type_name}"]
    for title, records in sections(explanation).items():
        if records:
            lines += ["", f";; {title.upper()} SECTION:", *(_line(r) for r in records)]
    lines += ["", ";; WHY:", *(f";; - {reason.text}" for reason in explanation.reasons)]
    if explanation.suggestions:
        lines += ["", ";; DID YOU MEAN:", *(f";;   {name}" for name in explanation.suggestions)]
    if source:
        lines += ["", f";; SOURCE: {source}"]
    return "\n".join(lines) + "\n"


def to_json(explanation: Explanation, source: str = "") -> str:
    """One JSON object: question, plugin, rcode, flags, records, why, suggestions, reply hex."""
    document: dict[str, object] = {
        "question": {"name": explanation.question.name, "type": explanation.question.type_name},
        "plugin": explanation.plugin,
        "sent": explanation.sent,
        "complete": explanation.complete,
    }
    if explanation.reply is not None:
        rcode, flags, _ = header(explanation.reply)
        document["rcode"] = rcode
        document["flags"] = flags
        document["reply"] = explanation.reply.hex()
    else:
        document["rcode"] = None
    for title, records in sections(explanation).items():
        document[title] = [record.zone_line() for record in records]
    document["why"] = [{"code": r.code, "text": r.text} for r in explanation.reasons]
    document["suggestions"] = list(explanation.suggestions)
    document["source"] = source
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
