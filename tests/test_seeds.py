"""The canonical case: an AFP story (001) and an uncredited, paraphrasing blog rewrite of it (000)."""

from pathlib import Path

import pytest

import wiretrace

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason=f"{SEEDS} is absent (the seed pair lives beside the repository)")


def _seed(prefix: str) -> Path:
    return next(SEEDS.glob(f"{prefix}_*.txt"))


@pytest.fixture(scope="module", params=["rewrite first", "original first"])
def result(request):
    a, b = _seed("000"), _seed("001")
    return wiretrace.compare(a, b) if request.param == "rewrite first" else wiretrace.compare(b, a)


def _by_text(side, fragment):
    hits = [x for x in side if fragment in x.sentence.text]
    assert hits, f"no sentence contains {fragment!r}"
    return hits[0]


def test_verdict_direction_and_credit(result):
    v = result.verdict
    assert result.derived.article.id.startswith("000")
    assert result.source.article.id.startswith("001")
    assert v.verdict == "partially derived"
    assert v.direction.original.startswith("001")
    assert v.direction.confidence > 0.8
    assert any("AFP" in e for e in v.direction.evidence)
    assert v.credited is False
    assert 0.25 < v.derived_share < 0.65


@pytest.mark.parametrize(
    "derived, source",
    [
        ("prevented an attempted coup", "prevented a coup attempt"),
        ("Unrest broke out", "deadly unrest shook"),
        ("organise riots", "organize riots"),
        ("banking chief and energy minister", "former energy minister and bank chairman"),
        ("encouraged protests through his social-media", "vociferously encouraged protests"),
        ("attack government and police offices", "attack administrative buildings"),
        ("Kalashnikovs, shotguns", "Kalashnikov assault rifles"),
        ("became leader in 2019 and sidelined", "became leader in 2019 and has stymied"),
    ],
)
def test_paraphrased_half_matched_to_the_right_sentences(result, derived, source):
    d = _by_text(result.alignment.derived, derived)
    s = _by_text(result.alignment.source, source)
    assert d.label in {"paraphrase", "edited"}
    assert s.sentence.index in [m.index for m in d.matches]
    assert s.label == "used"


@pytest.mark.parametrize(
    "fragment",
    [
        "self-promoter",
        "scapegoat",
        "economic modernisation",
        "attract western investment",
        "Chamber of Commerce",
        "Trans-Caspian",
    ],
)
def test_commentary_is_new(result, fragment):
    assert _by_text(result.alignment.derived, fragment).label == "new"


@pytest.mark.parametrize(
    "fragment",
    ["Terirgaliyev", "farce", "Kadysheva", "Nakizbekova", "great hope", "Organization for Security and Cooperation"],
)
def test_voter_quotes_and_osce_criticism_omitted(result, fragment):
    assert _by_text(result.alignment.source, fragment).label == "omitted"


@pytest.mark.parametrize("fragment", ["Leave a Reply", "reduce spam", "Picture credit", "comment data is processed"])
def test_page_furniture_is_boilerplate(result, fragment):
    s = _by_text(result.alignment.derived, fragment)
    assert s.sentence.role == "boilerplate" and s.label == ""


def test_offsets_index_the_file_text(result):
    for doc in (result.derived, result.source):
        original = Path(doc.article.path).read_text(encoding="utf-8")
        for s in doc.sentences:
            assert original[s.start : s.end] == s.text
