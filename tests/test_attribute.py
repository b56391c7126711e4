import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wiretrace
from wiretrace.attribute import coherence, credit
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


# --- the fitted verdict model --------------------------------------------------------------------

import json  # noqa: E402

import numpy as np  # noqa: E402

from wiretrace.attribute import DOCUMENT_FEATURES, document_features, load_verdict_model  # noqa: E402
from wiretrace.errors import ConfigError  # noqa: E402
from wiretrace.options import load_options  # noqa: E402


def _options(**attribute):
    return load_options(env={}, overrides={"attribute": attribute})


def test_shipped_model_covers_the_three_verdicts_over_known_features():
    model = load_verdict_model("fitted")
    assert set(model.classes) == {"wholly derived", "partially derived", "not derived"}
    assert set(model.features) <= set(DOCUMENT_FEATURES)
    assert model.weights.shape == (3, len(model.features))
    assert load_verdict_model("rule") is None


def test_document_features_of_a_copy_and_of_unrelated_text():
    wire, _ = _pair()
    same = wiretrace.compare(Article("copy", WIRE), wire)
    f = dict(zip(DOCUMENT_FEATURES, document_features(same.derived, same.source, same.alignment)))
    assert len(f) == len(DOCUMENT_FEATURES)
    assert f["contain1"] == f["contain5"] == f["source_contain3"] == f["tiled6"] == pytest.approx(1.0)
    assert f["derived_words"] == pytest.approx(f["source_words"])
    other = wiretrace.compare(Article("u", "Council approves library\nThe city council approved plans for a "
                                           "new public library on Friday.\n"), wire)
    g = dict(zip(DOCUMENT_FEATURES, document_features(other.derived, other.source, other.alignment)))
    assert g["contain3"] == g["tiled3"] == g["derived_share"] == 0.0


def _model_file(tmp_path, favourite: str):
    """A model that always prefers `favourite`, whatever the features."""
    classes = ["wholly derived", "partially derived", "not derived"]
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"features": list(DOCUMENT_FEATURES), "classes": classes,
                                "weights": np.zeros((3, len(DOCUMENT_FEATURES))).tolist(),
                                "bias": [10.0 if c == favourite else 0.0 for c in classes]}))
    return str(path)


def test_compare_uses_the_model_named_in_the_options(tmp_path):
    wire, rewrite = _pair()
    assert wiretrace.compare(rewrite, wire).verdict.verdict == "partially derived"
    always_wholly = _options(model=_model_file(tmp_path, "wholly derived"))
    assert wiretrace.compare(rewrite, wire, always_wholly).verdict.verdict == "wholly derived"


def test_no_evidence_of_reuse_is_not_derived_whatever_the_model(tmp_path):
    wire, _ = _pair()
    independent = Article("u", "Council approves library\nThe city council approved plans for a new "
                               "public library on Friday, the mayor said.\n")
    assert wiretrace.compare(independent, wire).verdict.verdict == "not derived"
    always_wholly = _options(model=_model_file(tmp_path, "wholly derived"))
    assert wiretrace.compare(independent, wire, always_wholly).verdict.verdict == "not derived"


def test_the_alignment_keeps_a_rewrite_at_least_partially_derived(tmp_path):
    wire, _ = _pair()
    copy = Article("copy", WIRE.replace("(Reuters) ", ""), published="2024-03-04")
    never = _options(model=_model_file(tmp_path, "not derived"), partially=0.3, min_sentences=2)
    assert wiretrace.compare(copy, wire, never).verdict.verdict == "partially derived"
    rule = _options(model="rule", wholly=0.75)
    assert wiretrace.compare(copy, wire, rule).verdict.verdict == "wholly derived"


def test_a_bad_model_file_is_a_clear_error(tmp_path):
    wire, rewrite = _pair()
    with pytest.raises(ConfigError, match="not found"):
        wiretrace.compare(rewrite, wire, _options(model=str(tmp_path / "missing.json")))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"features": ["nonsense"], "classes": ["a", "b", "c"], "weights": [[1], [1], [1]],
                               "bias": [0, 0, 0]}))
    with pytest.raises(ConfigError, match="does not fit"):
        wiretrace.compare(rewrite, wire, _options(model=str(bad)))


def test_whole_sentences_copied_make_a_composite_partially_derived(tmp_path):
    wire, _ = _pair()
    copied = "\n\n".join(WIRE.splitlines()[k] for k in (3, 5, 7)) + "\n\n"
    own = ("The council of the eastern islands met on Wednesday to discuss a new harbour.\n\n"
           "Its members voted to ask the ministry for money to lengthen the breakwater by 2027.\n")
    composite = Article("composite", "Islands ask for a longer breakwater\n" + own + "\n" + copied, published="2024-03-05")
    never = _options(model=_model_file(tmp_path, "not derived"))
    result = wiretrace.compare(composite, wire, never)
    assert result.derived.article.id == "composite"
    assert result.verdict.verdict == "partially derived"  # three sentences copied word for word
    assert wiretrace.compare(composite, wire, _options(model=_model_file(tmp_path, "not derived"), min_copies=4)
                             ).verdict.verdict == "not derived"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from("abcdef"), max_size=40), st.lists(st.sampled_from("abcdef"), max_size=40),
       st.integers(1, 6))
