"""Two layers of grouping over articles: stories (same event) and reuse families (same text).

A **story** is the articles about one event. They need not share a sentence: `cluster_stories`
represents each article by the mean of its body-sentence embeddings and a TF-IDF vector of its
content words and names, and joins articles by average-linkage agglomerative clustering over a blend
of the two cosines. Average linkage is the guard against chaining: two groups merge only when their
members are similar *on average*, so a run of pairwise-similar articles A~B~C~D does not become one
story the way single linkage would make it.

Clustering runs twice. The first pass, at the low `topic_threshold`, finds *topics*: groups of
articles on one kind of news (earthquakes, one team's transfers), with the IDF of the whole corpus.
Two events of one kind share most of their vocabulary, and corpus-wide that vocabulary is rare, so
it dominates the cosine and the two events look alike. The second pass therefore recomputes the IDF
from the topic's own articles: the words every article of the topic uses weigh little, and what
separates its events (who, where, which numbers) weighs most; it then clusters the topic into
stories at `story_threshold`. Average linkage leaves an event's shortest or oddest reports on their
own; inside one topic such a stray is far likelier part of one of its stories than a story of its
own, so a story of at most `attach_size` articles joins the topic's story most similar to it on
average when that mean reaches `attach_threshold`. A scan after `add` does not cluster the whole
store again: `place_stories` keeps the stored stories and places the new articles among them.

A **reuse family** is a text lineage: a directed tree from an original to its reprints and rewrites
(and theirs). `reuse_families` builds it from derived pairs (the verdicts of `compare`) with these
rules, each a guard against chaining unrelated articles together:

1. An edge is a pair called derived whose derived_share is at least `min_share`; of two opposite
   pairs between the same articles the one with the more confident direction wins.
2. Edges are taken strongest first (derived_share, then direction confidence, then ids). An
   article keeps at most `max_parents` parents, each within `parent_margin` of its best one (a
   composite of two sources keeps both; a faint third resemblance is dropped).
3. An edge whose text is already explained by a kept path is dropped: a reprint of a reprint hangs
   under the reprint or under the original, whichever it shares more with, not under both.
4. Each article's strongest parent is its *primary* parent; the primary edges form a forest. The
   share of an article's text that comes from the root is estimated as the product of the
   derived_shares along its primary path. An article whose estimate falls below `min_lineage`, or
   that lies more than `max_depth` edges below the root, starts a family of its own: a chain of weak
   links (A lent B a paragraph, B lent C another) is not one lineage.

Both functions are pure and order independent: the input is sorted by article id (and edges by a
total key) before anything else, so shuffling the input gives the same result.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from . import fingerprint as fp
from .errors import ConfigError
from .models import NOT_DERIVED, Comparison, Document, Pair, StoryTerms
from .options import ClusterOptions, Options

__all__ = [
    "Family",
    "FamilyEdge",
    "Pair",
    "as_pair",
    "attach_small",
    "average_linkage",
    "average_linkage_reference",
    "cluster_stories",
    "family_rows",
    "place_stories",
    "reuse_families",
    "story_similarity",
]

STORY_PREFIX = "story:"
_BLOCK_CELLS = 1 << 26  # scores held at once by the neighbour search (float32: 256 MB)


def _options(options: Options | ClusterOptions | None) -> ClusterOptions:
    if options is None:
        return ClusterOptions()
    return options if isinstance(options, ClusterOptions) else options.cluster


# --- stories ---------------------------------------------------------------------------------


@dataclass
class _Features:
    """Per-article story features. Rows are held once, in sparse matrices of 32-bit term ids and
    values (a million articles' terms as Python arrays would cost several times their numbers;
    the two matrices share their term ids); `count_row` and `term_row` read one as (term ids,
    values)."""

    ids: list[str]
    semantic: np.ndarray  # (n, dim) unit rows (zero rows for articles without embeddings)
    counts: sparse.csr_matrix  # weighted term counts, a row per article (sorted term ids)
    vocabulary: int
    days: np.ndarray  # publication day numbers, nan when unknown
    matrix: sparse.csr_matrix  # unit TF-IDF vectors (corpus IDF), a row per article

    def count_row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        ids, values = _row(self.counts, i)
        return ids, values.astype(np.float64)

    def term_row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return _row(self.matrix, i)


def _row(matrix: sparse.csr_matrix, i: int) -> tuple[np.ndarray, np.ndarray]:
    start, end = matrix.indptr[i], matrix.indptr[i + 1]
    return matrix.indices[start:end], matrix.data[start:end]


def _day(value: str) -> float:
    if not value:
        return math.nan
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return math.nan
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp() / 86400.0


def _term_counts(terms: StoryTerms, options: ClusterOptions) -> Counter:
    """An article's weighted term counts: title stems `title_weight` each, body stems once an
    occurrence, names (``@`` + key) `name_weight` for each sentence naming them."""
    counts: Counter = Counter()
    for stem in terms.title:
        counts[stem] += options.title_weight
    counts.update(terms.stems)
    for name, times in terms.names.items():
        counts["@" + name] += options.name_weight * times
    return counts


def _mean_vector(v) -> np.ndarray | None:
    if v is None:
        return None
    v = np.asarray(v, dtype=np.float32)
    return v.mean(axis=0) if v.ndim == 2 and len(v) else None


def _features(docs: Iterable[Document | StoryTerms], vectors, options: ClusterOptions) -> _Features:
    """Per-article features, computed one document (or its `StoryTerms`) at a time (the documents
    are not kept), then put in article-id order so that nothing depends on the order they came
    in. Embeddings are not looked up when `semantic_weight` is 0: nothing would weigh them."""
    if not options.semantic_weight:
        def lookup(item: Document | StoryTerms, article: str) -> None:
            return None
    elif callable(vectors):
        def lookup(item: Document | StoryTerms, article: str) -> np.ndarray | None:
            return vectors(item)
    else:
        def lookup(item: Document | StoryTerms, article: str) -> np.ndarray | None:
            return vectors.get(article)
    terms: dict[str, int] = {}
    term_ids, values = array("i"), array("f")  # every article's terms, end to end (4 bytes each)
    sizes, rows = array("q"), []
    for item in docs:
        found = item if isinstance(item, StoryTerms) else fp.story_counts(item)
        counts = _term_counts(found, options)
        term_ids.extend(terms.setdefault(t, len(terms)) for t in counts)
        values.extend(counts.values())  # sums of small whole weights: exact in 32 bits
        sizes.append(len(counts))
        rows.append((found.article, _mean_vector(lookup(item, found.article)), _day(found.published)))
    ids = [r[0] for r in rows]
    if len(set(ids)) != len(ids):
        raise ValueError("cluster_stories: article ids must be unique")
    by_id = sorted(range(len(rows)), key=ids.__getitem__)
    rows = [rows[k] for k in by_id]
    dim = max((len(r[1]) for r in rows if r[1] is not None), default=1)
    semantic = np.zeros((len(rows), dim), dtype=np.float32)
    for k, r in enumerate(rows):
        if r[1] is not None and len(r[1]) == dim:
            semantic[k] = r[1] / max(float(np.linalg.norm(r[1])), 1e-12)
    # Term ids in sorted-term order, so that they too are independent of the input order.
    order = np.empty(max(len(terms), 1), dtype=np.int32)
    order[[terms[t] for t in sorted(terms)]] = np.arange(len(terms), dtype=np.int32)
    indptr = np.concatenate([[0], np.cumsum(np.frombuffer(sizes, dtype=np.int64))]) if rows else np.zeros(1, np.int64)
    counts = sparse.csr_matrix((np.frombuffer(values, dtype=np.float32), order[np.frombuffer(term_ids, dtype=np.int32)],
                                indptr), shape=(len(rows), max(len(terms), 1)))
    del term_ids, values
    counts = counts[np.asarray(by_id, dtype=np.int64)] if rows else counts
    counts.sort_indices()
    days = np.array([r[2] for r in rows], dtype=np.float64)
    return _Features([r[0] for r in rows], semantic, counts, len(terms), days, _tfidf_matrix(counts))


def _tfidf_matrix(counts: sparse.csr_matrix, block: int = 1 << 16) -> sparse.csr_matrix:
    """`_tfidf` of every row of `counts` (the corpus IDF), as a matrix sharing its term ids; a
    block of rows at a time, so the float64 working copies stay small."""
    n, indptr = counts.shape[0], counts.indptr
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log((1 + n) / (1 + df)) + 1.0
    data = np.empty(counts.nnz, dtype=np.float32)
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        first, last = indptr[lo], indptr[hi]
        weights = np.log1p(counts.data[first:last].astype(np.float64)) * idf[counts.indices[first:last]]
        row = np.repeat(np.arange(hi - lo), np.diff(indptr[lo : hi + 1]))
        norms = np.sqrt(np.bincount(row, weights * weights, minlength=hi - lo))
        data[first:last] = weights / np.maximum(norms, 1e-12)[row]
    return sparse.csr_matrix((data, counts.indices, indptr), shape=counts.shape)


def _tfidf(counts: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Unit TF-IDF vectors (sublinear tf, smoothed IDF) with the IDF taken from these rows only."""
    keys, df = np.unique(np.concatenate([c[0] for c in counts]) if counts else np.zeros(0, np.int64),
                         return_counts=True)
    idf = np.log((1 + len(counts)) / (1 + df)) + 1.0
    out = []
    for ids, values in counts:
        weights = np.log1p(values) * idf[np.searchsorted(keys, ids)]
        out.append((ids, weights / max(float(np.linalg.norm(weights)), 1e-12)))
    return out


