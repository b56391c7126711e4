"""Stories and reuse families, and the clustering metrics they are measured with."""

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score

from wiretrace.cluster import (
    Pair,
    _components,
    _features,
    _pair_similarity,
    _tfidf,
    _tfidf_gram,
    _tfidf_matrix,
    _top,
    attach_small,
    average_linkage,
    average_linkage_reference,
    cluster_stories,
    place_stories,
    reuse_families,
    story_similarity,
)
from wiretrace.corpus_eval import adjusted_rand, bcubed
from wiretrace.models import Article
from wiretrace.options import ClusterOptions
from wiretrace.segment import segment

# --- metrics on hand-made partitions ---------------------------------------------------------------


def test_bcubed_of_identical_partitions_is_perfect():
    assert bcubed(["a", "a", "b"], [1, 1, 2]) == (1.0, 1.0, 1.0)


def test_bcubed_of_one_big_cluster():
    precision, recall, f1 = bcubed(["a", "a", "b", "b"], ["x"] * 4)
    assert (precision, recall) == (0.5, 1.0) and f1 == pytest.approx(2 / 3)


def test_bcubed_of_singletons():
    precision, recall, f1 = bcubed(["a", "a", "b", "b"], [1, 2, 3, 4])
    assert (precision, recall) == (1.0, 0.5) and f1 == pytest.approx(2 / 3)


def test_bcubed_by_hand():
    # gold {1,2,3} {4,5}; predicted {1,2} {3,4,5}
    # precision: items 1,2 -> 1; items 3,4,5 -> 1/3, 2/3, 2/3 -> (2 + 5/3) / 5
    # recall: items 1,2 -> 2/3; item 3 -> 1/3; items 4,5 -> 1 -> (4/3 + 1/3 + 2) / 5
    precision, recall, _ = bcubed(["g", "g", "g", "h", "h"], [1, 1, 2, 2, 2])
    assert precision == pytest.approx((2 + 5 / 3) / 5) and recall == pytest.approx((4 / 3 + 1 / 3 + 2) / 5)


@pytest.mark.parametrize("gold, pred", [
    (["a", "a", "b", "b"], ["x"] * 4),
    (["a", "a", "b", "b", "c"], [1, 1, 2, 3, 3]),
    (list("aaabbbcc"), [0, 0, 1, 1, 1, 2, 2, 0]),
    (list("abcd"), [1, 1, 1, 1]),
])
def test_adjusted_rand_matches_scikit_learn(gold, pred):
    assert adjusted_rand(gold, pred) == pytest.approx(adjusted_rand_score(gold, pred))


def test_story_metrics_at_corpus_scale_need_no_dense_table():
    # 200 000 items in ~60 000 gold and ~70 000 predicted clusters: a dense table would be 33 GB.
    rng = np.random.default_rng(5)
    gold = rng.integers(0, 60_000, 200_000)
    pred = np.where(rng.random(200_000) < 0.8, gold, rng.integers(60_000, 70_000, 200_000))
    assert adjusted_rand(gold, pred) == pytest.approx(adjusted_rand_score(gold, pred))
    cells, golds, preds = Counter(zip(gold, pred)), Counter(gold), Counter(pred)  # B3 item by item
    expected = (np.mean([cells[g, q] / preds[q] for g, q in zip(gold, pred)]),
                np.mean([cells[g, q] / golds[g] for g, q in zip(gold, pred)]))
    assert bcubed(gold, pred)[:2] == pytest.approx(expected)


def test_adjusted_rand_of_identical_partitions_is_one():
    assert adjusted_rand([1, 1, 2], ["p", "p", "q"]) == 1.0


