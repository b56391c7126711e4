from hypothesis import given, strategies as st

from wiretrace import fingerprint as fp


def test_words_carry_offsets_into_non_ascii_text():
    text = "Le\u00a0ministre a dit «\u00a0non\u00a0» — پاکستان کے وزیر، 24.3 فیصد"
    for w in fp.words(text, offset=10):
        assert text[w.start - 10 : w.end - 10] == w.text


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_words_round_trip_on_any_text(text):
    for w in fp.words(text):
        assert text[w.start : w.end] == w.text and w.start < w.end


def test_stems_pair_inflections_and_keep_other_scripts():
    assert fp._stem("faces") == fp._stem("facing")
    assert fp._stem("raised") == fp._stem("raise")
    assert fp._stem("confiscated") == fp._stem("confiscation")
    assert fp._stem("پاکستان") == "پاکستان"[:6]


def test_numbers_ignore_thousands_separators():
    assert fp.numbers("1,450 jobs and 24.3 overs in 2019") == {"1450", "24.3", "2019"}


def test_names_skip_the_first_word_and_possessives():
    assert fp.names("Officials in Lisbon said Maria's plan failed") == {"lisbon", "maria"}


def test_units_are_the_sentence_then_its_clauses():
    s = "On Monday, the council approved the budget for next year, after a long debate that ran past midnight."
    units = fp.units(s)
    assert units[0] == s
    assert len(units) == 3 and units[2].startswith("after a long debate")
    assert fp.units("A short sentence, really.") == ["A short sentence, really."]


def test_encoder_is_normalised_and_shared():
    enc = fp.get_encoder()
    assert enc is fp.get_encoder()
    v = enc.encode(["The central bank raised rates.", "Der Zentralbank erhöhte die Zinsen."])
    assert v.shape == (2, 512)
    assert abs(float((v[0] ** 2).sum()) - 1.0) < 1e-4
    assert float(v[0] @ v[1]) > 0.5  # multilingual: the same statement in two languages


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_fast_content_stems_and_names_agree_with_the_words(text):
    words = fp.words(text)
    assert fp.content_stems(text) == [w.stem for w in words if fp.is_content(w)]
    assert fp.names(text) == {w.key for w in words[1:] if w.text[:1].isupper() and w.key not in fp.STOPWORDS}


@given(st.lists(st.sampled_from(["The", "the", "Minister", "said", "Paris's", "prices", "rose", "Élodie",
                                 "4.5", "U.S.", "a", "Hospital", "é"]), max_size=12))
def test_story_terms_are_the_content_stems_and_the_names(words):
    text = " ".join(words)
    assert fp.story_terms(text) == (tuple(fp.content_stems(text)), fp.names(text))