def _tfidf_gram(rows: list[tuple[np.ndarray, np.ndarray]], dense_below: int = 64) -> np.ndarray:
    """Dense cosine matrix of sparse unit rows, over the terms they use only: a dense product for
    fewer than `dense_below` rows (scipy's overhead outweighs the work), a sparse one beyond."""
    n = len(rows)
    matrix = _stacked(rows)
    if matrix is None:
        return np.zeros((n, n), dtype=np.float64)
    if n < dense_below:
        block = matrix.toarray()
        return block @ block.T
    return (matrix @ matrix.T).toarray()


def _stacked(rows: list[tuple[np.ndarray, np.ndarray]]) -> sparse.csr_matrix | None:
    """Sparse rows (term ids, values) as one float64 matrix over the terms they use; None when
    they use none."""
    if not sum(len(r[0]) for r in rows):
        return None
    sizes = np.array([len(r[0]) for r in rows], dtype=np.int64)
    _, local = np.unique(np.concatenate([r[0] for r in rows]), return_inverse=True)
    local = local.ravel()
    return sparse.csr_matrix((np.concatenate([r[1] for r in rows]).astype(np.float64), local,
                              np.concatenate([[0], np.cumsum(sizes)])), shape=(len(rows), int(local.max()) + 1))


def _pair_similarity(features: _Features, i: np.ndarray, j: np.ndarray, options: ClusterOptions,
                     lot: int = 1 << 15) -> np.ndarray:
    """The blended similarity of the pairs (i[k], j[k]) (same values as `story_similarity`), `lot`
    pairs at a time (each lot copies both sides' TF-IDF rows)."""
    w = options.semantic_weight
    sim = w * np.einsum("ij,ij->i", features.semantic[i], features.semantic[j]).astype(np.float64)
    lexical = np.zeros(len(i))
    for lo in range(0, len(i), lot):
        x, y = features.matrix[i[lo : lo + lot]], features.matrix[j[lo : lo + lot]]
        lexical[lo : lo + lot] = np.asarray(x.multiply(y).sum(axis=1, dtype=np.float64)).ravel()
    sim += (1.0 - w) * lexical
    return sim * _date_factor(features.days[i], features.days[j], options)