# --- components ----------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.lists(st.tuples(st.integers(0, 29), st.integers(0, 29)), max_size=40))
def test_components_are_the_connected_parts_in_order_of_first_member(n, edges):
    edges = [(i % n, j % n) for i, j in edges]
    groups = [g.tolist() for g in _components(n, np.array([e[0] for e in edges], dtype=np.int64),
                                              np.array([e[1] for e in edges], dtype=np.int64))]
    seen, expected = set(), []  # breadth first from each unseen node, in node order
    for start in range(n):
        if start in seen:
            continue
        part, todo = {start}, [start]
        while todo:
            x = todo.pop()
            for i, j in edges:
                for a, b in ((i, j), (j, i)):
                    if a == x and b not in part:
                        part.add(b)
                        todo.append(b)
        seen |= part
        expected.append(sorted(part))
    assert groups == expected


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(1, 300), st.integers(0, 40), st.integers(0, 10_000), st.integers(1, 70))
def test_top_k_per_row_agrees_with_sorting_each_row(n, m, k, seed, width):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=(n, m)).astype(np.float32)  # many ties: broken by column
    scores[rng.random((n, m)) < 0.1] = -np.inf
    row, column = _top(scores, k, width)
    expected = [(r, c) for r in range(n) for c in sorted(range(m), key=lambda c: (-scores[r, c], c))[:k]]
    assert list(zip(row.tolist(), column.tolist())) == expected


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 90), st.integers(0, 10_000))
def test_tfidf_gram_is_every_dot_product_on_both_paths(n, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        terms = np.unique(rng.integers(0, 400, size=int(rng.integers(0, 30))))
        rows.append((terms, rng.random(len(terms))))
    expected = np.array([[sum(w * dict(zip(b[0].tolist(), b[1].tolist())).get(t, 0.0) for t, w in zip(*a))
                          for b in rows] for a in rows]).reshape(n, n)
    for dense_below in (0, 1000):  # sparse product, dense product
        assert np.allclose(_tfidf_gram(rows, dense_below), expected)


# --- average linkage -----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 9), st.integers(0, 10_000), st.floats(0.1, 0.8))
def test_average_linkage_agrees_with_the_reference(n, seed, threshold):
    rng = np.random.default_rng(seed)
    sim = rng.random((n, n))
    sim = (sim + sim.T) / 2
    assert average_linkage(sim, threshold).tolist() == average_linkage_reference(sim, threshold).tolist()


def test_average_linkage_does_not_chain():
    # A~B, B~C, C~D are close pairs, A and D unrelated: single linkage would make one cluster.
    sim = np.array([[1, .9, .2, 0], [.9, 1, .6, .1], [.2, .6, 1, .9], [0, .1, .9, 1]], dtype=float)
    labels = average_linkage(sim, 0.5)
    assert labels[0] == labels[1] and labels[2] == labels[3] and labels[0] != labels[2]


def test_small_clusters_join_the_closest_cluster_on_average():
    # Items 0-2 and 3-5 are two clusters; 6 is alone, closer on average to 3-5 (though its
    # single closest item is 0), and 7 is alone and like nothing.
    sim = np.full((8, 8), 0.05)
    sim[np.ix_([0, 1, 2], [0, 1, 2])] = sim[np.ix_([3, 4, 5], [3, 4, 5])] = 0.8
    sim[6, [0, 1, 2]] = sim[[0, 1, 2], 6] = [0.5, 0.0, 0.0]
    sim[6, [3, 4, 5]] = sim[[3, 4, 5], 6] = 0.3
    np.fill_diagonal(sim, 1.0)
    labels = average_linkage(sim, 0.5)
    assert labels.tolist() == [0, 0, 0, 3, 3, 3, 6, 7]
    assert attach_small(sim, labels, 1, 0.2).tolist() == [0, 0, 0, 3, 3, 3, 3, 7]
    assert attach_small(sim, labels, 1, 0.35).tolist() == labels.tolist()  # 0.3 on average: too far
    assert attach_small(sim, labels, 0, 0.2).tolist() == labels.tolist()  # no cluster is that small
    # Smallest first: 6 joins 3-5, then 7, as close to 0-2 as to 3-6, joins the first of them;
    # 0-2 and 3-6 have grown past size 3 by then.
    assert attach_small(sim, labels, 3, 0.01).tolist() == [0, 0, 0, 3, 3, 3, 3, 0]


def attach_small_reference(sim, labels, size, threshold):
    """`attach_small` the slow, obvious way: clusters as lists, means of the submatrices."""
    members = [np.flatnonzero(labels == label) for label in np.unique(labels)]
    merged = True
    while len(members) > 1 and merged:
        merged = False
        members.sort(key=lambda m: (len(m), int(m[0])))
        for a, small in enumerate(members):
            if len(small) > size:
                break
            others = [b for b in range(len(members)) if b != a]
            means = [float(sim[np.ix_(small, members[b])].mean()) for b in others]
            best = int(np.argmax(means))
            if means[best] >= threshold:
                members[others[best]] = np.sort(np.concatenate([members[others[best]], small]))
                del members[a]
                merged = True
                break
    out = np.empty(len(labels), dtype=np.int64)
    for m in members:
        out[m] = m.min()
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 30), st.integers(0, 10_000), st.floats(0.3, 0.8), st.integers(1, 3), st.floats(0.0, 0.6))
def test_attach_small_agrees_with_the_reference(n, seed, linkage, size, threshold):
    rng = np.random.default_rng(seed)
    sim = rng.random((n, n))
    sim = (sim + sim.T) / 2
    labels = average_linkage(sim, linkage)
    assert attach_small(sim, labels, size, threshold).tolist() == attach_small_reference(sim, labels, size, threshold).tolist()


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 12), st.integers(0, 10_000), st.integers(1, 3), st.floats(0.0, 0.6))
def test_attaching_only_ever_merges_small_clusters(n, seed, size, threshold):
    rng = np.random.default_rng(seed)
    sim = rng.random((n, n))
    sim = (sim + sim.T) / 2
    before = average_linkage(sim, 0.6)
    after = attach_small(sim, before, size, threshold)
    for label in np.unique(before):  # clusters are only ever merged, never split
        assert len(set(after[before == label].tolist())) == 1
    for label in np.unique(after):
        parts = np.unique(before[after == label])
        assert label == np.flatnonzero(after == label).min()
        # a merged cluster holds at most one part bigger than `size` (the one the others joined)
        assert sum((before == p).sum() > size for p in parts) <= 1


