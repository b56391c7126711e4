"""Candidate retrieval: the LSH index agrees with the exact reference; filters; the sentence part."""

import numpy as np
import pytest

from wiretrace.index import CandidateIndex, Filters, exact_candidates, jaccard, minhash, shingle_hashes, signature
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


def test_lexical_only_index_gives_no_semantic_candidates():
    docs = corpus(10)
    index = lexical_index(docs)
    assert not index.semantic
    lone = segment(Article(id="lone", text="Title\n\nNothing here is shared with any other text at all.\n"),
                   LEXICAL.segment)
    assert index.query(signature(lone, LEXICAL), np.zeros((len(lone.body), 1), np.float32), k=10) == []


@pytest.mark.parametrize("bad", [IndexOptions(bands=100, rows=2)])
def test_bands_times_rows_must_fit_the_signature(bad):
    with pytest.raises(ValueError, match="num_perm"):
        CandidateIndex(bad, 128, dim=1)


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