def _date_factor(a: np.ndarray, b: np.ndarray, options: ClusterOptions) -> np.ndarray | float:
    if options.story_days <= 0:
        return 1.0
    with np.errstate(invalid="ignore"):
        far = np.abs(a - b) > options.story_days  # unknown dates (nan) are never far
    return np.where(far, 1.0 - options.date_penalty, 1.0)


def story_similarity(features: _Features, index: np.ndarray, options: ClusterOptions,
                     local: bool = False) -> np.ndarray:
    """The blended similarity of every pair among the articles at positions `index`; `local`:
    with the IDF of those articles instead of the corpus's (the second pass)."""
    w = options.semantic_weight
    sem = features.semantic[index]
    sim = w * (sem @ sem.T).astype(np.float64)
    terms = _tfidf([features.count_row(i) for i in index]) if local else [features.term_row(i) for i in index]
    sim += (1.0 - w) * _tfidf_gram(terms)
    days = features.days[index]
    return sim * _date_factor(days[:, None], days[None, :], options)


def average_linkage(sim: np.ndarray, threshold: float) -> np.ndarray:
    """Average-linkage agglomerative clustering: merge the two clusters with the highest mean
    pairwise similarity while it is at least `threshold`. Returns each item's cluster label, the
    smallest index in its cluster.

    Lance-Williams updates with a cached best neighbour per row: a merged row can only lose
    similarity to a third cluster, so only rows whose best neighbour was merged need a rescan.
    """
    n = len(sim)
    labels = np.arange(n)
    if n < 2:
        return labels
    s = np.array(sim, dtype=np.float64)
    np.fill_diagonal(s, -np.inf)
    size = np.ones(n)
    active = np.ones(n, dtype=bool)
    best, arg = s.max(axis=1), s.argmax(axis=1)
    while True:
        i = int(np.argmax(best))
        if not best[i] >= threshold:
            break
        a, b = sorted((i, int(arg[i])))
        merged = (size[a] * s[a] + size[b] * s[b]) / (size[a] + size[b])
        merged[a] = -np.inf
        s[a], s[:, a] = merged, merged
        s[b], s[:, b] = -np.inf, -np.inf
        size[a] += size[b]
        active[b], best[b] = False, -np.inf
        labels[labels == b] = a
        stale = np.flatnonzero(active & ((arg == a) | (arg == b)))
        stale = np.union1d(stale, [a])
        best[stale], arg[stale] = s[stale].max(axis=1), s[stale].argmax(axis=1)
        better = active & (s[:, a] > best)
        best[better], arg[better] = s[better, a], a
    return labels


def average_linkage_reference(sim: np.ndarray, threshold: float) -> np.ndarray:
    """The slow, obviously correct version of `average_linkage`, for tests."""
    clusters = [[i] for i in range(len(sim))]
    while len(clusters) > 1:
        best, pair = -math.inf, None
        for x in range(len(clusters)):
            for y in range(x + 1, len(clusters)):
                mean = float(np.mean([sim[p][q] for p in clusters[x] for q in clusters[y]]))
                if mean > best:
                    best, pair = mean, (x, y)
        if best < threshold:
            break
        x, y = pair
        clusters[x] = sorted(clusters[x] + clusters[y])
        del clusters[y]
    labels = np.zeros(len(sim), dtype=int)
    for members in clusters:
        labels[members] = min(members)
    return labels


def _components(n: int, i: np.ndarray, j: np.ndarray) -> list[np.ndarray]:
    """Connected components of the graph on 0..n-1 with edges (i[k], j[k]): members ascending,
    components in order of their smallest member."""
    graph = sparse.coo_matrix((np.ones(len(i), dtype=np.int8), (np.asarray(i, np.int64), np.asarray(j, np.int64))),
                              shape=(n, n))
    _, labels = connected_components(graph, directed=False)  # labelled in order of first member
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    return np.split(order, cuts)