# --- stories ---------------------------------------------------------------------------------------

TOPICS = {
    "port": "The harbour strike left ships at anchor and dockers picketed the terminal gates.",
    "flood": "The river burst its banks and flooded the valley villages after days of rain.",
    "budget": "The finance minister presented a budget with higher fuel taxes and school spending.",
}


def story_docs():
    docs = []
    for topic, sentence in TOPICS.items():
        for k in range(3):
            words = sentence.split()
            text = f"{topic.title()} news {k}\n\n{sentence} " + " ".join(words[k:] + words[:k]) + ".\n"
            docs.append(segment(Article(id=f"{topic}-{k}", text=text, published=f"2024-01-0{k + 1}")))
    return docs


def test_stories_group_articles_on_one_event():
    stories = cluster_stories(story_docs(), {}, ClusterOptions(semantic_weight=0.0, story_threshold=0.3))
    for topic in TOPICS:
        assert len({stories[f"{topic}-{k}"] for k in range(3)}) == 1
    assert len(set(stories.values())) == 3
    assert stories["port-2"] == "story:port-0"  # named after the earliest member


@settings(max_examples=15, deadline=None)
@given(st.permutations(range(9)))
def test_stories_do_not_depend_on_input_order(order):
    docs = story_docs()
    rng = np.random.default_rng(0)
    vectors = {d.article.id: rng.normal(size=(len(d.body), 16)).astype(np.float32) for d in docs}
    options = ClusterOptions(story_threshold=0.2, semantic_weight=0.5)
    assert cluster_stories([docs[i] for i in order], vectors, options) == cluster_stories(docs, vectors, options)



# Two events of one kind: the same earthquake report, told of two cities. Against a corpus of other
# news every earthquake word is rare, so they look like one story; within their topic those words are
# common and the cities and mayors tell the two apart.
QUAKE = ("A strong earthquake shook the coastal region before dawn, collapsing houses and cutting power, "
         "and rescuers searched the rubble for survivors.")
