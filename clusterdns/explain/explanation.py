"""One explanation: which plugin answers a question, the answer it gives, and why.

Routing follows the dispatcher (the server block of the longest zone) and its chain in plugin
order; cluster names are answered by `cluster_answer`, the kubernetes handler's own steps.
Nothing is sent anywhere: names another plugin answers are only described (`load.send` asks).
"""

from dataclasses import dataclass, replace

from clusterdns.dns.names import longest_zone
from clusterdns.dns.records import Answer, Rcode, RType
from clusterdns.dns.wire import walk
from clusterdns.errors import WireError
from clusterdns.explain.load import Target, through_chain
from clusterdns.explain.question import Question, cluster_answer
from clusterdns.explain.reasons import Reason, Why, explain_name
from clusterdns.plugin import Handler
from clusterdns.plugins.forward.handler import ForwardPlugin
from clusterdns.plugins.kubernetes.handler import KubernetesPlugin
from clusterdns.server.dispatch import ZoneChain

# Plugins that never answer a question themselves: they watch, count, log or reorder.
PASSIVE = ("reload", "ready", "health", "prometheus", "errors", "log", "loadbalance", "loop")


@dataclass(frozen=True, slots=True)
class Explanation:
    """What `explain` prints: the reply (computed, or sent when asked) and the reasons."""

    question: Question
    plugin: str  # the plugin that answers ('' for the server itself)
    answer: Answer | None  # computed from the snapshot; None when another plugin must be asked
    reply: bytes | None  # the reply's bytes, as the server sends them over TCP
    reasons: tuple[Reason, ...]
    suggestions: tuple[str, ...] = ()
    complete: bool = True  # False when the server would add records from elsewhere
    sent: bool = False


async def explain(target: Target, question: Question) -> Explanation:
    """Explain `question` against `target` without sending anything out of the process."""
    zones = tuple(zone for block in target.server.blocks for zone in block.zones)
    zone = longest_zone(question.name, zones)
    if zone is None:
        refused = Answer(Rcode.REFUSED)
        text = f"no server block serves {question.name} (zones: {', '.join(zones)})"
        return Explanation(
            question, "", refused, question.reply(refused), (Reason("no-server-block", text),)
        )
    block = next(b for b in target.server.blocks if zone in b.zones)
    found = _route(block, question)
    if found.plugin != "kubernetes" or not found.complete or found.answer is None:
        return found
    # Answered inside the process: run the real chain for the server's exact bytes.
    reply, answered_by = await through_chain(target, question.wire())
    if reply is None:
        return found
    if answered_by != "kubernetes":
        note = Reason(
            "answered-before",
            f"{answered_by or 'the server'} answered before kubernetes; the lines after this "
            "say what kubernetes itself has",
        )
        return replace(
            found, plugin=answered_by, answer=None, reply=reply, reasons=(note, *found.reasons)
        )
    return replace(found, reply=reply, answer=with_wire_ttls(found.answer, reply))


def with_wire_ttls(result: Answer, reply: bytes) -> Answer:
    """`result` with each record's TTL as `reply` carries it (cache caps TTLs on the way out)."""
    try:
        records = [r for r in walk(reply).records if r.rtype != RType.OPT]
    except WireError:
        return result
    ours = (result.answer, result.authority, result.additional)
    if len(records) != sum(len(section) for section in ours):
        return result
    ttls = iter(r.ttl for r in records)
    patched = [tuple(replace(r, ttl=next(ttls)) for r in section) for section in ours]
    return replace(result, answer=patched[0], authority=patched[1], additional=patched[2])


def _route(block: ZoneChain, question: Question) -> Explanation:
    why = Why()
    cache_at: int | None = None  # where cache sits among the reasons, if the block has it
    candidate = ""  # the first plugin explain does not model, which may answer
    for handler in block.chain.handlers:
        if handler.name in PASSIVE:
            continue
        if isinstance(handler, KubernetesPlugin):
            found = _kubernetes(handler, question, why)
            if found is not None:
                return found
            continue
        if handler.name == "cache":
            cache_at = len(why.reasons)
            continue
        route = _describe(handler, question, why)
        if route == "forward":
            if cache_at is not None:
                note = Reason("cache", "cache answers first from its store if asked before")
                why.reasons.insert(cache_at, note)
            return Explanation(question, route, None, None, tuple(why.reasons), complete=False)
        candidate = candidate or route
    if candidate:
        return Explanation(question, candidate, None, None, tuple(why.reasons), complete=False)
    end = Answer(Rcode.SERVFAIL)
    why.add("end-of-chain", "no plugin of the server block answers it: SERVFAIL")
    return Explanation(question, "", end, question.reply(end), tuple(why.reasons))


def _kubernetes(plugin: KubernetesPlugin, question: Question, why: Why) -> Explanation | None:
    """The kubernetes plugin's explanation, or None when it passes the name on."""
    config = plugin.config
    if longest_zone(question.name, config.zones) is None:
        why.add(
            "not-kubernetes",
            f"outside the kubernetes zones ({', '.join(config.zones)}): kubernetes passes it on",
        )
        return None
    snapshot = plugin.holder.current
    result, outside = cluster_answer(snapshot, config, question)
    reasons = explain_name(snapshot, config, question.name, question.qtype)
    why.reasons += reasons.reasons
    if result is None:
        why.add(
            "fallthrough",
            f"kubernetes does not have it and `fallthrough {' '.join(config.fallthrough)}` "
            "passes it to the next plugin",
        )
        return None
    if outside:
        why.add(
            "chase",
            f"when served, {outside} {question.type_name} is looked up through the server "
            "(cache, forward) and its records follow the CNAME; --send asks",
        )
    if result.rcode == Rcode.REFUSED:
        why.add("transfer", "the kubernetes plugin does not transfer its zones (nor does CoreDNS)")
    return Explanation(
        question,
        "kubernetes",
        result,
        question.reply(result),
        tuple(why.reasons),
        tuple(dict.fromkeys(reasons.suggestions)),
        complete=not outside,
    )


def _describe(handler: Handler, question: Question, why: Why) -> str:
    """Say what `handler` does with the name; its name when it answers, '' when it passes."""
    if isinstance(handler, ForwardPlugin):
        config = handler.config
        if not handler.matches(question.name):
            why.add(
                "not-forwarded", f"forward {config.zone} does not cover it (or `except` names it)"
            )
            return ""
        listed = ", ".join(str(u) for u in config.upstreams)
        why.add("forward", f"forward {config.zone} sends it to {listed} (policy {config.policy})")
        return "forward"
    why.add(
        "may-answer",
        f"{handler.name} may answer it or change it first (explain does not model "
        f"{handler.name}; --send runs it)",
    )
    return handler.name
