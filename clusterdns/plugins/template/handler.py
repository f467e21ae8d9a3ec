"""The `template` handler: the first template whose zone, class, type and regex match answers.

CoreDNS plugin/template/template.go: a template whose zone matches but whose regexes do not
gives SERVFAIL unless `fallthrough` covers the name; a reply is authoritative and carries the
template's rcode; with `rcode SERVFAIL` no records are built. A CNAME answered to an A or AAAA
question is followed through the server, and what it finds is appended.
"""

import logging
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from cachetools import LRUCache

from clusterdns.dns import editable
from clusterdns.dns.editable import Reply, Rr
from clusterdns.dns.message import (
    TCP_MAX_MESSAGE,
    UDP_MAX_PAYLOAD,
    UDP_MIN_PAYLOAD,
    Query,
    encode_answer,
    make_query,
)
from clusterdns.dns.mnemonics import class_text, type_text
from clusterdns.dns.names import longest_zone
from clusterdns.dns.records import Answer, Rcode, Record, RType
from clusterdns.dns.wire import Section
from clusterdns.errors import WireError
from clusterdns.plugin import Next, Request, Response
from clusterdns.plugins.template.gotemplate import Message, Question, TemplateExecError
from clusterdns.plugins.template.metrics import TemplateMetrics
from clusterdns.plugins.template.options import ANY, RecordTemplate, TemplateConfig
from clusterdns.plugins.template.zonetext import RecordTextError, as_record, parse_record

logger = logging.getLogger(__name__)
PARSED_RECORDS = 4096  # distinct record texts kept parsed (a template's output repeats)
_SECTION = {
    "answer": Section.ANSWER,
    "authority": Section.AUTHORITY,
    "additional": Section.ADDITIONAL,
}
_EDE = 15  # RFC 8914 2: the Extended DNS Error option code
_RCODES = frozenset(int(r) for r in Rcode)
SCOPE = "template"  # what pre-encoded template answers depend on: only the Corefile


class _Failed(Exception):
    """A record template failed for this query: the reply is SERVFAIL."""


@dataclass(frozen=True, slots=True)
class _Match:
    template: TemplateConfig
    data: Mapping[str, object]
    labels: tuple[str, ...]  # server, zone, view, class, type


class TemplateHandler:
    """Answers questions from templates, in Corefile order."""

    name = "template"

    def __init__(
        self,
        templates: tuple[TemplateConfig, ...],
        metrics: TemplateMetrics,
        server: str = "dns://:53",
        lookup: Next | None = None,
    ) -> None:
        self.templates = templates
        self.zones = tuple(dict.fromkeys(z for t in templates for z in t.zones))
        self.metrics = metrics
        self.server = server
        self.lookup = lookup
        self._parsed: LRUCache[tuple[str, Section], tuple[Rr, Record | None]] = LRUCache(
            maxsize=PARSED_RECORDS
        )

    async def serve(self, request: Request, next: Next) -> Response:
        """Answer from the first matching template, SERVFAIL, or ask `next`."""
        query = request.query
        if longest_zone(query.name, self.zones) is None:
            return await next(request)
        for template in self.templates:
            found, through = self._match(template, request)
            if found is None:
                if not through:
                    return Response(self.name, answer=Answer(Rcode.SERVFAIL))
                continue
            self.metrics.count("matches", found.labels)
            if template.rcode == Rcode.SERVFAIL:
                return Response(self.name, answer=Answer(Rcode.SERVFAIL))
            try:
                return await self._reply(found, request)
            except _Failed:
                return Response(self.name, answer=Answer(Rcode.SERVFAIL))
        return await next(request)

    def _match(self, template: TemplateConfig, request: Request) -> tuple[_Match | None, bool]:
        """The match of `template` for the question, or (None, whether to fall through)."""
        query = request.query
        name = query.name
        zone = longest_zone(name, template.zones)
        if zone is None:
            return None, True
        if template.qclass != ANY and query.qclass != ANY and query.qclass != template.qclass:
            return None, True
        if template.qtype != ANY and query.qtype != ANY and query.qtype != template.qtype:
            return None, True
        for regex in template.regexes:
            found = regex.search(name)
            if found is not None:
                return _Match(
                    template,
                    _data(regex, found, zone, template, request),
                    _labels(self.server, zone, template, query),
                ), False
        return None, template.falls_through(name)

    async def _reply(self, found: _Match, request: Request) -> Response:
        template, query = found.template, request.query
        records: list[Rr] = []
        structured: list[Record | None] = []
        chased = False
        for record in template.records:
            rr, value = self._record(record, found)
            records.append(rr)
            structured.append(value)
            if (
                record.section == "answer"
                and rr.rtype == RType.CNAME
                and query.qtype in (RType.A, RType.AAAA)
                and self.lookup is not None
            ):
                chased = True
                records.extend(await self._chase(rr.names[0], request))
        cacheable = not chased and not template.per_client
        if not chased and template.ederror is None and template.rcode in _RCODES:
            answer = _answer(template, records, structured)
            if answer is not None:
                # A pure function of the question until a reload: the server may pre-encode it.
                return Response(self.name, answer=answer, cacheable=cacheable, scope=SCOPE)
        flags = 0x8400 | (query.flags & 0x0110) | (template.rcode & 0xF)  # QR AA, RD CD kept
        opt = _opt(query, template)
        if opt is not None:
            records.append(opt)
        ordered = sorted(records, key=lambda r: r.section)  # stable: template order kept
        reply = Reply(query.id, flags, (query.name, query.qtype, query.qclass), tuple(ordered))
        wire = editable.write(reply, query.wire[12 : query.question_end])
        return Response(self.name, wire=wire, cacheable=cacheable)

    def _record(self, record: RecordTemplate, found: _Match) -> tuple[Rr, Record | None]:
        """The record a template produces for this match, in byte form and structured."""
        labels = (*found.labels, record.section, record.template.source)
        try:
            text = record.template.render(found.data)
        except (TemplateExecError, AttributeError, TypeError) as exc:
            self.metrics.count("failures", labels)
            logger.warning("template %s: %s failed: %s", record.where, record.section, exc)
            raise _Failed from None
        key = (text, _SECTION[record.section])
        parsed = self._parsed.get(key)
        if parsed is None:
            try:
                rr = parse_record(text, key[1])
            except RecordTextError as exc:
                self.metrics.count("rr_failures", labels)
                logger.warning(
                    "template %s: %s record %r: %s", record.where, record.section, text, exc
                )
                raise _Failed from None
            parsed = self._parsed[key] = (rr, as_record(rr))
        return parsed

    async def _chase(self, target: str, request: Request) -> list[Rr]:
        """The answer records of `target` looked up through the server (CoreDNS upstream)."""
        assert self.lookup is not None
        query = request.query
        try:
            question = make_query(target, query.qtype, query)
        except (UnicodeError, WireError) as exc:
            logger.warning("template: cannot look up CNAME target %s: %s", target, exc)
            return []
        found = await self.lookup(Request(question, request.protocol, request.client))
        try:
            reply = editable.read(_wire(question, found))
        except WireError as exc:
            logger.warning("template: lookup of CNAME target %s failed: %s", target, exc)
            return []
        return list(reply.section(Section.ANSWER))