CITIES = {"lima": "In Lima, Mayor Castillo opened shelters at the Plaza Mayor for families from Callao.",
          "quito": "In Quito, Mayor Moreno opened shelters at the Carolina stadium for families from Cumbaya."}


def quake_docs():
    docs = story_docs()
    words = QUAKE.split()
    for city, line in CITIES.items():
        for k in range(3):
            text = f"Earthquake report {k}\n\n{QUAKE} {' '.join(words[k:] + words[:k])}. {line}\n"
            docs.append(segment(Article(id=f"{city}-{k}", text=text)))
    return docs


def test_the_topic_pass_tells_two_events_of_one_kind_apart():
    two_pass = ClusterOptions(topic_threshold=0.1, story_threshold=0.55)
    stories = cluster_stories(quake_docs(), {}, two_pass)
    for city in CITIES:
        assert len({stories[f"{city}-{k}"] for k in range(3)}) == 1
    assert stories["lima-0"] != stories["quito-0"]
    assert len(set(stories.values())) == 5
    one_pass = cluster_stories(quake_docs(), {}, replace(two_pass, topic_threshold=0.0))
    assert one_pass["lima-0"] == one_pass["quito-0"]  # the corpus IDF alone merges them


def test_local_idf_weighs_what_a_group_shares_least():
    features = _features(quake_docs(), {}, ClusterOptions())
    group = np.array([k for k, i in enumerate(features.ids) if i.split("-")[0] in CITIES])
    corpus = story_similarity(features, group, ClusterOptions())
    local = story_similarity(features, group, ClusterOptions(), local=True)
    lima, quito = np.arange(3), np.arange(3, 6)  # ids sort lima-* before quito-*
    between = np.ix_(lima, quito)
    assert (local[between] < corpus[between] - 0.02).all()
    within = np.ix_(lima, lima)
    assert local[within].mean() - local[between].mean() > corpus[within].mean() - corpus[between].mean()
    assert np.allclose(np.diag(local), 1.0) and np.allclose(local, local.T)


def test_placing_new_articles_keeps_the_stored_stories_and_places_them_as_clustering_would():
    two_pass = ClusterOptions(topic_threshold=0.1, story_threshold=0.55)
    docs = quake_docs()
    everything = cluster_stories(docs, {}, two_pass)
    # One more report of a stored story, and a whole new event of the same kind (Quito's
    # earthquake: its topic is Lima's, its story is not).
    late = {"flood-2", "quito-0", "quito-1", "quito-2"}
    known = cluster_stories([d for d in docs if d.article.id not in late], {}, two_pass)
    placed = place_stories(docs, {}, known, two_pass)
    assert {i: placed[i] for i in known} == known  # stored stories are kept, ids and all
    assert placed["flood-2"] == known["flood-0"]
    assert placed["quito-0"] == placed["quito-1"] == placed["quito-2"] == "story:quito-0" != placed["lima-0"]
    assert placed == everything
    assert place_stories(docs, {}, placed, two_pass) == placed  # nothing new: nothing moves
    # One new report of the Lima story joins it.
    known = cluster_stories([d for d in docs if d.article.id != "lima-2"], {}, two_pass)
    assert place_stories(docs, {}, known, two_pass)["lima-2"] == known["lima-0"] == "story:lima-0"


def test_a_placed_article_unlike_every_story_starts_its_own():
    options = ClusterOptions(semantic_weight=0.0, story_threshold=0.3)
    docs = story_docs()
    known = cluster_stories(docs, {}, options)
    odd = segment(Article(id="odd", text="Odd one\n\nA comet lit the polar sky over the tundra observatory.\n"))
    placed = place_stories([*docs, odd], {}, known, options)
    assert placed["odd"] == "story:odd" and {i: placed[i] for i in known} == known