def test_tiled_coverage_matches_marking_every_shared_gram(a_words, b_words, n):
    from wiretrace.attribute import _body_grams, _tiled
    from wiretrace.models import Sentence

    def grams(words):
        text = " ".join(words)
        return _body_grams((Sentence("x", 0, 0, len(text), text),))

    a, b = grams(a_words), grams(b_words)
    b_grams = {tuple(b_words[k : k + n]) for k in range(len(b_words) - n + 1)}
    covered = set()
    for k in range(len(a_words) - n + 1):
        if tuple(a_words[k : k + n]) in b_grams:
            covered.update(range(k, k + n))
    assert _tiled(a, b, n) == (len(covered) / len(a_words) if len(a_words) >= n else 0.0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=12), max_size=4),
       st.lists(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=12), max_size=4))
def test_document_features_count_the_shared_grams_of_each_n(a_sentences, b_sentences):
    # The containment and tiling features come from one search over all n; they must be the
    # per-n set arithmetic, across sentence boundaries (the body is one run of words).
    from wiretrace.attribute import DOCUMENT_FEATURES, document_features
    from wiretrace.models import Article, Document, Sentence

    def doc(name, sentences):
        texts = [" ".join(words) for words in sentences]
        text = ". ".join(texts)
        starts = [sum(len(t) + 2 for t in texts[:k]) for k in range(len(texts))]
        return Document(Article(name, text), tuple(Sentence(name, k, x, x + len(t), t)
                                                   for k, (x, t) in enumerate(zip(starts, texts))))

    def grams(words, n):
        return [tuple(words[k : k + n]) for k in range(len(words) - n + 1)]

    def tiled(x, y, n):
        theirs, covered = set(grams(y, n)), set()
        for k, g in enumerate(grams(x, n)):
            if g in theirs:
                covered.update(range(k, k + n))
        return len(covered) / len(x) if len(x) >= n else 0.0

    a_words, b_words = sum(a_sentences, []), sum(b_sentences, [])
    got = dict(zip(DOCUMENT_FEATURES, document_features(doc("a", a_sentences), doc("b", b_sentences), None,
                                                        shared=(0.0, 0.0, 0)).tolist()))
    for n in range(1, 6):
        mine, theirs = set(grams(a_words, n)), set(grams(b_words, n))
        both = len(mine & theirs)
        assert got[f"contain{n}"] == (both / len(mine) if mine else 0.0)
        assert got[f"source_contain{n}"] == (both / len(theirs) if theirs else 0.0)
    assert got["tiled3"] == tiled(a_words, b_words, 3)
    assert got["tiled6"] == tiled(a_words, b_words, 6)
    assert got["source_tiled4"] == tiled(b_words, a_words, 4)


# --- explained: copies of one earlier story --------------------------------------------------

from wiretrace.api import read  # noqa: E402
from wiretrace.attribute import explained  # noqa: E402

STORY = """Le barrage cède après trois jours de pluie
Le barrage de Saint-Étienne-du-Lac a cédé jeudi matin après trois jours de pluies diluviennes, a annoncé la préfecture.

Quelque 1 200 habitants de la vallée ont été évacués vers des gymnases des communes voisines.

« L'eau est montée de deux mètres en une heure », a déclaré le maire, Hélène Froment.

Les secours ont déployé quatre hélicoptères et une centaine de pompiers pendant la nuit.
"""
ADDED = "Selon un ingénieur de la région, l'ouvrage n'avait pas été inspecté depuis dix-huit ans déjà."
OTHER = """Les vendanges commencent tôt dans le Bordelais
Les vignerons du Bordelais ont commencé les vendanges avec deux semaines d'avance cette année.

La chaleur de l'été a fait mûrir le raisin plus vite que prévu, selon la chambre d'agriculture.
"""


def _doc(name: str, text: str):
    return read(Article(name, text))


def test_two_reprints_of_an_earlier_story_are_explained_by_it():
    story = _doc("story", STORY)
    first = _doc("first", STORY.replace("Le barrage cède", "Un barrage cède") + "\nAbonnez-vous à notre lettre.\n")
    second = _doc("second", STORY + "\nUne enquête a été ouverte.\n")
    assert explained(first, second, [story])
    assert not explained(first, second, [])  # with nothing earlier the two must be aligned
    assert not explained(first, second, [_doc("other", OTHER)])  # an unrelated article explains nothing


def test_text_two_articles_share_beyond_the_earlier_story_is_not_explained():
    story = _doc("story", STORY)
    first = _doc("first", STORY + "\n" + ADDED + "\n")  # adds a sentence ...
    second = _doc("second", STORY + "\n" + ADDED + "\n")  # ... that the second copied from it
    assert not explained(first, second, [story])
    assert explained(first, second, [story, _doc("note", ADDED)])  # unless an earlier one has it too


def test_a_composite_is_explained_by_its_sources_together_not_by_one():
    story, other = _doc("story", STORY), _doc("other", OTHER)
    first = _doc("first", STORY + "\n" + OTHER)
    second = _doc("second", OTHER + "\n" + STORY)
    assert not explained(first, second, [story])
    assert explained(first, second, [story, other])


def test_articles_sharing_few_phrases_are_left_to_the_alignment():
    """Paraphrase shares meaning, not 3-grams: below `least` shared ones nothing is explained."""
    story = _doc("story", STORY)
    first = _doc("first", "Les secours ont déployé quatre hélicoptères, selon nos informations.")
    second = _doc("second", "Dans la nuit, les secours ont déployé quatre hélicoptères.")
    assert not explained(first, second, [story])
    assert explained(first, second, [story], least=3)
