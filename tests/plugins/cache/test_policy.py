"""Reply kinds and message TTLs: CoreDNS's Typify and MinimalTTL on structured answers."""

import pytest

from clusterdns.dns.records import Address, Answer, Rcode, Record, RType, Soa, Target
from clusterdns.plugins.cache.policy import Kind, clamp, classify, message_ttl, shape_of_answer

A = Record("www.example.org.", RType.A, 300, Address("192.0.2.1"))
NS = Record("sub.example.org.", RType.NS, 600, Target("ns.sub.example.org."))
SOA = Record(
    "example.org.", RType.SOA, 3600, Soa("ns.example.org.", "host.example.org.", 1, 2, 3, 4, 60)
)


@pytest.mark.parametrize(
    ("answer", "qtype", "kind", "ttl"),
    [
        pytest.param(Answer(Rcode.NOERROR, answer=(A,)), 1, Kind.NO_ERROR, 300, id="answer"),
        pytest.param(Answer(Rcode.NOERROR, authority=(SOA,)), 1, Kind.NO_DATA, 60, id="nodata"),
        pytest.param(
            Answer(Rcode.NXDOMAIN, authority=(SOA,)), 1, Kind.NAME_ERROR, 60, id="nxdomain"
        ),
        pytest.param(Answer(Rcode.NXDOMAIN), 1, Kind.OTHER, 5, id="nxdomain-without-soa"),
        pytest.param(Answer(Rcode.SERVFAIL), 1, Kind.SERVER_ERROR, 5, id="servfail"),
        pytest.param(Answer(Rcode.NOTIMP), 1, Kind.SERVER_ERROR, 5, id="notimp"),
        pytest.param(Answer(Rcode.REFUSED), 1, Kind.OTHER, 5, id="refused"),
        pytest.param(
            Answer(Rcode.NOERROR, authority=(NS,)), 1, Kind.DELEGATION, 5, id="delegation"
        ),
        pytest.param(Answer(Rcode.NOERROR), 1, Kind.NO_ERROR, 5, id="empty-noerror"),
        pytest.param(Answer(Rcode.NOERROR, answer=(A,)), 252, Kind.OTHER, 5, id="axfr"),
        pytest.param(
            Answer(Rcode.NOERROR, answer=(A,), additional=(SOA,)),
            1,
            Kind.NO_ERROR,
            300,
            id="lowest-of-all-sections",
        ),
    ],
)
def test_classify_and_message_ttl(answer: Answer, qtype: int, kind: Kind, ttl: int) -> None:
    shape = shape_of_answer(answer)
    assert classify(shape, qtype) is kind
    assert message_ttl(shape, kind) == ttl


def test_message_ttl_never_exceeds_an_hour() -> None:
    long = Record("www.example.org.", RType.A, 86400, Address("192.0.2.1"))
    answer = Answer(Rcode.NOERROR, answer=(long,))
    assert message_ttl(shape_of_answer(answer), Kind.NO_ERROR) == 3600


@pytest.mark.parametrize(
    ("ttl", "lowest", "highest", "expected"),
    [
        pytest.param(30, 5, 3600, 30, id="inside"),
        pytest.param(1, 5, 3600, 5, id="raised"),
        pytest.param(7200, 5, 3600, 3600, id="capped"),
        pytest.param(1, 50, 30, 30, id="cap-wins-over-minimum"),
    ],
)
def test_clamp(ttl: int, lowest: int, highest: int, expected: int) -> None:
    assert clamp(ttl, lowest, highest) == expected
