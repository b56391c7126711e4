import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wiretrace
from wiretrace.align import FEATURES, changed_facts, in_run, pair_features, shared_quotation
from wiretrace.models import Article, Sentence

EXAMPLES = "wiretrace/examples/"


def _compare(name: str):
    return wiretrace.compare(EXAMPLES + name + ".txt", EXAMPLES + "wire_original.txt")


def test_pair_features_are_named_and_symmetric():
    a = ["The central bank raised its main rate to 4.5 percent on Tuesday."]
    b = ["On Tuesday the central bank lifted its key rate to 4.5 percent."]
    ab, names = pair_features(a, b)
    ba, _ = pair_features(b, a)
    assert names == list(FEATURES) and ab.shape == (1, len(FEATURES))
    np.testing.assert_allclose(ab, ba, atol=1e-5)
    assert ab[0, names.index("semantic")] > 0.6


def _s(text: str, index: int = 0) -> Sentence:
    return Sentence("x", index, 0, len(text), text)


@pytest.mark.parametrize(
    "derived, source, kind",
    [
        ("The central bank cut the interest rate by half a point.", "The central bank raised the interest rate by half a point.", "polarity"),
        ("The floods left 320 people dead in the region.", "The floods left 230 people dead in the region.", "number"),
        ("Finance minister Paulo Reis resigned on Monday.", "Finance minister Ana Costa resigned on Monday.", "name"),
        ("The court did not approve the merger.", "The court approved the merger.", "polarity"),
    ],
)
def test_changed_facts(derived, source, kind):
    found = changed_facts(_s(derived), _s(source), frozenset(), frozenset())
    assert kind in {f.kind for f in found}


def test_a_paraphrase_keeps_its_facts():
    d = _s("Dockers at the port walked out on Tuesday for three days.")
    s = _s("Port workers began a three-day strike on Tuesday.")
    assert changed_facts(d, s, frozenset(), frozenset()) == []


def test_runs_need_neighbours_in_both_articles():
    pairs = [(1, 5), (2, 6), (9, 1), (10, 9)]
    assert in_run(pairs, 1, 5, 3) and in_run(pairs, 2, 6, 3)
    assert in_run([(1, 6), (2, 5)], 1, 6, 3)  # shuffled inside a paragraph
    assert not in_run(pairs, 9, 1, 3)  # a neighbour in one article only


def test_verbatim_reprint_is_verbatim_throughout():
    r = _compare("verbatim_reprint")
    labels = [x.label for x in r.alignment.derived if x.label]
    assert labels.count("verbatim") >= len(labels) - 1
    assert all(x.label == "used" for x in r.alignment.source if x.label)


def test_changed_facts_copy_reports_each_change():
    r = _compare("changed_facts")
    kinds = {f.kind for f in r.alignment.changed_facts}
    assert {"number", "polarity"} <= kinds
    for f in r.alignment.changed_facts:
        d = next(x for x in r.alignment.derived if x.sentence.index == f.derived_index)
        assert d.label in {"verbatim", "edited"}  # a changed copy, not a paraphrase


def test_spans_are_word_offsets_in_the_sentence():
    r = _compare("light_edit")
    text = r.derived.article.text
    for x in r.alignment.derived:
        for m in x.matches:
            for start, end in m.spans:
                assert x.sentence.start <= start < end <= x.sentence.end
                assert text[start:end].strip() == text[start:end]


def test_spans_mark_shared_content_not_lone_function_words():
    from wiretrace.align import _side, _spans
    from wiretrace.models import Sentence

    def spans(a, b):
        x, y = (_side((Sentence("x", 0, 0, len(t), t),)) for t in (a, b))
        return [a[s:e] for s, e in _spans(x, 0, y, 0)]

    assert spans("The mayor said the river had risen in the night.",
                 "The police said the roads were closed in the north.") == []  # "The", "said the", "in the" only
    assert spans("The mayor said the river had risen in the night.", "A river rose.") == ["river"]
    assert spans("Le maire a dit que la rivière était très haute", "la rivière était très haute hier") == \
        ["la rivière était très haute"]  # character offsets on non-ASCII text
    assert spans("« La rivière a débordé », dit-il.", "« La rivière a débordé », dit-il.") == \
        ["La rivière a débordé », dit-il"]  # the same words: one span, first word to last
    assert spans("It was in the", "It was in the") == []  # ... unless none is a content word


def test_spans_of_a_sentence_pair_met_again_are_shifted_to_where_the_sentence_is():
    from wiretrace import align
    from wiretrace.align import _side, _spans
    from wiretrace.models import Sentence

    a, b = "Le maire a dit que la rivière était très haute", "la rivière était très haute hier"
    align._CODES.spans.clear()
    first = _spans(_side((Sentence("x", 0, 0, len(a), a),)), 0, _side((Sentence("y", 0, 0, len(b), b),)), 0)
    assert len(align._CODES.spans) == 1  # remembered by the two texts
    text = "Dès l'aube. " + a  # the same sentence later in another article: found again, shifted
    x = _side((Sentence("z", 0, 0, 11, text[:11]), Sentence("z", 1, 12, len(text), a)))
    again = _spans(x, 1, _side((Sentence("y", 0, 0, len(b), b),)), 0)
    assert again == tuple((s + 12, e + 12) for s, e in first)
    assert [text[s:e] for s, e in again] == ["la rivière était très haute"]
    assert len(align._CODES.spans) == 1


