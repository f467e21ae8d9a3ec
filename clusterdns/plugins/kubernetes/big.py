"""Big answers (headless Services with many endpoints): built off the event loop, kept per zone.

A headless Service with 2,000 ready endpoints answers A with 2,000 records; building them takes
10-20 ms. Three things keep that off every other query's path:

- Before building, `may_be_big` looks at the Service's slices (a few length checks): a question
  that may give BIG_ANSWER or more records is answered in a worker thread (`offloop.OffLoop`),
  and the query waits in a task while the loop serves others. Queries for the same question
  meanwhile share that one build.
- The answer is kept, so repeats cost a lookup; the same object lets `loadbalance` keep its
  orders and the server its encodings (both keyed by the answer object).
- A new snapshot drops only the answers whose scope (`answer.question_scope`) its changes
  touch: a change to another Service does not rebuild a big answer.
"""

from collections.abc import Awaitable, Hashable
from functools import partial

from clusterdns.dns.records import Answer, RType
from clusterdns.offloop import OffLoop
from clusterdns.plugins.kubernetes.answer import Question, answer_question, question_scope
from clusterdns.plugins.kubernetes.options import KubernetesConfig
from clusterdns.plugins.kubernetes.snapshot import ZoneSnapshot

BIG_ANSWER = 64  # records from which an answer is kept, and built off the loop
BIG_ANSWERS_KEPT = 256
_MANY = (RType.A, RType.AAAA, RType.SRV)  # the types a headless Service answers record by record

Key = tuple[str, int]  # (question name, qtype)


def may_be_big(snapshot: ZoneSnapshot, question: Question, qtype: int) -> bool:
    """True when `question` may be answered with BIG_ANSWER or more records (an upper bound).

    Only a headless Service name (`svc.ns.svc.<zone>`, or `_port._proto.` below it for SRV)
    gives a record per endpoint; the endpoints are counted in slices of the asked address
    family, ready or not, without building anything.
    """
    labels = question.labels
    if qtype not in _MANY or len(labels) not in (3, 5) or labels[-1] != "svc" or question.reverse:
        return False
    entry = snapshot.services.get((labels[-2], labels[-3]))
    if entry is None or entry.service is None or not entry.service.headless:
        return False
    count = 0
    for piece in entry.slices:
        if not piece.endpoints:
            continue
        if qtype != RType.SRV:
            first = piece.endpoints[0]
            address = first if isinstance(first, str) else first.address
            if (":" in address) != (qtype == RType.AAAA):
                continue  # a slice holds one address family (EndpointSlice addressType)
        count += len(piece.endpoints)
        if count >= BIG_ANSWER:
            return True
    return False


class BigAnswers:
    """The big answers of the current snapshot, each built once (off the loop when foreseen)."""

    def __init__(self, config: KubernetesConfig) -> None:
        self._config = config
        self._kept: dict[Key, tuple[Hashable, Answer]] = {}
        self._builds: OffLoop[Key, Answer | None] = OffLoop()
        self._snapshot: ZoneSnapshot | None = None  # what `_kept` holds answers of

    def find(
        self, snapshot: ZoneSnapshot, question: Question, qtype: int
    ) -> Answer | Awaitable[Answer | None] | None:
        """The kept answer, or one being built for this query to await; None: build it here."""
        if snapshot is not self._snapshot:
            self._adopt(snapshot)
        key = (question.name, qtype)
        found = self._kept.get(key)
        if found is not None:
            return found[1]
        if not snapshot.synced or not may_be_big(snapshot, question, qtype):
            return None  # before the first sync every answer is a SERVFAIL: nothing to build
        build = partial(answer_question, snapshot, self._config, question, qtype)
        return self._builds.make(key, build, partial(self._built, snapshot, question, qtype))

    def keep(self, snapshot: ZoneSnapshot, question: Question, qtype: int, answer: Answer) -> None:
        """Keep `answer`, built on the loop, if it is big (one `may_be_big` did not foresee)."""
        if len(answer.answer) >= BIG_ANSWER and snapshot is self._snapshot:
            self._store((question.name, qtype), question_scope(question), answer)

    def published(self, changed: frozenset[Hashable] | None) -> None:
        """A new snapshot replaced the current one: drop the answers in `changed` scopes.

        None means every scope may have changed. The answers kept hold no snapshot, so a
        replaced zone is freed at once; builds still running finish for their waiters only.
        """
        if changed is None:
            self._kept = {}
        else:
            # Only answers with records carry over: a negative one names the zone's SOA,
            # whose serial moves with every change.
            self._kept = {
                key: (scope, answer)
                for key, (scope, answer) in self._kept.items()
                if scope not in changed and len(answer.answer) >= BIG_ANSWER
            }
        self._builds.forget()
        self._snapshot = None

    def _adopt(self, snapshot: ZoneSnapshot) -> None:
        """Serve `snapshot` from now on; what `published` kept holds for it too."""
        if self._snapshot is not None:
            # Not announced through `published` (a holder swapped without telling us):
            # nothing kept can be trusted.
            self._kept = {}
            self._builds.forget()
        self._snapshot = snapshot

    def _built(
        self, snapshot: ZoneSnapshot, question: Question, qtype: int, answer: Answer | None
    ) -> None:
        # A build for a replaced snapshot still answers its waiters, but is not kept.
        if answer is not None and snapshot is self._snapshot:
            self._store((question.name, qtype), question_scope(question), answer)

    def _store(self, key: Key, scope: Hashable, answer: Answer) -> None:
        if key not in self._kept and len(self._kept) >= BIG_ANSWERS_KEPT:
            self._kept.pop(next(iter(self._kept)))
        self._kept[key] = (scope, answer)
