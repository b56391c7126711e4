import pytest

import wiretrace
from wiretrace.attribute import coherence, credit, direction
from wiretrace.models import Article

EXAMPLES = "wiretrace/examples/"

WIRE = """Storm closes ferry routes across the strait
LISBON, March 3 (Reuters) - Gale-force winds closed every ferry route across the strait on Monday, stranding about 3,000 passengers in ports on both sides.

The maritime authority said waves of up to nine metres made crossings unsafe and that services would resume on Tuesday at the earliest.

"We will not take risks with passengers' lives," harbour master Ines Pardal told Reuters by telephone.

Truck drivers queued for more than twelve kilometres outside the southern port, police said.
"""

REWRITE = """Ferries halted as storm batters the strait
Gale-force winds shut all ferry routes over the strait on Monday, leaving roughly 3,000 travellers stuck in ports on either side.

According to the maritime authority, waves as high as nine metres made crossings unsafe; services will restart Tuesday at the earliest.

Lorry drivers waited in a queue stretching more than twelve kilometres outside the southern port, according to police.

It is the third closure this winter, and islanders say the service needs bigger ships.

Nobody in the capital seems to care that a whole region is cut off every time the wind blows.

The operator has promised new vessels since 2019 and has yet to order a single one.
"""


def _pair(published_wire="2024-03-03", published_rewrite="2024-03-04"):
    wire = Article("wire", WIRE, published=published_wire, credits=("Reuters",), outlet="reuters.com")
    rewrite = Article("blog", REWRITE, published=published_rewrite)
    return wire, rewrite


@pytest.mark.parametrize("order", ["rewrite first", "wire first"])
def test_the_wire_is_the_original_in_either_order(order):
    wire, rewrite = _pair()
    r = wiretrace.compare(rewrite, wire) if order == "rewrite first" else wiretrace.compare(wire, rewrite)
    assert r.derived.article.id == "blog" and r.source.article.id == "wire"
    assert r.verdict.direction.original == "wire"
    assert r.verdict.verdict == "partially derived"
    assert r.verdict.credited is False
    text = " ".join(r.verdict.direction.evidence)
    assert "published first" in text and "Reuters" in text


def test_dates_alone_decide_the_direction_when_nothing_else_differs():
    a = Article("early", WIRE.replace("(Reuters) ", ""), published="2024-03-03")
    b = Article("late", WIRE.replace("(Reuters) ", ""), published="2024-03-05")
    r = wiretrace.compare(a, b)
    assert r.verdict.direction.original == "early"
    assert r.verdict.verdict == "wholly derived"


def test_no_evidence_takes_the_second_article_as_source_with_low_confidence():
    a = Article("a", WIRE.replace("(Reuters) ", "").replace("told Reuters", "said"))
    b = Article("b", WIRE.replace("(Reuters) ", "").replace("told Reuters", "said"))
    r = wiretrace.compare(a, b)
    assert r.verdict.direction.original == "b"
    assert r.verdict.direction.confidence == pytest.approx(0.5)


def test_credit_by_agency_or_outlet():
    wire, rewrite = _pair()
    assert credit(rewrite, wire)[0] is False
    named = Article("x", REWRITE + "\nThis report draws on Reuters.\n")
    ok, evidence = credit(named, wire)
    assert ok and "Reuters" in evidence[0]
    by_outlet = Article("y", REWRITE + "\nFirst reported by Reuters.com.\n")
    assert credit(by_outlet, Article("w", WIRE, outlet="reuters.com"))[0]


def test_coherence_is_high_for_a_rewrite_and_zero_without_matches():
    wire, rewrite = _pair()
    r = wiretrace.compare(rewrite, wire)
    assert coherence(r.alignment) == pytest.approx(1.0)
    unrelated = Article("u", "Council approves new library\nThe city council approved plans for a new public library on Friday.\n")
    assert coherence(wiretrace.compare(unrelated, wire).alignment) == 0.0


@pytest.mark.parametrize(
    "name, verdict, credited",
    [
        ("verbatim_reprint", "wholly derived", True),
        ("light_edit", "wholly derived", True),
        ("heavy_paraphrase", "partially derived", False),
        ("independent", "not derived", None),
        ("changed_facts", "wholly derived", True),
    ],
)
def test_examples_get_a_journalists_verdict(name, verdict, credited):
    r = wiretrace.compare(EXAMPLES + name + ".txt", EXAMPLES + "wire_original.txt")
    assert r.verdict.verdict == verdict
    assert r.verdict.direction.original == "wire_original"
    if credited is not None:
        assert r.verdict.credited is credited
