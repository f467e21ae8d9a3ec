"""The `rewrite` handler: rewrite the question, ask the rest of the chain, restore the reply."""

import logging
import struct
from dataclasses import replace

from clusterdns.dns import editable
from clusterdns.dns.editable import Reply, Rr
from clusterdns.dns.message import TCP_MAX_MESSAGE, Query, decode_query, encode_answer, make_query
from clusterdns.dns.records import Answer, Rcode, Record, RType, Soa, Srv, Target
from clusterdns.dns.wire import Section
from clusterdns.errors import WireError
from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.rewrite.rules import (
    CnameTarget,
    OwnerNames,
    Question,
    RcodeSwap,
    RecordValues,
    ResponseRule,
    Rule,
    TtlClamp,
    new_cname_target,
)

logger = logging.getLogger(__name__)
_VALID_RCODES = frozenset(int(r) for r in Rcode)


class RewriteHandler:
    """Applies the rules in order (up to the first matching `stop` rule), then reverts replies."""

    name = "rewrite"

    def __init__(self, rules: tuple[Rule, ...], lookup: Next | None = None) -> None:
        self.rules = rules
        self.lookup = lookup
        self._chasing: set[int] = set()  # ids of the queries our cname lookups are asking

    async def serve(self, request: Request, next: Next) -> Response:
        """Rewrite `request`, pass it on, and rewrite the response as the rules say."""
        query = request.query
        asked = Question(query.name, query.qtype, query.qclass)
        question, matched = asked, False
        responses: list[ResponseRule] = []
        for rule in self.rules:
            result = rule.apply(question)
            if result is None:
                continue
            question, more = result
            responses.extend(more)
            matched = True
            if rule.stop:
                break
        if not matched:
            return await next(request)
        inner = request
        if question != asked:
            rewritten = _rebuild(query, question)
            if rewritten is None:
                # CoreDNS: a name that is not a legal domain name after the rewrite fails.
                return Response(self.name, answer=Answer(Rcode.SERVFAIL))
            inner = replace(request, query=rewritten)
        response = await next(inner)
        if id(query) in self._chasing:
            responses = [r for r in responses if not isinstance(r, CnameTarget)]
        return await self._revert(request, inner, response, tuple(responses))

    async def _revert(
        self, request: Request, inner: Request, response: Response, rules: tuple[ResponseRule, ...]
    ) -> Response:
        answer = response.answer
        if answer is not None and _structured(rules):
            # The server encodes structured answers with the client's own question.
            return replace(response, answer=revert_answer(answer, rules))
        if answer is not None:
            wire = encode_answer(inner.query, answer, TCP_MAX_MESSAGE)
        elif response.wire is not None:
            wire = response.wire
        else:
            return response
        try:
            reply = editable.read(wire)
        except WireError as exc:
            logger.warning("rewrite: cannot read the reply for %s: %s", inner.query.name, exc)
            return Response(self.name, answer=Answer(Rcode.SERVFAIL))
        reply = revert_reply(reply, rules)
        for rule in rules:
            if isinstance(rule, CnameTarget):
                reply = await self._chase(reply, rule, inner)
        own = request.query.wire[12 : request.query.question_end]
        return Response(response.plugin, wire=editable.write(reply, own))

    async def _chase(self, reply: Reply, rule: CnameTarget, inner: Request) -> Reply:
        """CoreDNS cname rule: new target, and the records a lookup of it finds after it."""
        answers = reply.section(Section.ANSWER)
        kept: list[Rr] = []
        target = None
        for rr in answers:
            if rr.rtype != RType.CNAME:
                continue
            target = new_cname_target(rule, rr.names[0].lower())
            kept.append(rr if target is None else replace(rr, names=(target,)))
            if target is not None:
                break
        if target is None or self.lookup is None:
            return reply
        try:
            question = make_query(target, inner.query.qtype, inner.query)
        except (UnicodeError, WireError) as exc:
            logger.warning("rewrite: cannot look up CNAME target %s: %s", target, exc)
            return reply
        self._chasing.add(id(question))
        try:
            found = await self.lookup(Request(question, inner.protocol, inner.client))
        finally:
            self._chasing.discard(id(question))
        try:
            upstream = editable.read(_wire(question, found))
        except WireError as exc:
            logger.warning("rewrite: lookup of CNAME target %s failed: %s", target, exc)
            return reply
        others = tuple(r for r in reply.records if r.section is not Section.ANSWER)
        records = (*kept, *upstream.section(Section.ANSWER), *others)
        flags = (reply.flags & ~0x0200) | (upstream.flags & 0x0200)  # TC as the lookup's
        return replace(reply, flags=flags, records=records)