def test_stories_from_story_terms_are_the_stories_from_documents():
    from wiretrace.fingerprint import story_counts

    docs = quake_docs()
    rng = np.random.default_rng(1)
    vectors = {d.article.id: rng.normal(size=(len(d.body), 8)).astype(np.float32) for d in docs}
    options = ClusterOptions(semantic_weight=0.3)
    terms = [story_counts(d) for d in docs]
    assert cluster_stories(terms, vectors, options) == cluster_stories(docs, vectors, options)
    known = cluster_stories(docs[2:], vectors, options)
    assert place_stories(terms, vectors, known, options) == place_stories(docs, vectors, known, options)
    by_id = {d.article.id: d for d in docs}  # a callable lookup is given the item itself
    assert (cluster_stories(terms, lambda t: vectors[t.article], options)
            == cluster_stories(docs, lambda d: vectors[by_id[d.article.id].article.id], options))


def test_story_features_are_compact_and_do_not_depend_on_input_order():
    docs = quake_docs()
    features = _features(docs, {}, ClusterOptions())
    again = _features(list(reversed(docs)), {}, ClusterOptions())
    assert features.ids == sorted(d.article.id for d in docs) == again.ids
    assert (features.counts != again.counts).nnz == 0 and (features.matrix != again.matrix).nnz == 0
    assert features.counts.indices.dtype == np.int32 and features.counts.data.dtype == np.float32
    assert np.shares_memory(features.matrix.indices, features.counts.indices)  # the TF-IDF rows share the term ids
    assert features.matrix.has_sorted_indices


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(1, 9), st.integers(0, 10_000))
def test_corpus_tfidf_matrix_is_the_row_by_row_tfidf(n, block, seed):
    from scipy import sparse

    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        ids = np.sort(rng.choice(50, size=rng.integers(0, 12), replace=False)).astype(np.int32)
        rows.append((ids, rng.integers(1, 9, size=len(ids)).astype(np.float64)))
    indptr = np.concatenate([[0], np.cumsum([len(r[0]) for r in rows])])
    counts = sparse.csr_matrix((np.concatenate([r[1] for r in rows]).astype(np.float32),
                                np.concatenate([r[0] for r in rows]), indptr), shape=(n, 50))
    matrix = _tfidf_matrix(counts, block=block)
    for k, (ids, weights) in enumerate(_tfidf(rows)):
        start, end = matrix.indptr[k], matrix.indptr[k + 1]
        assert matrix.indices[start:end].tolist() == ids.tolist()
        assert np.allclose(matrix.data[start:end], weights, atol=1e-6)


def test_pair_similarity_in_lots_is_the_story_similarity():
    features = _features(quake_docs(), {}, ClusterOptions())
    n = len(features.ids)
    i, j = (x.ravel() for x in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
    dense = story_similarity(features, np.arange(n), ClusterOptions())
    assert np.allclose(_pair_similarity(features, i, j, ClusterOptions(), lot=7), dense[i, j], atol=1e-6)


def test_neighbour_path_agrees_with_the_dense_path():
    docs = quake_docs()
    options = ClusterOptions(topic_threshold=0.1, story_threshold=0.55)
    dense = cluster_stories(docs, {}, options)
    assert cluster_stories(docs, {}, replace(options, dense_limit=4, neighbours=len(docs))) == dense
    # ... and so does the HNSW graph that finds the neighbours of corpora beyond `ann_above`.
    assert cluster_stories(docs, {}, replace(options, dense_limit=4, neighbours=len(docs) - 1, ann_above=0)) == dense
    # Oversize topics are split by raising the floor on the neighbour edges, never merged.
    small = cluster_stories(docs, {}, replace(options, dense_limit=4, neighbours=len(docs), max_component=2))
    assert len(set(small.values())) >= len(set(dense.values()))
    assert all(sum(s == story for s in small.values()) <= 2 for story in set(small.values()))


def test_hashed_rows_have_the_hash_width_and_a_width_below_one_is_a_config_error():
    from wiretrace.cluster import _hashed
    from wiretrace.errors import ConfigError

    features = _features(quake_docs(), {}, ClusterOptions())
    for width in (1, 16, 128):
        rows = _hashed(features, ClusterOptions(hash_width=width))
        assert rows.shape == (len(features.ids), features.semantic.shape[1] + width)
    with pytest.raises(ConfigError, match="cluster.hash_width"):
        cluster_stories(quake_docs(), {}, ClusterOptions(dense_limit=4, hash_width=0))


def test_hnsw_neighbours_are_nearly_the_exact_ones():
    from wiretrace.cluster import _ann_neighbours, _exact_neighbours

    rng = np.random.default_rng(3)
    centres = rng.normal(size=(25, 48))
    rows = (centres[rng.integers(0, 25, 1500)] + 0.6 * rng.normal(size=(1500, 48))).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)

    def pairs(found):
        return {(int(i), int(j)) for a, b, _ in found for i, j in zip(a, b)}

    exact, ann = pairs(_exact_neighbours(rows, 10, 256)), pairs(_ann_neighbours(rows, 10, block=500))
    assert all(i != j for i, j in ann) and len(ann) <= 10 * len(rows)
    assert len(exact & ann) >= 0.95 * len(exact)
    last = pairs(_ann_neighbours(rows[:501], 10, block=250))  # a last block of one row
    assert {j for i, j in last if i == 500} and all(i != j for i, j in last)


