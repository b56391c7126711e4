"""Candidate retrieval: the LSH index agrees with the exact reference; signatures agree with their
reference; all-pairs agrees with per-article queries; filters; the sentence part."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wiretrace import fingerprint as fp
from wiretrace import minhash as mh
from wiretrace.errors import ConfigError
from wiretrace.index import (CandidateIndex, Filters, as_ids, exact_candidates, jaccard, minhash, shingle_hashes, signature,
                             signatures)
from wiretrace.models import Article
from wiretrace.options import IndexOptions, load_options
from wiretrace.segment import segment

LEXICAL = load_options(env={}, overrides={"fingerprint": {"model": "none"}})
WORDS = ("harbour pier ferry storm council bridge market school river train budget mayor farmers "
         "election hospital nurses strike museum festival drought water prices fuel police court").split()


def corpus(n=40, seed=3):
    """Articles of random sentences; some are copies of others with sentences dropped or changed."""
    rng = np.random.default_rng(seed)

    def sentence():
        return " ".join(rng.choice(WORDS, size=rng.integers(8, 14))).capitalize() + "."

    texts = {}
    for k in range(n):
        if k >= 10 and rng.random() < 0.5:
            base = texts[f"a{rng.integers(0, 10)}"].split("\n\n")
            keep = [s for s in base if rng.random() < 0.7] or base[:1]
            texts[f"a{k}"] = "\n\n".join(keep + [sentence() for _ in range(rng.integers(0, 4))])
        else:
            texts[f"a{k}"] = "\n\n".join(sentence() for _ in range(rng.integers(5, 10)))
    return [segment(Article(id=i, text="Title line\n\n" + t + "\n"), LEXICAL.segment) for i, t in texts.items()]


def lexical_index(docs, meta=None, options=None):
    index = CandidateIndex(options or LEXICAL.index, LEXICAL.fingerprint.num_perm, dim=1)
    index.add([d.article.id for d in docs], [signature(d, LEXICAL) for d in docs],
              [np.zeros((len(d.body), 1), np.float32) for d in docs], meta)
    return index


def test_lsh_finds_every_pair_the_exact_reference_finds():
    docs = corpus()
    index = lexical_index(docs)
    threshold = 0.3
    checked = 0
    for d in docs:
        exact = dict(exact_candidates(d, docs, threshold))
        found = {c.id: c.lexical for c in index.query(signature(d, LEXICAL), np.zeros((0, 1)), k=len(docs),
                                                      exclude={d.article.id})}
        assert set(exact) <= set(found), d.article.id
        for other, value in exact.items():
            assert abs(found[other] - value) < 0.2  # the MinHash estimate is close to the exact Jaccard
            checked += 1
    assert checked >= 10  # the corpus does hold copies


def test_minhash_estimate_tracks_exact_jaccard():
    rng = np.random.default_rng(0)
    for overlap in (0.1, 0.3, 0.6, 0.9):
        common = rng.integers(0, 2**32, 300, dtype=np.uint64)
        a = np.concatenate([common[: int(300 * overlap)], rng.integers(0, 2**32, 300, dtype=np.uint64)])
        b = np.concatenate([common[: int(300 * overlap)], rng.integers(0, 2**32, 300, dtype=np.uint64)])
        exact = jaccard(set(a.tolist()), set(b.tolist()))
        estimate = float((minhash(a) == minhash(b)).mean())
        assert abs(estimate - exact) < 0.12, (overlap, exact, estimate)


def test_shingle_hashes_count_distinct_word_trigrams():
    assert len(shingle_hashes("one two three four one two three")) == 4
    assert len(shingle_hashes("")) == 0


def test_filters_window_outlets_and_dates():
    docs = corpus(12)
    base = docs[0]
    copies = [segment(Article(id=f"copy{k}", text=base.article.text), LEXICAL.segment) for k in range(4)]
    meta = [("Wire", "2024-03-01")] * len(docs) + [("Wire", "2024-03-02"), ("Blog", "2024-03-03"),
                                                    ("Blog", "2024-04-20"), ("Blog", "")]
    index = lexical_index(docs + copies, meta)
    sig = signature(base, LEXICAL)

    def ids(filters):
        return {c.id for c in index.query(sig, np.zeros((0, 1)), k=50, filters=filters, exclude={"a0"})}

    assert {"copy0", "copy1", "copy2", "copy3"} <= ids(Filters())
    assert ids(Filters(outlets=("Blog",))) == {"copy1", "copy2", "copy3"}
    assert "copy1" not in ids(Filters(exclude_outlets=("Blog",)))
    window = ids(Filters(window=5).around("2024-03-01"))
    assert {"copy0", "copy1"} <= window and not {"copy2", "copy3"} & window  # undated: outside any window
    assert ids(Filters(since="2024-04-01")) == {"copy2"}
    assert "copy2" not in ids(Filters(until="2024-03-31"))


def test_buckets_shared_by_too_many_articles_are_skipped():
    docs = corpus(12)
    same = [segment(Article(id=f"dup{k}", text=docs[0].article.text), LEXICAL.segment) for k in range(6)]
    capped = lexical_index(docs + same, options=IndexOptions(bucket_cap=3))
    found = capped.query(signature(docs[0], LEXICAL), np.zeros((0, 1)), k=50, exclude={"a0"})
    assert not {c.id for c in found} & {f"dup{k}" for k in range(6)}


def test_sentence_neighbours_find_paraphrases_and_single_sentence_queries_work():
    rng = np.random.default_rng(1)
    vectors = {f"v{k}": rng.normal(size=(4, 64)).astype(np.float32) for k in range(20)}
    for v in vectors.values():
        v /= np.linalg.norm(v, axis=1, keepdims=True)
    index = CandidateIndex(IndexOptions(), 128, dim=64)
    empty = np.full(128, 0xFFFFFFFF, dtype=np.uint32)
    index.add(list(vectors), [empty] * 20, list(vectors.values()))
    found = index.query(empty, vectors["v7"][:1], k=3)  # one sentence: usearch's single-query result
    assert [c.id for c in found] == ["v7"] and found[0].semantic == 1.0 and found[0].lexical == 0.0


def test_sentence_index_built_by_one_thread_is_the_same_every_time(tmp_path):
    # Several threads insert in a varying order, so two builds of one store can differ (a few
    # candidates); `index.threads = 1` makes the saved graph byte for byte the same.
    rng = np.random.default_rng(2)
    vectors = [rng.normal(size=(10, 64)).astype(np.float32) for _ in range(300)]
    empty = np.full(128, 0xFFFFFFFF, dtype=np.uint32)
    saved = []
    for k in range(2):
        index = CandidateIndex(IndexOptions(threads=1), 128, dim=64)
        index.add([f"a{n}" for n in range(300)], [empty] * 300, vectors)
        index.save(tmp_path / f"build{k}.db")
        saved.append((tmp_path / f"build{k}.db.usearch").read_bytes())
    assert saved[0] == saved[1]


def test_lexical_only_index_gives_no_semantic_candidates():
    docs = corpus(10)
    index = lexical_index(docs)
    assert not index.semantic
    lone = segment(Article(id="lone", text="Title\n\nNothing here is shared with any other text at all.\n"),
                   LEXICAL.segment)
    assert index.query(signature(lone, LEXICAL), np.zeros((len(lone.body), 1), np.float32), k=10) == []


@pytest.mark.parametrize("bad", [IndexOptions(bands=100, rows=2)])
def test_bands_times_rows_must_fit_the_signature(bad):
    with pytest.raises(ConfigError, match="num_perm"):
        CandidateIndex(bad, 128, dim=1)


def test_index_threads_cannot_be_negative():
    with pytest.raises(ConfigError, match="index.threads"):
        CandidateIndex(IndexOptions(threads=-1), 128, dim=1)


def test_vectorised_bucket_search_agrees_with_the_band_by_band_reference():
    from wiretrace.index import _Bands

    docs = corpus(60, seed=5)
    signatures = np.stack([signature(d, LEXICAL) for d in docs])
    for cap in (2, 5, 200):
        bands = _Bands(signatures, 64, 2)
        for k in range(0, 60, 7):
            fast = bands.collisions(signatures[k], cap)
            assert fast.tolist() == bands.collisions_reference(signatures, signatures[k], cap).tolist()
            if cap == 200:  # no bucket is over the cap: an article always shares its own buckets
                assert k in fast
        # Every pair once, whatever the lots the buckets' pairs are expanded in.
        a, b = bands.pairs(cap)
        expected = sorted({(min(i, j), max(i, j)) for k in range(60) for j in bands.collisions(signatures[k], cap)
                           for i in [k] if i != j})
        assert list(zip(a.tolist(), b.tolist())) == expected
        for chunk in (1, 3, 50):
            assert all(np.array_equal(x, y) for x, y in zip(bands.pairs(cap, chunk), (a, b)))


# --- signatures ----------------------------------------------------------------------------------

TEXTS = [
    "",
    "one",
    "one two",
    "The U.S. council's plan: it’s the mayor’s Plan, and THE PLAN.",
    "ﬁre ＦＵＬＬＷＩＤＴＨ café CAFÉ cafe\u0301 a..b x_y 12,300 ١٢٣ ﷺ",
    "وزیر اعظم نے کہا کہ\u00a0معیشت بہتر ہو رہی ہے اور مہنگائی کم ہوگی",
    "a.'b 'quoted' end. Stop.\nNew line\tand tab",
]


def test_vectorised_signatures_equal_the_reference():
    docs = corpus(30, seed=11)
    texts = TEXTS + [mh.body_text(d) for d in docs]
    batch = mh.signatures_of_texts(texts)
    for text, sig in zip(texts, batch):
        assert sig.tolist() == mh.signature_reference(text).tolist(), text
    # one text at a time, in a batch, and through the shingle hashes: the same signature
    assert (np.stack([signature(d, LEXICAL) for d in docs]) == signatures(docs, LEXICAL)).all()
    for text, sig in zip(texts[1:], batch[1:]):
        assert minhash(shingle_hashes(text)).tolist() == sig.tolist()


def test_signatures_of_long_batches_are_split_without_changing_them(monkeypatch):
    texts = [mh.body_text(d) for d in corpus(20, seed=2)]
    whole = mh.signatures_of_texts(texts)
    monkeypatch.setattr(mh, "_BATCH_CHARS", 500)  # a few texts per set of numpy calls
    assert (mh.signatures_of_texts(texts) == whole).all()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab Zé’'._-\n\u00a0١ﬁ" + "\u0301", max_size=60))
def test_code_point_tokens_are_the_regex_words(text):
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    starts, ends = mh._tokens(cp)
    assert list(zip(starts.tolist(), ends.tolist())) == [(w.start, w.end) for w in fp.words(text)]


def test_empty_text_has_the_empty_signature_and_no_set_with_members_does():
    sig = mh.signatures_of_texts(["", "just a few words here"])
    assert (sig[0] == mh.EMPTY).all() and not (sig[1] == mh.EMPTY).any()


def test_densification_fills_every_slot_from_the_sets_own_bins():
    one = minhash(np.array([12345], dtype=np.uint64))
    assert len(set(one.tolist())) == 1  # a single member: every slot holds its value
    few = np.arange(1, 6, dtype=np.uint64)
    values = (mh._mix(few ^ np.uint64(mh._PROBE_SEED)) & np.uint64(0xFFFFFFFF)).tolist()
    assert set(minhash(few).tolist()) == set(values)  # each member's value, and nothing else


def test_densified_estimates_of_small_sets_are_unbiased():
    """Sets much smaller than the signature leave most bins empty; the estimate stays unbiased only
    if an empty bin copies from the same bins in every set."""
    rng = np.random.default_rng(4)
    for shared, own in ((6, 2), (4, 4), (2, 6)):
        exact = shared / (shared + 2 * own)
        estimates = []
        for _ in range(300):
            common = rng.integers(0, 2**63, shared, dtype=np.uint64)
            a = np.concatenate([common, rng.integers(0, 2**63, own, dtype=np.uint64)])
            b = np.concatenate([common, rng.integers(0, 2**63, own, dtype=np.uint64)])
            estimates.append(float((minhash(a) == minhash(b)).mean()))
        assert abs(np.mean(estimates) - exact) < 0.04, (shared, own, exact, np.mean(estimates))


def test_densification_probes_do_not_depend_on_the_document():
    """Two sets whose members fall in the same bins copy each empty bin from the same bin."""
    a = np.arange(1, 9, dtype=np.uint64)
    mixed = mh._mix(a ^ np.uint64(mh._PROBE_SEED))
    bins = ((mixed >> np.uint64(32)) * np.uint64(128)) >> np.uint64(32)
    one = mh._one_permutation(mixed, np.zeros(8, np.int64), 1, 128)[0]
    # The same bins with other values (top bits kept, low 32 bits changed).
    other = (mixed & np.uint64(0xFFFFFFFF00000000)) | (np.uint64(7) + np.arange(8, dtype=np.uint64))
    two = mh._one_permutation(other, np.zeros(8, np.int64), 1, 128)[0]
    donor_one = {v: b for v, b in zip((mixed & np.uint64(0xFFFFFFFF)).tolist(), bins.tolist())}
    donor_two = {v: b for v, b in zip((other & np.uint64(0xFFFFFFFF)).tolist(), bins.tolist())}
    assert [donor_one[v] for v in one.tolist()] == [donor_two[v] for v in two.tolist()]


# --- all pairs at once ---------------------------------------------------------------------------


def _mixed_index(options=None, semantic=False):
    """Copies, replaced ids, an article without words, dates and outlets: every case `query` filters."""
    docs = corpus(50, seed=9)
    extra = [segment(Article(id=f"copy{k}", text=docs[k].article.text), LEXICAL.segment) for k in range(6)]
    blank = segment(Article(id="blank", text="Title\n\n...\n"), LEXICAL.segment)
    docs = docs + extra + [blank]
    days = ["2024-03-01", "2024-03-04", "2024-03-20", "", "2024-02-27T10:00:00"]
    meta = [("Wire" if k % 3 else "Blog", days[k % len(days)]) for k in range(len(docs))]
    rng = np.random.default_rng(6)
    if semantic:
        base = {d.article.id: rng.normal(size=(max(len(d.body), 1), 16)).astype(np.float32) for d in docs}
        vectors = [base[f"a{k}"] if d.article.id.startswith("copy") and (k := int(d.article.id[4:])) % 2 else
                   base[d.article.id] for d in docs]
        vectors = [v / np.linalg.norm(v, axis=1, keepdims=True) for v in vectors]
    else:
        vectors = [np.zeros((len(d.body), 1), np.float32) for d in docs]
    index = CandidateIndex(options or LEXICAL.index, LEXICAL.fingerprint.num_perm, dim=16 if semantic else 1)
    index.add([d.article.id for d in docs], [signature(d, LEXICAL) for d in docs], vectors, meta)
    # Replaced: a copy whose text changed (the old row stays in the index, dead).
    again = segment(Article(id="copy0", text=docs[1].article.text), LEXICAL.segment)
    index.add(["copy0"], [signature(again, LEXICAL)], [vectors[1]], [("Wire", "2024-03-02")])
    vectors[docs.index(extra[0])] = vectors[1]
    return index, [d.article.id for d in docs], dict(zip([d.article.id for d in docs], vectors))


@pytest.mark.parametrize("semantic", [False, True])
@pytest.mark.parametrize("filters", [Filters(), Filters(window=3), Filters(since="2024-03-01", until="2024-03-10"),
                                     Filters(outlets=("Wire",)), Filters(exclude_outlets=("Wire",), window=30)])
@pytest.mark.parametrize("k", [2, 50])
def test_all_pairs_give_what_each_article_query_gives(semantic, filters, k):
    options = IndexOptions(bucket_cap=4, min_semantic=0.2, min_cosine=0.5) if semantic else IndexOptions(bucket_cap=4)
    index, ids, vectors = _mixed_index(options, semantic)
    asked = ids[::2] + ["copy0", "blank"]
    found = index.pairs(asked, k, filters, [vectors[i] for i in asked] if semantic else None).by_query()
    expected = {}
    for i in asked:
        row = index._rows[i]
        got = index.query(index._signatures[row], vectors[i] if semantic else np.zeros((0, 1)), k,
                          filters.around(index.meta[row][1]), exclude=(i,))
        if got:
            expected[i] = got
    assert found == expected
    assert sum(map(len, expected.values())) >= 10  # the corpus does hold candidates
    if semantic:
        assert any(c.semantic > 0 and c.lexical == 0 for cs in expected.values() for c in cs)


def test_pairs_asked_in_chunks_and_after_an_add_follow_the_index():
    """`pairs` keeps the index's pairs grouped by query and its row tables between calls: they
    must follow rows added (and replaced) since, as a freshly built index would give them."""
    index, ids, _ = _mixed_index(IndexOptions(bucket_cap=4))
    whole = index.pairs(ids, 5, Filters(window=30)).by_query()
    chunks = {}
    for start in range(0, len(ids), 7):
        chunks.update(index.pairs(ids[start : start + 7], 5, Filters(window=30)).by_query())
    assert chunks == whole
    later = segment(Article(id="later", text=corpus(50, seed=9)[3].article.text, published="2024-03-02"), LEXICAL.segment)
    index.add(["later", "copy1"], [signature(later, LEXICAL)] * 2, [np.zeros((len(later.body), 1), np.float32)] * 2,
              [("Blog", "2024-03-02"), ("Blog", "2024-03-03")])
    fresh, _, _ = _mixed_index(IndexOptions(bucket_cap=4))
    fresh.add(["later", "copy1"], [signature(later, LEXICAL)] * 2, [np.zeros((len(later.body), 1), np.float32)] * 2,
              [("Blog", "2024-03-02"), ("Blog", "2024-03-03")])
    asked = ids + ["later"]
    assert index.pairs(asked, 5, Filters(window=30)).by_query() == fresh.pairs(asked, 5, Filters(window=30)).by_query()
    assert "later" in index.pairs(["later"], 5).by_query()


def test_codes_of_id_pairs_are_the_candidate_codes():
    index, ids, _ = _mixed_index(IndexOptions(bucket_cap=4))
    found = index.pairs(ids, 5)
    pairs = sorted(found.unordered())
    assert np.array_equal(index.codes(pairs + [(b, a) for a, b in pairs] + [("a1", "nowhere")]), found.codes())
    assert sorted(as_ids(index.codes(pairs), index.ids)) == pairs