def test_reordering_costs_nothing():
    body = [
        "The river burst its banks at dawn, flooding the old town.",
        "Firefighters evacuated two hundred residents by boat.",
        "The mayor said the damage would run to millions of euros.",
        "Schools will stay closed until Friday, officials said.",
    ]
    a = Article("a", "Flood in the old town\n\n" + "\n\n".join(body))
    b = Article("b", "Flood in the old town\n\n" + "\n\n".join(reversed(body)))
    r = wiretrace.compare(a, b)
    assert [x.label for x in r.alignment.derived if x.label] == ["verbatim"] * 4
    assert r.verdict.verdict == "wholly derived"


def test_the_paraphrase_model_has_its_own_weights_and_threshold():
    from wiretrace.align import load_pair_model

    similarity, paraphrase = load_pair_model("similarity"), load_pair_model("paraphrase")
    assert set(paraphrase.features) <= set(FEATURES) and 0.0 < paraphrase.threshold < 1.0
    assert paraphrase.weights != similarity.weights
    rows, _ = pair_features(["The court approved the merger on Monday."], ["On Monday the court approved the merger."])
    assert paraphrase.predict_proba(rows)[0] >= paraphrase.threshold


def test_fast_features_agree_with_the_reference():
    from wiretrace.align import _features, _side, features_reference

    rng = np.random.default_rng(7)
    pairs = [("heavy_paraphrase", "wire_original"), ("changed_facts", "wire_original"), ("independent", "light_edit")]
    for a_name, b_name in pairs:
        x, y = (wiretrace.read(f"wiretrace/examples/{n}.txt") for n in (a_name, b_name))
        a, b = _side(x.body), _side(y.body)
        sem = rng.uniform(-0.2, 1.0, (len(a.sentences), len(b.sentences)))
        clause = rng.uniform(-0.2, 1.0, sem.shape)
        assert np.allclose(_features(a, b, sem, clause), features_reference(a, b, sem, clause), atol=1e-6)
    empty = _side(())
    assert _features(empty, b, np.zeros((0, len(b.sentences))), np.zeros((0, len(b.sentences)))).shape == (0, len(b.sentences), 9)


@pytest.mark.parametrize("d_text, s_text, expected", [
    # The same quotation, each report's own words around it.
    ('"We will rebuild every school before winter," the governor told reporters on Tuesday.',
     'Officials gathered as she spoke: "We will rebuild every school before winter."', True),
    # A quotation left open runs to the end of the sentence.
    ('Protesters chanted "no new taxes on fuel or bread',
     'In the square the crowd kept chanting "no new taxes on fuel or bread"', True),
    # Shared words outside the quotation: more than a shared quotation.
    ('The river flooded the valley villages, "a disaster," the mayor said.',
     'The river flooded the valley villages overnight, officials said.', False),
    # Nothing quoted on either side.
    ("The river flooded the valley villages.", "The river flooded the valley villages overnight.", False),
])
def test_shared_quotation(d_text, s_text, expected):
    assert shared_quotation(d_text, s_text) is expected
    assert shared_quotation(s_text, d_text) is expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(*[st.sampled_from([0.0, 0.3, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9,
                                             0.95, 0.97, 1.0]) | st.floats(0, 1)] * 5), min_size=1, max_size=12),
       st.lists(st.floats(0, 1), min_size=12, max_size=12))
def test_the_labelled_mask_is_where_label_gives_a_label(rows, probas):
    from wiretrace.align import _label, _labelled_mask
    from wiretrace.options import AlignOptions

    options = AlignOptions()
    features = np.zeros((1, len(rows), len(FEATURES)), dtype=np.float32)
    features[0, :, :5] = rows
    proba = np.asarray([probas[: len(rows)]], dtype=np.float32)
    mask = _labelled_mask(features, proba, options)
    expected = [_label(f, p, options) is not None for f, p in zip(features[0].tolist(), proba[0].tolist())]
    assert mask[0].tolist() == expected


def test_a_fresh_word_code_table_gives_the_same_features(monkeypatch):
    from wiretrace import align

    x, y = (wiretrace.read(f"wiretrace/examples/{n}.txt") for n in ("light_edit", "wire_original"))
    vx, vy = (np.zeros((len(align.embedding_texts(d)), 1), dtype=np.float32) for d in (x, y))
    before, token = align.score(x, y, vx, vy).features, align._CODES.token
    monkeypatch.setattr(align, "_CODE_LIMIT", align._CODE_BASE + len(align._CODES.table) + 10)  # no room left
    after = align.score(x, y, vx, vy).features
    assert align._CODES.token != token and len(align._CODES.table) < 1000  # a fresh table, these articles' words
    assert np.array_equal(before, after)


def test_each_thread_codes_words_with_a_table_of_its_own():
    from concurrent.futures import ThreadPoolExecutor

    from wiretrace import align

    x, y = (wiretrace.read(f"wiretrace/examples/{n}.txt") for n in ("light_edit", "wire_original"))
    vx, vy = (np.zeros((len(align.embedding_texts(d)), 1), dtype=np.float32) for d in (x, y))
    here = align.score(x, y, vx, vy).features
    with ThreadPoolExecutor(4) as pool:  # each thread codes the words in its own order
        found = list(pool.map(lambda k: align.score(*((x, y, vx, vy) if k % 2 else (y, x, vy, vx))).features, range(8)))
    assert all(np.array_equal(f if k % 2 else f.transpose(1, 0, 2), here) for k, f in enumerate(found))
