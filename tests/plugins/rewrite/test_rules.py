"""`rewrite` stanzas: what a rule does to a question (CoreDNS README examples), and bad stanzas."""

from dataclasses import dataclass

import pytest

from clusterdns.corefile.lexer import CorefileError
from clusterdns.plugins.rewrite.rules import (
    OwnerNames,
    Question,
    RcodeSwap,
    RecordValues,
    TtlClamp,
    parse_rule,
)
from tests.plugins.rewrite.conftest import stanza

A, MX, ANY, HINFO = 1, 15, 255, 13


@dataclass(frozen=True)
class Case:
    """A stanza, a question name and type, and what the rule makes of them."""

    stanza: str
    name: str
    becomes: str | None  # the new name, or None when the rule does not match
    qtype: int = A
    new_type: int = A
    answer_back: tuple[tuple[str, str], ...] = ()  # owner names the reply maps back


CASES = [
    pytest.param(
        Case(
            "rewrite name example.net example.org",
            "example.net.",
            "example.org.",
            answer_back=(("example.org.", "example.net."), ("a.example.org.", "a.example.net.")),
        ),
        id="exact-default-maps-answers-back",
    ),
    pytest.param(
        Case("rewrite name exact example.net example.org", "www.example.net.", None),
        id="exact-needs-the-whole-name",
    ),
    pytest.param(
        Case(
            "rewrite name substring service.us-west-1.example.org service.us-west-1.consul",
            "ftp.service.us-west-1.example.org.",
            "ftp.service.us-west-1.consul.",
        ),
        id="readme-substring",
    ),
    pytest.param(
        Case(
            r"rewrite name regex (.*)-(us-west-1)\.example\.org {1}.service.{2}.consul",
            "ftp-us-west-1.example.org.",
            "ftp.service.us-west-1.consul.",
        ),
        id="readme-regex",
    ),
    pytest.param(
        Case(
            "rewrite name suffix .schmoogle.com. .google.com.",
            "www.schmoogle.com.",
            "www.google.com.",
        ),
        id="readme-suffix",
    ),
    pytest.param(
        Case(
            "rewrite stop {\n name suffix .coredns.rocks .service.consul answer auto\n}",
            "a.coredns.rocks.",
            "a.service.consul.",
            answer_back=(("a.service.consul.", "a.coredns.rocks."),),
        ),
        id="readme-suffix-answer-auto",
    ),
    pytest.param(
        Case(
            "rewrite stop {\n"
            r" name regex (.*)-(us-west-1)\.coredns\.rocks {1}.service.{2}.consul"
            "\n"
            r" answer name (.*)\.service\.(us-west-1)\.consul {1}-{2}.coredns.rocks"
            "\n}",
            "ftp-us-west-1.coredns.rocks.",
            "ftp.service.us-west-1.consul.",
            answer_back=(("ftp.service.us-west-1.consul.", "ftp-us-west-1.coredns.rocks."),),
        ),
        id="readme-answer-name",
    ),
    pytest.param(
        Case(
            "rewrite name prefix foo bar answer auto",
            "foo.example.com.",
            "bar.example.com.",
            answer_back=(("bar.example.com.", "foo.example.com."),),
        ),
        id="prefix-normalized-with-a-dot",
    ),
    pytest.param(Case("rewrite name prefix foo bar", "coredns.foo.", None), id="prefix-must-lead"),
    pytest.param(
        Case("rewrite type ANY HINFO", "example.org.", "example.org.", ANY, HINFO),
        id="readme-type",
    ),
    pytest.param(
        Case("rewrite type ANY HINFO", "example.org.", None, MX, MX), id="type-other-untouched"
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_name_and_type_rules(case: Case) -> None:
    rule = parse_rule(stanza(case.stanza))
    result = rule.apply(Question(case.name, case.qtype, 1))
    if case.becomes is None:
        assert result is None
        return
    assert result is not None
    question, responses = result
    assert (question.name, question.qtype) == (case.becomes, case.new_type)
    owners = [r.rewriter for r in responses if isinstance(r, OwnerNames)]
    for given, expected in case.answer_back:
        mapped = given
        for rewriter in reversed(owners):
            mapped = rewriter.rewrite(mapped)
        assert mapped == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            r"rewrite continue {\n ttl regex (.*)\.coredns\.rocks 15\n}",
            (15, 15),
            id="readme-ttl-regex",
        ),
        pytest.param("rewrite ttl example.com. 30-300", (30, 300), id="range"),
        pytest.param("rewrite ttl example.com. -30", (0, 30), id="cap"),
        pytest.param("rewrite ttl example.com. 30-", (30, 2**31 - 1), id="floor"),
        pytest.param("rewrite ttl example.com. 30", (30, 30), id="set"),
    ],
)
def test_ttl_rules(text: str, expected: tuple[int, int]) -> None:
    rule = parse_rule(stanza(text.replace(r"\n", "\n")))
    result = rule.apply(Question("a.coredns.rocks." if "regex" in text else "example.com.", A, 1))
    assert result is not None
    assert result[1] == (TtlClamp(*expected),)
    assert rule.stop == ("continue" not in text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "rewrite continue {\n rcode regex (.*)\\.coredns\\.rocks SERVFAIL NOERROR\n}",
            id="readme-names",
        ),
        pytest.param(
            "rewrite continue {\n rcode regex (.*)\\.coredns\\.rocks 2 0\n}", id="readme-numbers"
        ),
    ],
)
def test_rcode_rules(text: str) -> None:
    rule = parse_rule(stanza(text))
    assert rule.apply(Question("www.coredns.rocks.", A, 1)) == (
        Question("www.coredns.rocks.", A, 1),
        (RcodeSwap(2, 0),),
    )
    assert rule.apply(Question("www.example.org.", A, 1)) is None