def _hashed(features: _Features, options: ClusterOptions, block: int = 1 << 15) -> np.ndarray:
    """Rows whose dot products approximate the blended similarity (TF-IDF by feature hashing)."""
    rng = np.random.default_rng(0)
    width = options.hash_width
    if width < 1:
        raise ConfigError("setting cluster.hash_width must be at least 1")
    bucket = rng.integers(0, width, size=max(features.vocabulary, 1))
    sign = rng.choice([-1.0, 1.0], size=max(features.vocabulary, 1))
    project = sparse.csr_matrix((sign, (np.arange(len(bucket)), bucket)), shape=(len(bucket), width))
    w, n, dim = options.semantic_weight, len(features.ids), features.semantic.shape[1]
    out = np.empty((n, dim + width), dtype=np.float32)
    out[:, :dim] = math.sqrt(w) * features.semantic
    for lo in range(0, n, block):  # a block at a time: the float64 product of all rows would be 2 KB an article
        hashed = (features.matrix[lo : lo + block] @ project).toarray().astype(np.float32)
        out[lo : lo + block, dim:] = math.sqrt(1 - w) * hashed
    return out


def _neighbour_edges(features: _Features, options: ClusterOptions, threshold: float,
                     block: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs among each article's nearest neighbours whose exact similarity reaches `threshold`:
    positions i, j and the similarity. Neighbours by the hashed rows' dot products: every row
    against every other up to `ann_above` articles, an HNSW graph (usearch) beyond it."""
    rows = _hashed(features, options)
    n, k = len(rows), min(options.neighbours, len(rows) - 1)
    found = _ann_neighbours(rows, k) if n > options.ann_above else _exact_neighbours(rows, k, block)
    edges = []
    for i, j, approx in found:
        # The hashed estimate is rough: only clearly hopeless pairs are skipped before the exact score.
        close = approx >= threshold - 0.15
        i, j = i[close], j[close]
        sim = _pair_similarity(features, i, j, options)
        hit = sim >= threshold
        edges.append((i[hit], j[hit], sim[hit]))
    if not edges:
        return np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0)
    return tuple(np.concatenate([e[x] for e in edges]) for x in range(3))


def _exact_neighbours(rows: np.ndarray, k: int, block: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(i, j, dot product) of each row's `k` highest dot products with the other rows, a block of
    rows at a time."""
    n = len(rows)
    block = max(64, min(block, _BLOCK_CELLS // max(n, 1)))  # the score buffer stays near 256 MB
    # One score buffer for all blocks: a fresh (block, n) array each time would be paged in
    # anew, which costs more than the scoring itself on large corpora.
    buffer = np.empty((min(block, n), n), dtype=rows.dtype)
    for lo in range(0, n, block):
        approx = buffer[: min(block, n - lo)]
        np.matmul(rows[lo : lo + block], rows.T, out=approx)
        diagonal = np.arange(len(approx))
        approx[diagonal, lo + diagonal] = -np.inf
        i, j = _top(approx, k)
        yield i + lo, j, approx[i, j]


def _ann_neighbours(rows: np.ndarray, k: int, block: int = 1 << 16) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The same as `_exact_neighbours`, approximately, from an HNSW graph of the rows (usearch,
    inner product): about n log n work instead of n squared, for corpora of millions."""
    from usearch.index import Index

    # Half precision and a sparse graph: the rough hashed scores are re-scored exactly anyway.
    index = Index(ndim=rows.shape[1], metric="ip", dtype="f16", connectivity=16, expansion_add=64, expansion_search=64)
    index.add(np.arange(len(rows), dtype=np.uint64), rows)
    for lo in range(0, len(rows), block):
        found = index.search(rows[lo : lo + block], k + 1)
        keys, distances = np.atleast_2d(found.keys).astype(np.int64), np.atleast_2d(found.distances)
        # One query row gives usearch's single-query result, which has no `counts`.
        counts = np.atleast_1d(found.counts) if hasattr(found, "counts") else np.array([keys.shape[1]])
        i = np.repeat(np.arange(lo, lo + len(keys)), keys.shape[1]).reshape(keys.shape)
        keep = (keys != i) & (keys >= 0) & (np.arange(keys.shape[1]) < counts[:, None])
        i, j = i[keep], keys[keep]
        approx = 1.0 - distances[keep]
        order = np.lexsort((j, -approx, i))  # per row, the best first; then at most k of them
        i, j, approx = i[order], j[order], approx[order]
        starts = np.searchsorted(i, np.arange(lo, lo + len(keys)))
        first = np.arange(len(i)) - starts[i - lo] < k
        yield i[first], j[first], approx[first]


def _top(scores: np.ndarray, k: int, width: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of the `k` highest scores of each row (ties to the lower column), without
    partitioning whole rows: the k-th highest of the maxima of `width`-column slices is a floor
    that every one of a row's top k reaches, and only the slices whose maximum reaches it (about
    k a row) are read again."""
    n, m = scores.shape
    if k <= 0 or not m:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    maxima = np.maximum.reduceat(scores, np.arange(0, m, width), axis=1)
    if maxima.shape[1] > k:
        floor = -np.partition(-maxima, k - 1, axis=1)[:, k - 1]
    else:  # fewer slices than k: every score may be among the top k
        floor = np.full(n, -np.inf, dtype=scores.dtype)
    row, piece = np.nonzero(maxima >= floor[:, None])  # row by row, slices in column order
    column = piece[:, None] * width + np.arange(width)
    inside = column < m  # the last slice may be narrower
    column = np.minimum(column, m - 1)
    hit = inside & (scores[row[:, None], column] >= floor[row][:, None])
    row, column = np.broadcast_to(row[:, None], column.shape)[hit], column[hit]
    order = np.lexsort((column, -scores[row, column], row))
    row, column = row[order], column[order]
    starts = np.searchsorted(row, np.arange(n))
    keep = np.arange(len(row)) - starts[row] < k
    return row[keep], column[keep]


def _sparse_split(n: int, edges: tuple[np.ndarray, np.ndarray, np.ndarray], floor: float,
                  limit: int) -> list[np.ndarray]:
    """Components of the graph of `edges` at `floor`, oversize ones split by raising the floor:
    the same as `_split`, on the neighbour edges only (never a dense matrix of a whole component)."""
    i, j, sim = edges
    out, todo = [], [(np.arange(n), floor)]
    while todo:
        index, level = todo.pop()
        local = np.full(n, -1)
        local[index] = np.arange(len(index))
        keep = (local[i] >= 0) & (local[j] >= 0) & (sim >= level)
        for g in _components(len(index), local[i[keep]], local[j[keep]]):
            if len(g) > limit:
                todo.append((index[g], level + 0.05))
            else:
                out.append(index[g])
    return sorted(out, key=lambda g: int(g[0]))


def _split(features: _Features, index: np.ndarray, options: ClusterOptions, floor: float) -> list[np.ndarray]:
    """Components of `index` linked at `floor`, oversize ones split by raising the floor."""
    sim = story_similarity(features, index, options)
    while True:
        links = np.argwhere(np.triu(sim >= floor, 1))
        groups = _components(len(index), links[:, 0], links[:, 1])
        if max(len(g) for g in groups) <= options.max_component:
            return [index[g] for g in groups]
        floor += 0.05


def cluster_stories(docs: Iterable[Document | StoryTerms], vectors: Mapping[str, np.ndarray] | Callable,
                    options: Options | ClusterOptions | None = None) -> dict[str, str]:
    """Article id -> story id, for every article in `docs` (documents, or their `StoryTerms` as
    a store keeps them).

    `vectors` maps article ids to their body-sentence embedding matrices, or is a function of the
    item of `docs` that returns it (missing or empty: the article is placed by its words alone).
    `docs` may be a stream: only per-article features are kept. A story's id is ``"story:"`` + the id of its earliest
    published member (unknown dates last, ties by id): stable when unrelated articles are added.
    """
    options = _options(options)
    features = _features(docs, vectors, options)
    out: dict[str, str] = {}
    for members in _stories(features, options):
        story = STORY_PREFIX + features.ids[_earliest(features, members)]
        out.update((features.ids[m], story) for m in members)
    return out


def _stories(features: _Features, options: ClusterOptions) -> list[np.ndarray]:
    """The stories (members' positions) of `cluster_stories`: topics, then stories inside each."""
    if not features.ids:
        return []
    two_pass = 0 < options.topic_threshold < options.story_threshold
    floor = options.topic_threshold if two_pass else options.story_threshold
    out = []
    for group in _clusters(features, _groups(features, options, floor), options, floor, local=False):
        out.extend(_clusters(features, [group], options, options.story_threshold, local=True) if two_pass else [group])
    return out


def place_stories(docs: Iterable[Document | StoryTerms], vectors: Mapping[str, np.ndarray] | Callable,
                  known: Mapping[str, str], options: Options | ClusterOptions | None = None) -> dict[str, str]:
    """Article id -> story id for every article in `docs`, where `known` holds the stories an
    earlier `cluster_stories` gave the articles it saw: those keep them, and the others are
    placed among them as that clustering would have placed them.

    The new articles are clustered among themselves first (`cluster_stories` on them alone, the
    corpus IDF from every article, nothing attached): a new event's reports stay together
    rather than each joining a stored story of the same kind. A member more similar to a stored
    story than to the rest of its group (at the corpus IDF), and similar enough to join it on its
    own, joins it alone. What is left of each group then joins the stored story it is most
    similar to on average, as average linkage merges clusters: among its members' nearest
    articles' stories (hashed rows, then exact scores, as the neighbour search finds them), those
    it shares a topic with (mean similarity at the corpus IDF reaching `topic_threshold`), with
    the IDF of those stories' articles and its own, when the mean reaches `story_threshold`, or
    `attach_threshold` for a group of at most `attach_size` articles. Otherwise it is a story of
    its own, named after its earliest member.

    The work grows with the new articles, not the store (beyond reading every article's terms
    once: a store keeps them, `Store.iter_story_terms`), and stored story ids are kept, even when an article published earlier joins. The
    result can differ from clustering everything again (`cluster_stories`); `eval ecbplus`
    measures both."""
    options = _options(options)
    features = _features(docs, vectors, options)
    story = [known.get(i) for i in features.ids]
    new = np.array([k for k, s in enumerate(story) if s is None], dtype=np.intp)
    if not len(new):
        return dict(zip(features.ids, story))
    members: dict[str, list[int]] = defaultdict(list)
    for k, s in enumerate(story):
        if s is not None:
            members[s].append(k)
    two_pass = 0 < options.topic_threshold < options.story_threshold
    floor = options.topic_threshold if two_pass else options.story_threshold
    near = _nearest(features, new, options, floor)
    stored = list(story)  # the candidates: stories placed into, never the new groups' own

    def candidates(group) -> list[str]:
        return sorted({stored[j] for k in group for j in near.get(int(k), ()) if stored[j] is not None})

    def best(group, names: list[str], bar: float) -> str | None:
        found = _best_story(features, np.asarray(group), [np.asarray(members[s]) for s in names], options,
                            floor, bar, two_pass) if names else None
        return None if found is None else names[found]

    def join(group, name: str) -> None:
        for k in group:
            story[k] = name
        members[name].extend(int(k) for k in group)

    groups = [new[g] for g in _stories(_subset(features, new), replace(options, attach_size=0))]
    for group in sorted(groups, key=lambda g: _arrival(features, _earliest(features, g))):
        if len(group) > 1:
            rest = []
            for k in group:
                name = best([k], candidates([k]), options.story_threshold)
                if name is not None and _mean(features, k, members[name], options) >= _mean(
                        features, k, [x for x in group if x != k], options):
                    join([k], name)
                else:
                    rest.append(k)
            group = np.asarray(rest, dtype=np.intp)
            if not len(group):
                continue
        small = two_pass and 0 < len(group) <= options.attach_size
        name = best(group, candidates(group), min(options.story_threshold, options.attach_threshold)
                    if small else options.story_threshold)
        join(group, name or STORY_PREFIX + features.ids[_earliest(features, group)])
    return dict(zip(features.ids, story))


def _mean(features: _Features, k: int, others, options: ClusterOptions) -> float:
    """Mean similarity (corpus IDF) of article `k` to the articles at positions `others`."""
    others = np.asarray(others, dtype=np.intp)
    return float(_pair_similarity(features, np.full(len(others), k), others, options).mean())


def _subset(features: _Features, index: np.ndarray) -> _Features:
    """The features of the articles at positions `index` (ascending), with the corpus's IDF."""
    return _Features([features.ids[k] for k in index], features.semantic[index], features.counts[index],
                     features.vocabulary, features.days[index], features.matrix[index])


def _arrival(features: _Features, k: int) -> tuple:
    """Publication order: by day (unknown last), then id."""
    day = features.days[k]
    return (math.isnan(day), 0.0 if math.isnan(day) else day, features.ids[k])


def _earliest(features: _Features, members: np.ndarray) -> int:
    return min((int(m) for m in members), key=lambda m: _arrival(features, m))


def _nearest(features: _Features, rows_of: np.ndarray, options: ClusterOptions, floor: float,
             block: int = 1024) -> dict[int, np.ndarray]:
    """Position -> its nearest articles (positions) whose exact similarity reaches `floor`, for
    the positions `rows_of`: each against every article by the hashed rows, then re-scored."""
    rows = _hashed(features, options)
    k = min(options.neighbours, len(rows) - 1)
    out: dict[int, np.ndarray] = {}
    if k <= 0:
        return out
    block = max(1, min(block, _BLOCK_CELLS // len(rows)))  # the scores held at once stay near 256 MB
    for lo in range(0, len(rows_of), block):
        mine = rows_of[lo : lo + block]
        approx = rows[mine] @ rows.T
        approx[np.arange(len(mine)), mine] = -np.inf
        r, j = _top(approx, k)
        close = approx[r, j] >= floor - 0.15  # the same rough pre-filter as the neighbour search
        i, j = mine[r[close]], j[close]
        hit = _pair_similarity(features, i, j, options) >= floor
        i, j = i[hit], j[hit]
        for position in np.unique(i):
            out[int(position)] = j[i == position]
    return out


def _best_story(features: _Features, group: np.ndarray, stories: list[np.ndarray], options: ClusterOptions,
                floor: float, bar: float, two_pass: bool) -> int | None:
    """Which of `stories` (members' positions) the new articles `group` join, if any (see
    `place_stories`)."""
    means = [float(_pair_similarity(features, np.repeat(group, len(m)), np.tile(m, len(group)), options).mean())
             for m in stories]
    topic = [x for x, mean in enumerate(means) if mean >= floor]
    if not topic:
        return None
    if two_pass:  # inside the topic, the IDF of these articles alone, as the second pass weighs them
        index = np.concatenate([group, *(stories[x] for x in topic)])
        matrix = _stacked(_tfidf([features.count_row(i) for i in index]))
        if matrix is None:  # no content words anywhere: nothing to join by
            return None
        w, sem, days = options.semantic_weight, features.semantic[index], features.days[index]
        n = len(group)
        sim = (1.0 - w) * (matrix[:n] @ matrix[n:].T).toarray() + w * (sem[:n] @ sem[n:].T).astype(np.float64)
        sim *= _date_factor(days[:n, None], days[None, n:], options)
        cuts = np.cumsum([len(stories[x]) for x in topic])[:-1]
        means = [float(part.mean()) for part in np.split(sim, cuts, axis=1)]
    else:
        means = [means[x] for x in topic]
    best = int(np.argmax(means))  # the first of equal means: stories in id order
    return topic[best] if means[best] >= bar else None


def _groups(features: _Features, options: ClusterOptions, floor: float) -> list[np.ndarray]:
    """Groups of articles linked at `floor`, each small enough to cluster with a dense matrix:
    every pair compared up to `dense_limit` articles, nearest neighbours only beyond it."""
    n = len(features.ids)
    if n <= options.dense_limit:
        return _split(features, np.arange(n), options, floor)
    return _sparse_split(n, _neighbour_edges(features, options, floor), floor, options.max_component)


def _clusters(features: _Features, groups: list[np.ndarray], options: ClusterOptions, threshold: float,
              local: bool) -> list[np.ndarray]:
    """Average-linkage clusters at `threshold` inside each group (positions, ascending); in the
    second pass (`local`) small ones are then attached (`attach_small`)."""
    out = []
    for group in groups:
        if len(group) < 2:
            out.append(group)
            continue
        sim = story_similarity(features, group, options, local)
        labels = average_linkage(sim, threshold)
        if local and options.attach_size > 0:
            labels = attach_small(sim, labels, options.attach_size, options.attach_threshold)
        out.extend(group[labels == label] for label in np.unique(labels))
    return out


def attach_small(sim: np.ndarray, labels: np.ndarray, size: int, threshold: float) -> np.ndarray:
    """Clusters of at most `size` items joined to the cluster of highest mean similarity to them,
    when that mean is at least `threshold`: of the clusters by (size, first item), the first small
    one that can join the first of its best targets does, and so on until none can. Average linkage
    leaves an event's shortest or oddest reports on their own: inside one topic, a lone article is
    far likelier a stray of one of its stories than a story of its own. Returns labels as
    `average_linkage` gives them (the smallest index of each cluster).

    Cluster-to-cluster sums of `sim` are kept and merged, so a step costs one pass over the
    small clusters' rows, not over the items."""
    n = len(labels)
    _, cluster = np.unique(labels, return_inverse=True)
    cluster = cluster.ravel()
    c = int(cluster.max()) + 1 if n else 0
    onehot = sparse.csr_matrix((np.ones(n), (np.arange(n), cluster)), shape=(n, c))
    total = np.asarray((onehot.T @ np.asarray(sim, dtype=np.float64)) @ onehot)  # (c, c) sums
    count = np.bincount(cluster, minlength=c).astype(np.float64)
    first = np.full(c, n, dtype=np.int64)
    np.minimum.at(first, cluster, np.arange(n))
    alive = np.ones(c, dtype=bool)
    while alive.sum() > 1:
        live = np.flatnonzero(alive)
        order = live[np.lexsort((first[live], count[live]))]
        small = order[count[order] <= size]
        if not len(small):
            break
        means = total[np.ix_(small, order)] / (count[small, None] * count[None, order])
        means[small[:, None] == order[None, :]] = -np.inf
        best = means.argmax(axis=1)  # the first of equal means in (size, first item) order
        ok = means[np.arange(len(small)), best] >= threshold
        if not ok.any():
            break
        k = int(np.argmax(ok))
        a, target = small[k], order[best[k]]
        total[target] += total[a]
        total[:, target] += total[:, a]
        count[target] += count[a]
        first[target] = min(first[target], first[a])
        alive[a] = False
        cluster[cluster == a] = target
    return first[cluster]


# --- reuse families --------------------------------------------------------------------------


def as_pair(item: Pair | Comparison | Mapping) -> Pair:
    """A `Pair` from a `Comparison`, a `compare --json` object, a store row or a `Pair`."""
    if isinstance(item, Pair):
        return item
    if isinstance(item, Comparison):
        v = item.verdict
        return Pair(item.derived.article.id, item.source.article.id, v.verdict, v.derived_share,
                    v.source_share, v.direction.confidence, v.credited)

    derived, source = item["derived"], item["source"]
    confidence = item.get("confidence")
    if confidence is None and isinstance(item.get("direction"), Mapping):
        confidence = item["direction"].get("confidence")
    return Pair(derived if type(derived) is str else _ident(derived), source if type(source) is str else _ident(source),
                str(item["verdict"]), float(item["derived_share"]), float(item.get("source_share") or 0.0),
                1.0 if confidence is None else float(confidence), bool(item.get("credited", False)))


def _ident(x) -> str:
    return x["id"] if isinstance(x, Mapping) else str(x)


@dataclass(frozen=True)
class FamilyEdge:
    parent: str  # the source
    child: str  # the article written from it
    derived_share: float
    verdict: str
    confidence: float
    primary: bool  # the child's strongest parent (the tree edge); False: a second source
    credited: bool = False

    def to_dict(self) -> dict:
        return {"parent": self.parent, "child": self.child, "derived_share": round(self.derived_share, 4),
                "verdict": self.verdict, "confidence": round(self.confidence, 3), "primary": self.primary,
                "credited": self.credited}


@dataclass(frozen=True)
class Family:
    """A text lineage of two or more articles: `root` is the original, `edges` the parent links
    inside the family (the primary ones form a tree from the root), `links` the parent links that
    come from outside it (a second source in another family, or where this family split off)."""

    id: str  # == root
    root: str
    members: tuple[str, ...]  # sorted
    edges: tuple[FamilyEdge, ...]  # sorted by (child, parent)
    links: tuple[FamilyEdge, ...]  # sorted by (child, parent)
    depth: int  # longest primary path from the root

    @property
    def size(self) -> int:
        return len(self.members)

    def to_dict(self) -> dict:
        return {"id": self.id, "root": self.root, "size": self.size, "depth": self.depth,
                "members": list(self.members), "edges": [e.to_dict() for e in self.edges],
                "links": [e.to_dict() for e in self.links]}


def _strength(p: Pair) -> tuple:
    return (-p.derived_share, -p.confidence, p.derived, p.source)


def _edges(pairs: Iterable, options: ClusterOptions) -> list[Pair]:
    """Rule 1: derived pairs over `min_share`, one per article pair, strongest first."""
    best: dict[tuple[str, str], Pair] = {}
    for item in pairs:
        p = as_pair(item)
        if p.verdict == NOT_DERIVED or p.derived_share < options.min_share or p.derived == p.source:
            continue
        key = (p.derived, p.source) if p.derived < p.source else (p.source, p.derived)
        kept = best.get(key)
        if kept is None or (-p.confidence, _strength(p)) < (-kept.confidence, _strength(kept)):
            best[key] = p
    return sorted(best.values(), key=_strength)


def _ancestors(node: str, parents: Mapping[str, list[Pair]]) -> set[str]:
    seen, todo = set(), [node]
    while todo:
        for p in parents.get(todo.pop(), ()):
            if p.source not in seen:
                seen.add(p.source)
                todo.append(p.source)
    return seen


def _choose_parents(edges: list[Pair], options: ClusterOptions) -> dict[str, list[Pair]]:
    """Rules 2 and 3: child -> kept parent pairs, strongest first."""
    parents: dict[str, list[Pair]] = defaultdict(list)
    for e in edges:
        kept = parents[e.derived]
        if len(kept) >= options.max_parents or (kept and e.derived_share < kept[0].derived_share - options.parent_margin):
            continue
        up = _ancestors(e.source, parents)
        if e.derived in up:  # would close a cycle
            continue
        if e.source in _ancestors(e.derived, parents) or any(k.source in up for k in kept):
            continue  # already explained by a kept path (rule 3)
        kept.append(e)
    # An edge taken later can make an earlier pair of parents related (the second source turns out
    # to be a reprint of the first): drop the weaker of related parents.
    for child in sorted(parents):
        kept = parents[child]
        out: list[Pair] = []
        for e in kept:
            up = _ancestors(e.source, parents)
            if not any(k.source in up or e.source in _ancestors(k.source, parents) for k in out):
                out.append(e)
        parents[child] = out
    return {c: ps for c, ps in parents.items() if ps}


def reuse_families(pairs: Iterable[Pair | Comparison | Mapping],
                   options: Options | ClusterOptions | None = None) -> list[Family]:
    """Lineage trees from derived pairs (see the module docstring for the rules), largest first."""
    options = _options(options)
    parents = _choose_parents(_edges(pairs, options), options)
    children: dict[str, list[str]] = defaultdict(list)
    for child in sorted(parents):
        children[parents[child][0].source].append(child)
    nodes = set(parents) | set(children)
    roots = sorted(n for n in nodes if n not in parents)
    family_of: dict[str, str] = {}
    depth_in: dict[str, int] = {}
    todo = [(r, r, 1.0, 0) for r in reversed(roots)]
    while todo:  # depth first, children in id order: deterministic
        node, root, lineage, depth = todo.pop()
        family_of[node], depth_in[node] = root, depth
        for child in reversed(children.get(node, [])):
            share = parents[child][0].derived_share
            if lineage * share < options.min_lineage or depth + 1 > options.max_depth:
                todo.append((child, child, 1.0, 0))  # rule 4: starts its own family
            else:
                todo.append((child, root, lineage * share, depth + 1))
    members: dict[str, list[str]] = defaultdict(list)
    for node in sorted(family_of):
        members[family_of[node]].append(node)
    families = []
    for root, ids in members.items():
        if len(ids) < 2:
            continue  # a lone article split off a chain: its pair is still in the store
        inside = set(ids)
        edges = sorted(
            (FamilyEdge(p.source, p.derived, p.derived_share, p.verdict, p.confidence, k == 0, p.credited)
             for child in ids for k, p in enumerate(parents.get(child, []))),
            key=lambda e: (e.child, e.parent),
        )
        families.append(Family(root, root, tuple(ids), tuple(e for e in edges if e.parent in inside),
                               tuple(e for e in edges if e.parent not in inside),
                               max(depth_in[i] for i in ids)))
    return sorted(families, key=lambda f: (-f.size, f.id))


def family_rows(families: Iterable[Family]) -> list[tuple[str, str, dict]]:
    """``(parent, child, data)`` rows for `Store.save_families`: the edges inside each family, so
    that the store's connected groups are exactly these families (links between families stay in
    the pairs table)."""
    return [(e.parent, e.child, {**e.to_dict(), "family": f.id}) for f in families for e in f.edges]