def _answer(
    template: TemplateConfig, records: list[Rr], structured: list[Record | None]
) -> Answer | None:
    """The reply as a structured answer, when every record has a structured form."""
    sections: dict[Section, list[Record]] = {section: [] for section in Section}
    for rr, value in zip(records, structured, strict=True):
        if value is None:
            return None
        sections[rr.section].append(value)
    return Answer(
        Rcode(template.rcode),
        tuple(sections[Section.ANSWER]),
        tuple(sections[Section.AUTHORITY]),
        tuple(sections[Section.ADDITIONAL]),
        authoritative=True,
    )


def _wire(query: Query, response: Response) -> bytes:
    if response.answer is not None:
        return encode_answer(query, response.answer, TCP_MAX_MESSAGE)
    return response.wire or b""


def _data(
    regex: re.Pattern[str],
    found: re.Match[str],
    zone: str,
    template: TemplateConfig,
    request: Request,
) -> dict[str, object]:
    """CoreDNS templateData for one match."""
    query = request.query
    matches = [found.group(0), *found.groups("")]
    groups = {str(index): value for index, value in enumerate(matches)}
    for group, index in regex.groupindex.items():
        groups[group] = matches[index]
    qclass = query.qclass if query.qclass != ANY else template.qclass
    qtype = query.qtype if query.qtype != ANY else template.qtype
    question = Question(
        query.name,
        query.qtype,
        query.qclass,
        f";{query.name}\t{class_text(query.qclass)}\t {type_text(query.qtype)}",
    )
    return {
        "Zone": zone,
        "Name": query.name,
        "Regex": regex.pattern,
        "Match": matches,
        "Group": groups,
        "Class": class_text(qclass),
        "Type": type_text(qtype),
        "Message": Message(query.id, query.flags, question),
        "Question": question,
        "Remote": request.client[0],
    }


def _labels(server: str, zone: str, template: TemplateConfig, query: Query) -> tuple[str, ...]:
    qclass = query.qclass if query.qclass != ANY else template.qclass
    qtype = query.qtype if query.qtype != ANY else template.qtype
    return (server, zone, "", class_text(qclass), type_text(qtype))


def _opt(query: Query, template: TemplateConfig) -> Rr | None:
    """Our OPT for a client that sent one (RFC 6891 7), with the template's RFC 8914 error."""
    if query.edns is None:
        return None
    payload = min(UDP_MAX_PAYLOAD, max(UDP_MIN_PAYLOAD, query.edns.payload))
    ttl = ((template.rcode >> 4) << 24) | (0x8000 if query.edns.do else 0)
    options = b""
    if template.ederror is not None:
        code, reason = template.ederror
        text = reason.encode()
        options = struct.pack("!HHH", _EDE, 2 + len(text), code) + text
    return Rr(Section.ADDITIONAL, ".", RType.OPT, payload, ttl, b"", (), options)