def _wire(query: Query, response: Response) -> bytes:
    if response.answer is not None:
        return encode_answer(query, response.answer, TCP_MAX_MESSAGE)
    return response.wire or b""


def _structured(rules: tuple[ResponseRule, ...]) -> bool:
    """True when `rules` can be applied to a structured answer (no lookups, known rcodes)."""
    for rule in rules:
        if isinstance(rule, CnameTarget):
            return False
        if isinstance(rule, RcodeSwap) and rule.new not in _VALID_RCODES:
            return False
    return True


def _rebuild(query: Query, question: Question) -> Query | None:
    """`query` asking `question` instead, its header and EDNS kept; None if the name is bad."""
    labels = editable.name_labels(question.name)
    if any(len(label) > 63 for label in labels) or sum(map(len, labels)) + len(labels) > 254:
        return None  # RFC 1035 2.3.4: labels of 63 bytes, names of 255 (with the root byte)
    name = b"".join(bytes((len(label),)) + label for label in labels) + b"\x00"
    wire = (
        query.wire[:12]
        + name
        + struct.pack("!HH", question.qtype, question.qclass)
        + query.wire[query.question_end :]
    )
    try:
        return decode_query(wire)
    except WireError:
        return None


def _name(text: str, rules: tuple[ResponseRule, ...], kind: type[OwnerNames | RecordValues]) -> str:
    """`text` through the `kind` rules, last rule first (CoreDNS reverts in reverse order)."""
    lowered = current = text.lower()
    for rule in reversed(rules):
        if isinstance(rule, kind):
            current = rule.rewriter.rewrite(current)
    return text if current == lowered else current


def _ttl(ttl: int, rules: tuple[ResponseRule, ...]) -> int:
    for rule in reversed(rules):
        if isinstance(rule, TtlClamp):
            ttl = min(max(ttl, rule.minimum), rule.maximum)
    return ttl


def _rcode(rcode: int, rules: tuple[ResponseRule, ...]) -> int:
    for rule in reversed(rules):
        if isinstance(rule, RcodeSwap) and rcode == rule.old:
            rcode = rule.new
    return rcode


def revert_answer(answer: Answer, rules: tuple[ResponseRule, ...]) -> Answer:
    """A structured answer with names, TTLs and rcode rewritten by `rules`."""

    def fix(records: tuple[Record, ...]) -> tuple[Record, ...]:
        return tuple(_record(record, rules) for record in records)

    rcode = _rcode(int(answer.rcode), rules)
    return replace(
        answer,
        rcode=answer.rcode if rcode == answer.rcode else Rcode(rcode),
        answer=fix(answer.answer),
        authority=fix(answer.authority),
        additional=fix(answer.additional),
    )


def _record(record: Record, rules: tuple[ResponseRule, ...]) -> Record:
    data = record.data
    if isinstance(data, Target):
        target = _name(data.target, rules, RecordValues)
        data = data if target is data.target else Target(target)
    elif isinstance(data, Srv):
        target = _name(data.target, rules, RecordValues)
        data = data if target is data.target else replace(data, target=target)
    elif isinstance(data, Soa):
        mname = _name(data.mname, rules, RecordValues)
        data = data if mname is data.mname else replace(data, mname=mname)
    owner, ttl = _name(record.name, rules, OwnerNames), _ttl(record.ttl, rules)
    if owner is record.name and ttl == record.ttl and data is record.data:
        return record
    return Record(owner, record.rtype, ttl, data)


def revert_reply(reply: Reply, rules: tuple[ResponseRule, ...]) -> Reply:
    """A reply read from bytes with names, TTLs and rcode rewritten by `rules` (not OPT)."""
    records = []
    for rr in reply.records:
        if rr.rtype == RType.OPT:
            records.append(rr)
            continue
        names = rr.names
        if rr.rtype in editable.VALUE_TYPES and names:
            value = _name(names[0], rules, RecordValues)
            if value is not names[0]:
                names = (value, *names[1:])
        owner, ttl = _name(rr.name, rules, OwnerNames), _ttl(rr.ttl, rules)
        if owner is rr.name and ttl == rr.ttl and names is rr.names:
            records.append(rr)
        else:
            records.append(Rr(rr.section, owner, rr.rtype, rr.rclass, ttl, rr.head, names, rr.tail))
    edited = Reply(reply.id, reply.flags, reply.question, tuple(records))
    old = editable.full_rcode(reply)
    new = _rcode(old, rules)
    return edited if new == old else editable.with_rcode(edited, new)