def test_class_rule_from_the_readme() -> None:
    rule = parse_rule(stanza("rewrite class CH IN"))
    assert rule.apply(Question("a.", A, 3)) == (Question("a.", A, 1), ())


def test_answer_value_rules_rewrite_record_data() -> None:
    rule = parse_rule(
        stanza(
            "rewrite stop {\n name suffix .arpa .arpa\n answer auto\n"
            r" answer value (.*)\.service\.consul\. {1}.coredns.rocks."
            "\n}"
        )
    )
    result = rule.apply(Question("30.30.30.10.in-addr.arpa.", 12, 1))
    assert result is not None
    values = [r.rewriter for r in result[1] if isinstance(r, RecordValues)]
    final = "ftp-us-west-1.service.consul."
    for rewriter in reversed(values):
        final = rewriter.rewrite(final)
    assert final == "ftp-us-west-1.coredns.rocks."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "rewrite name regex (.*[ foo.", "rewrite: invalid regex '(.*['", id="bad-regex"
        ),
        pytest.param("rewrite name regex (.*) {1}.{2}.x", "uses more groups", id="too-many-groups"),
        pytest.param("rewrite name wild a b", "got 'wild'", id="bad-match-kind"),
        pytest.param("rewrite name", "too few arguments", id="name-alone"),
        pytest.param("rewrite type A", "exactly two arguments", id="type-one-arg"),
        pytest.param("rewrite type A BOGUS", "invalid type 'BOGUS'", id="bad-type"),
        pytest.param("rewrite class IN XX", "invalid class 'XX'", id="bad-class"),
        pytest.param("rewrite ttl a. 30-20", "invalid TTL '30-20'", id="ttl-inverted"),
        pytest.param("rewrite ttl a. soon", "invalid TTL 'soon'", id="ttl-word"),
        pytest.param("rewrite rcode a. SERVFAIL OOPS", "invalid RCODE 'OOPS'", id="bad-rcode"),
        pytest.param("rewrite cname wild a b", "unknown cname rewrite type", id="bad-cname"),
        pytest.param("rewrite answer name a b", "must begin with a name rule", id="answer-first"),
        pytest.param(
            "rewrite edns0 local set 0xffee abcd", "edns0 rules are not supported", id="edns0"
        ),
        pytest.param("rewrite bogus a b", "invalid rule type 'bogus'", id="bad-field"),
        pytest.param("rewrite continue", "must be followed by a rule type", id="mode-alone"),
        pytest.param(
            "rewrite name prefix a b answer auto answer name x y",
            "cannot be combined",
            id="auto-and-name",
        ),
        pytest.param("rewrite name prefix a b extra", "expected 'answer'", id="stray-argument"),
        pytest.param("rewrite name prefix a b answer value x", "2 arguments", id="value-short"),
    ],
)
def test_bad_rules_name_file_line_and_token(text: str, message: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse_rule(stanza(text))
    assert str(caught.value).startswith("Corefile:2: rewrite: ")
    assert message in str(caught.value)