# --- reuse families ------------------------------------------------------------------------------


def pair(derived, source, share, confidence=0.9):
    return Pair(derived, source, "wholly derived" if share >= 0.75 else "partially derived", share, share, confidence)


def test_a_reprint_of_a_reprint_hangs_under_one_parent():
    families = reuse_families([pair("b", "a", 0.95), pair("c", "b", 0.95), pair("c", "a", 0.9)])
    assert len(families) == 1
    family = families[0]
    assert family.root == "a" and family.members == ("a", "b", "c")
    assert [(e.parent, e.child) for e in family.edges] == [("a", "b"), ("b", "c")]


def test_a_composite_keeps_both_sources():
    families = reuse_families([pair("c", "a", 0.5), pair("c", "b", 0.45), pair("d", "a", 0.9)])
    parents = {e.parent for f in families for e in f.edges + f.links if e.child == "c"}
    assert parents == {"a", "b"}


def test_weak_links_do_not_chain_into_one_family():
    # a lent b a third of its text, b lent c a third, c lent d a third: no single lineage.
    pairs = [pair("b", "a", 0.35), pair("c", "b", 0.35), pair("d", "c", 0.35), pair("e", "d", 0.35)]
    families = reuse_families(pairs)
    assert max(f.size for f in families) <= 2
    assert sum(f.size for f in families) >= 4


def test_long_chains_are_cut_at_max_depth():
    ids = [f"n{k}" for k in range(10)]
    pairs = [pair(ids[k + 1], ids[k], 0.99) for k in range(9)]
    families = reuse_families(pairs, ClusterOptions(max_depth=3))
    assert max(f.depth for f in families) <= 3 and max(f.size for f in families) <= 4


def test_pairs_below_min_share_and_not_derived_are_no_edges():
    pairs = [pair("b", "a", 0.1), Pair("c", "a", "not derived", 0.9)]
    assert reuse_families(pairs) == []


@settings(max_examples=20, deadline=None)
@given(st.permutations(range(6)))
def test_families_do_not_depend_on_input_order(order):
    pairs = [pair("b", "a", 0.95), pair("c", "b", 0.9), pair("c", "a", 0.88), pair("d", "a", 0.5),
             pair("d", "e", 0.45), pair("f", "e", 0.8)]
    assert reuse_families([pairs[i] for i in order]) == reuse_families(pairs)


def test_placing_an_article_without_content_words_starts_its_own_story():
    options = ClusterOptions(semantic_weight=0.0, story_threshold=0.3)
    docs = story_docs()
    known = cluster_stories(docs, {}, options)
    empty = segment(Article(id="empty", text="The and of.\n"))
    assert place_stories([*docs, empty], {}, known, options)["empty"] == "story:empty"
