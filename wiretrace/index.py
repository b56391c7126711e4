"""Candidate retrieval: the few stored articles worth aligning in full with a given article.

Two kinds of evidence, merged and ranked:

* **lexical** — MinHash signatures of the body's word 3-gram shingles (`minhash`), found through
  LSH banding. With `num_perm` = 128 split into 64 bands of 2 rows, a pair with Jaccard J
  lands in a shared bucket with probability 1 - (1 - J²)⁶⁴: 0.998 at J = 0.3 (the overlap of real
  rewrites), 0.93 at J = 0.2, 0.47 at J = 0.1. The many chance collisions this lets in are dropped
  by the full-signature Jaccard estimate (`min_jaccard`), and buckets shared by more than
  `bucket_cap` articles (boilerplate, stock phrases) are skipped.
* **semantic** — nearest neighbours of each body sentence's embedding among all stored sentences
  (usearch HNSW, cosine, i8 quantisation); an article scores the share of the query's sentences
  that have a neighbour in it at cosine >= `min_cosine`. This finds paraphrases that share few
  word 3-grams.

`query` asks for one article's candidates; `pairs` answers the same question for many stored
articles at once (what `scan` needs): every bucket collision of every row is found in one pass over
the sorted band keys, estimated, filtered and ranked in numpy, giving exactly what `query` would.
`exact_candidates` is the slow, obviously correct reference for the lexical part: exact Jaccard
against every stored article.

The sentence index is saved beside the store (``<db>.usearch`` and ``<db>.usearch.json``), written
then renamed; on open, articles added or replaced since it was saved are caught up from the store.
"""

from __future__ import annotations

import json
import os
import weakref
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from . import fingerprint as fp
from .errors import ConfigError
from .minhash import _MIX, EMPTY as _EMPTY, _mix, body_text, jaccard_estimate, minhash, shingle_hashes, signature
from .minhash import signatures
from .models import Document
from .options import IndexOptions, Options

__all__ = ["Candidate", "CandidateIndex", "CandidatePairs", "Filters", "body_text", "exact_candidates", "jaccard",
           "jaccard_estimate", "minhash", "shingle_hashes", "signature", "signatures"]

_MAX_SENTENCES = 1 << 12  # sentence slots per article in the usearch key space (key = row << 12 | j)


@dataclass(frozen=True)
class Candidate:
    id: str
    lexical: float  # estimated Jaccard of body word 3-grams (0 when only the semantic part found it)
    semantic: float  # share of the query's body sentences with a close neighbour in this article
    score: float  # what candidates are ranked by: max(lexical, semantic)


@dataclass(frozen=True, eq=False)
class CandidatePairs:
    """What `CandidateIndex.pairs` found: parallel arrays of index rows and scores, each query's
    candidates together and best first."""

    ids: Sequence[str]  # the index's id of each row
    query: np.ndarray
    row: np.ndarray
    lexical: np.ndarray
    semantic: np.ndarray

    @classmethod
    def top(cls, ids: Sequence[str], q: np.ndarray, r: np.ndarray, lex: np.ndarray, sem: np.ndarray,
            k: int, rank: np.ndarray | None = None) -> CandidatePairs:
        """The best `k` of each query's pairs by (-score, id), as `CandidateIndex.query` ranks them
        (`rank`: each row's place in id order, `_id_ranks(ids)`, when the caller has it)."""
        rank = _id_ranks(ids) if rank is None else rank
        order = np.lexsort((rank[r], -np.maximum(lex, sem), q))
        q, r, lex, sem = q[order], r[order], lex[order], sem[order]
        starts = np.flatnonzero(np.concatenate([[True], q[1:] != q[:-1]])) if len(q) else np.zeros(0, np.int64)
        keep = _ranges(np.diff(np.append(starts, len(q)))) < k
        return cls(ids, q[keep], r[keep], lex[keep], sem[keep])

    def __len__(self) -> int:
        return len(self.query)

    def by_query(self) -> dict[str, list[Candidate]]:
        found: dict[str, list[Candidate]] = {}
        rows = zip(self.query.tolist(), self.row.tolist(), self.lexical.tolist(), self.semantic.tolist())
        for q, r, lex, sem in rows:
            found.setdefault(self.ids[q], []).append(Candidate(self.ids[r], lex, sem, max(lex, sem)))
        return found

    def codes(self) -> np.ndarray:
        """Every pair once, as ``min(row) * len(ids) + max(row)``, ascending (`as_ids` reads them)."""
        return _unique(np.minimum(self.query, self.row) * len(self.ids) + np.maximum(self.query, self.row))

    def unordered(self) -> set[tuple[str, str]]:
        """Every pair once, as a sorted tuple of ids."""
        return set(as_ids(self.codes(), self.ids))


def as_ids(codes: np.ndarray, ids: Sequence[str]) -> list[tuple[str, str]]:
    """The pairs of `CandidatePairs.codes` (of an index whose rows are `ids`) as sorted tuples of ids."""
    n = len(ids)
    table = np.asarray(ids, dtype=object)
    a, b = table[codes // n], table[codes % n]
    first = a < b
    return list(zip(np.where(first, a, b).tolist(), np.where(first, b, a).tolist()))


def _id_ranks(ids: Sequence[str]) -> np.ndarray:
    rank = np.empty(len(ids), dtype=np.int64)
    rank[sorted(range(len(ids)), key=ids.__getitem__)] = np.arange(len(ids))
    return rank


def _merge(n: int, lexical: tuple, semantic: tuple) -> tuple[np.ndarray, ...]:
    """(query, row, lexical, semantic) for every pair either part found (0 for the other part)."""
    if not len(semantic[0]):  # the lexical pairs are distinct already
        return lexical[0], lexical[1], lexical[2], np.zeros(len(lexical[0]))
    q = np.concatenate([lexical[0], semantic[0]]).astype(np.int64)
    r = np.concatenate([lexical[1], semantic[1]]).astype(np.int64)
    pair, inverse = np.unique(q * n + r, return_inverse=True)
    lex, sem = np.zeros(len(pair)), np.zeros(len(pair))
    lex[inverse[: len(lexical[0])]] = lexical[2]
    sem[inverse[len(lexical[0]) :]] = semantic[2]
    return pair // n, pair % n, lex, sem


@dataclass(frozen=True)
class Filters:
    """Which stored articles may be candidates. Dates are ISO strings compared by their date part;
    `window` (days) bounds candidates to that many days either side of the query article's date."""

    since: str = ""
    until: str = ""
    window: float | None = None
    outlets: tuple[str, ...] = ()  # only these outlets (all when empty)
    exclude_outlets: tuple[str, ...] = ()

    def around(self, published: str) -> Filters:
        """These filters with `window` turned into since/until around `published`."""
        if self.window is None or not published:
            return self
        try:
            day = date.fromisoformat(published[:10])
        except ValueError:
            return self
        span = timedelta(days=self.window)
        since, until = (day - span).isoformat(), (day + span).isoformat()
        return Filters(max(self.since, since), min(self.until or until, until), None, self.outlets,
                       self.exclude_outlets)

    def allows(self, outlet: str, published: str) -> bool:
        if self.outlets and outlet not in self.outlets:
            return False
        if outlet in self.exclude_outlets:
            return False
        day = published[:10]
        if (self.since or self.until) and not day:
            return False  # undated articles cannot be shown to fall inside a time window
        return not (self.since and day < self.since[:10]) and not (self.until and day > self.until[:10])


# --- exact reference --------------------------------------------------------------------------


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def exact_candidates(doc: Document, docs: Iterable[Document], threshold: float, n: int = 3) -> list[tuple[str, float]]:
    """Reference: ``(id, exact Jaccard)`` of every document at or above `threshold`, best first."""
    mine = fp.shingles(body_text(doc), n) if doc.body else set()
    found = [(d.article.id, jaccard(mine, fp.shingles(body_text(d), n) if d.body else set())) for d in docs]
    return sorted(((i, j) for i, j in found if j >= threshold and i != doc.article.id), key=lambda x: (-x[1], x[0]))


# --- the index -------------------------------------------------------------------------------------


def _unique(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values (np.unique without its hash table, which is slower on large
    integer arrays)."""
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if len(values) else values


def _ranges(sizes: np.ndarray) -> np.ndarray:
    """0, 1, ..., size - 1 for each size, concatenated."""
    sizes = np.asarray(sizes, dtype=np.int64)
    return np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)


class _Bands:
    """LSH buckets as one sorted array: each row's band keys, tagged with the band number in the
    top 8 bits (the key keeps its top 56), sorted together with their rows. A bucket is a run of
    equal tagged keys; all of a query's buckets are found by one vectorised binary search."""

    def __init__(self, signatures: np.ndarray, bands: int, rows: int):
        if bands > 256:
            raise ValueError("index.bands must be at most 256 (the band number takes 8 bits of a key)")
        self.bands, self.rows = bands, rows
        tagged = self.tagged(self.keys(signatures))  # (N, bands)
        flat = tagged.T.ravel()  # band-major: all of band 0, then band 1, ...
        order = np.argsort(flat, kind="stable")
        self.sorted = flat[order]
        self.count = max(len(tagged), 1)
        self.owners = (order % self.count).astype(np.int64)  # the row each sorted key belongs to

    def keys(self, signatures: np.ndarray) -> np.ndarray:
        """(N, bands) band keys: each band's `rows` signature values hashed together."""
        sig = np.atleast_2d(signatures).astype(np.uint64)[:, : self.bands * self.rows]
        grouped = sig.reshape(len(sig), self.bands, self.rows)
        h = np.zeros(grouped.shape[:2], dtype=np.uint64)
        for r in range(self.rows):
            h = _mix(h + grouped[:, :, r] * _MIX[r % len(_MIX)])
        return h

    def tagged(self, keys: np.ndarray) -> np.ndarray:
        band = np.arange(self.bands, dtype=np.uint64) << np.uint64(56)
        return band | (keys >> np.uint64(8))

    def collisions(self, signature: np.ndarray, cap: int) -> np.ndarray:
        """Rows sharing at least one bucket of at most `cap` rows with `signature`."""
        query = self.tagged(self.keys(signature))[0]
        lo = np.searchsorted(self.sorted, query, "left")
        hi = np.searchsorted(self.sorted, query, "right")
        keep = (hi > lo) & (hi - lo <= cap)
        lo, sizes = lo[keep], (hi - lo)[keep]
        if not len(sizes):
            return np.zeros(0, dtype=np.int64)
        # Every position of every kept bucket: lo[b], lo[b]+1, ..., hi[b]-1, for all b at once.
        starts = np.repeat(lo - np.cumsum(np.concatenate([[0], sizes[:-1]])), sizes)
        return np.unique(self.owners[starts + np.arange(sizes.sum())])

    def pairs(self, cap: int, chunk: int = 1 << 22) -> tuple[np.ndarray, np.ndarray]:
        """(a, b) with a < b: every pair of rows sharing at least one bucket of at most `cap` rows,
        once. A bucket is a run of equal keys in `sorted`; each run of s rows gives s(s-1)/2 pairs.
        A pair shares many buckets (about 19 of 64 on average in the synthetic benchmark corpus),
        so the runs are expanded about `chunk` pairs at a time and each lot merged into the distinct
        pairs found so far: memory follows the distinct pairs, not every bucket's."""
        n = len(self.sorted)
        starts = np.flatnonzero(np.concatenate([[n > 0], self.sorted[1:] != self.sorted[:-1]]))
        sizes = np.diff(np.append(starts, n))
        keep = (sizes > 1) & (sizes <= cap)
        starts, sizes = starts[keep], sizes[keep]
        total = np.cumsum(sizes * (sizes - 1) // 2)
        cuts = np.searchsorted(total, np.arange(chunk, int(total[-1]) if len(total) else 0, chunk), "right")
        found = np.zeros(0, dtype=np.int64)
        for lot_starts, lot_sizes in zip(np.split(starts, cuts), np.split(sizes, cuts)):
            found = _unique(np.concatenate([found, self._codes(lot_starts, lot_sizes)]))
        return found // self.count, found % self.count

    def _codes(self, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """min * count + max of the rows of every pair inside the runs (`starts`, `sizes`)."""
        # Each position of a run pairs with every later position of it: position p of a run of
        # size s starting at b has s - 1 - (p - b) partners.
        position = np.repeat(starts, sizes) + _ranges(sizes)
        later = np.repeat(starts + sizes, sizes) - position - 1
        first = np.repeat(position, later)
        second = first + 1 + _ranges(later)
        a, b = self.owners[first], self.owners[second]
        return np.minimum(a, b) * self.count + np.maximum(a, b)

    def collisions_reference(self, signatures: np.ndarray, signature: np.ndarray, cap: int) -> np.ndarray:
        """The slow, obviously correct version of `collisions` (for tests): band by band, the
        rows whose band key equals the query's, when there are at most `cap` of them."""
        keys, query = self.tagged(self.keys(signatures)), self.tagged(self.keys(signature))[0]
        found = set()
        for band in range(self.bands):
            rows = np.flatnonzero(keys[:, band] == query[band])
            if len(rows) <= cap:
                found.update(rows.tolist())
        return np.array(sorted(found), dtype=np.int64)


class CandidateIndex:
    """Lexical LSH + semantic nearest neighbours over a set of articles.

    `add` rows (ids with their signatures, sentence vectors and (outlet, published)); `query` with
    an article's signature and vectors for the top-k candidates. `open(store)` builds it from a
    store, loading the saved sentence index and catching up with what was added since."""

    def __init__(self, options: IndexOptions | None = None, num_perm: int = 128, dim: int = 512):
        from usearch.index import Index

        self.options = options or IndexOptions()
        if self.options.bands * self.options.rows > num_perm:
            raise ConfigError(f"setting index.bands * index.rows must be at most fingerprint.num_perm ({num_perm})")
        if self.options.threads < 0:
            raise ConfigError("setting index.threads must be 0 (every core) or a number of threads")
        self.num_perm, self.dim = num_perm, dim
        self.ids: list[str] = []
        self.nums: list[int] = []  # the store's article numbers (-1 for rows added without a store)
        self.meta: list[tuple[str, str]] = []  # (outlet, published) per row
        self.alive: list[bool] = []
        self._rows: dict[str, int] = {}
        self._sig_parts: list[np.ndarray] = []
        self._signatures = np.zeros((0, num_perm), dtype=np.uint32)
        self._bands: _Bands | None = None
        self._by_query: tuple | None = None  # `_lexical_pairs` both ways, grouped by query row, for the current buckets
        self._tables: tuple | None = None  # `_row_tables`, until rows are added or their metadata change
        self._unsigned = False  # rows loaded from a saved index, waiting for their signatures
        self._state: tuple | None = None  # the store state last caught up with
        self.sentences = Index(ndim=dim, metric="cos", dtype=self.options.quantization)

    def __len__(self) -> int:
        return sum(self.alive)

    def add(self, ids: Sequence[str], signatures: Sequence[np.ndarray], vectors: Sequence[np.ndarray],
            meta: Sequence[tuple[str, str]] | None = None, nums: Sequence[int] | None = None) -> None:
        """Add articles; an id already present is replaced."""
        meta = meta or [("", "")] * len(ids)
        nums = nums or [-1] * len(ids)
        if not len(ids) == len(vectors) == len(meta) == len(nums):
            raise ValueError("add: ids, vectors, meta and nums must be of the same length")
        first = len(self.ids)
        self.ids.extend(ids)
        self.nums.extend(nums)
        self.meta.extend(meta)
        self.alive.extend([True] * len(ids))
        for row, id_ in enumerate(ids, first):
            if id_ in self._rows:
                self.alive[self._rows[id_]] = False
            self._rows[id_] = row
        self._sig_parts.append(np.asarray(signatures, dtype=np.uint32).reshape(len(ids), self.num_perm))
        self._bands = self._by_query = self._tables = None
        counts = np.array([min(len(v), _MAX_SENTENCES) for v in vectors], dtype=np.int64)
        if counts.sum() and self.semantic:
            keys = (np.repeat(np.arange(first, len(self.ids), dtype=np.uint64) << np.uint64(12), counts)
                    + _ranges(counts).astype(np.uint64))
            self.sentences.add(keys, np.concatenate([np.asarray(v[:c], dtype=np.float32)
                                                     for v, c in zip(vectors, counts.tolist()) if c]),
                               threads=self.options.threads)

    def _catch_up(self) -> bool:
        """Signatures added since the last query joined into one matrix, the buckets rebuilt
        when they changed. False when there is nothing to search."""
        if self._sig_parts:
            self._signatures = np.concatenate([self._signatures, *self._sig_parts])
            self._sig_parts = []
        if not len(self._signatures):
            return False
        if self._bands is None:
            self._bands = _Bands(self._signatures, self.options.bands, self.options.rows)
            self._by_query = None
        return True

    def _lexical(self, signature: np.ndarray) -> dict[int, float]:
        if not self._catch_up() or np.all(signature == _EMPTY):
            return {}
        rows = self._bands.collisions(signature, self.options.bucket_cap)
        estimates = jaccard_estimate(signature, self._signatures[rows])
        keep = estimates >= self.options.min_jaccard
        return dict(zip(rows[keep].tolist(), estimates[keep].tolist()))

    def _lexical_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(a, b, estimate), a < b: every pair `_lexical` would give from either side (unless that
        side's signature is empty)."""
        if not self._catch_up():
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        a, b = self._bands.pairs(self.options.bucket_cap)
        step = 1 << 16  # pairs compared at a time: bounds the (step, num_perm) temporaries
        sig = self._signatures
        estimates = np.concatenate([jaccard_estimate(sig[a[i : i + step]], sig[b[i : i + step]])
                                    for i in range(0, len(a), step)] or [np.zeros(0)])
        keep = estimates >= self.options.min_jaccard
        return a[keep], b[keep], estimates[keep]

    @property
    def semantic(self) -> bool:
        """False for lexical-only stores (`fingerprint.model = "none"`: one zero column per
        sentence), whose every "neighbour" would be a tie and flood the candidates."""
        return self.dim > 1

    def _semantic(self, vectors: np.ndarray) -> dict[int, float]:
        if not self.semantic or not len(vectors) or not len(self.sentences):
            return {}
        found = self.sentences.search(np.asarray(vectors, dtype=np.float32), self.options.neighbours)
        keys = np.atleast_2d(found.keys)
        distances = np.atleast_2d(found.distances)
        # One query vector gives usearch's single-query result, which has no `counts`.
        counts = np.atleast_1d(found.counts) if hasattr(found, "counts") else np.array([keys.shape[1]])
        valid = (np.arange(keys.shape[1]) < counts[:, None]) & (1.0 - distances >= self.options.min_cosine)
        query, slot = np.nonzero(valid)
        rows = (keys[query, slot] >> np.uint64(12)).astype(np.int64)
        # Each query sentence counts once per article, however many of its sentences it matches.
        hits = np.unique(np.stack([rows, query]), axis=1)[0] if len(rows) else rows
        articles, counts = np.unique(hits, return_counts=True)
        return dict(zip(articles.tolist(), (counts / len(vectors)).tolist()))

    def query(self, signature: np.ndarray, vectors: np.ndarray, k: int = 10, filters: Filters | None = None,
              exclude: Iterable[str] = ()) -> list[Candidate]:
        """The top `k` candidates by max(lexical, semantic), excluding ids in `exclude`."""
        lexical = self._lexical(np.asarray(signature, dtype=np.uint32))
        semantic = {r: s for r, s in self._semantic(vectors).items() if s >= self.options.min_semantic}
        filters, exclude = filters or Filters(), set(exclude)
        found = []
        for row in lexical.keys() | semantic.keys():
            if not self.alive[row] or self.ids[row] in exclude or not filters.allows(*self.meta[row]):
                continue
            lex, sem = lexical.get(row, 0.0), semantic.get(row, 0.0)
            found.append(Candidate(self.ids[row], lex, sem, max(lex, sem)))
        found.sort(key=lambda c: (-c.score, c.id))
        return found[:k]

    def pairs(self, ids: Sequence[str], k: int = 10, filters: Filters | None = None,
              vectors: Sequence[np.ndarray] | None = None) -> CandidatePairs:
        """`query` for each stored article in `ids`, all at once: its top `k` candidates, itself
        excluded, with `filters` taken `around` its own date; `vectors[i]` are the query vectors
        of `ids[i]` (lexical candidates only when None). The same candidates as
        ``query(its signature, vectors[i], k, filters.around(its date), exclude=(its id,))``."""
        filters = filters or Filters()
        queries = np.array([self._rows[i] for i in ids], dtype=np.int64)
        q, r, lex = self._lexical_of(queries)
        sq, sr, sem = self._semantic_pairs(queries, vectors)
        q, r, lex, sem = _merge(len(self.ids), (q, r, lex), (sq, sr, sem))
        keep = self._allowed(q, r, filters)
        return CandidatePairs.top(self.ids, q[keep], r[keep], lex[keep], sem[keep], k, self._row_tables()[0])

    def _lexical_of(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query row, row, estimate) of `_lexical_pairs` for the rows `queries`, from either side,
        without the queries whose signature is empty (`query` gives them no lexical candidates).
        The pairs are grouped by query row once per set of buckets, so a batch of queries costs
        what its own pairs do, not what every pair of the index does."""
        if self._by_query is None:
            a, b, estimates = self._lexical_pairs()
            q = np.concatenate([a, b])
            order = np.argsort(q, kind="stable")
            q = q[order]
            r = np.concatenate([b, a])[order].astype(np.int32)  # held for the index's lifetime: 4 bytes a row
            lex = np.concatenate([estimates, estimates])[order]
            del a, b, estimates, order
            keep = ~np.all(self._signatures == _EMPTY, axis=1)[q]
            q, r, lex = q[keep], r[keep], lex[keep]
            self._by_query = np.searchsorted(q, np.arange(len(self._signatures) + 1)), r, lex
        starts, r, lex = self._by_query
        queries = np.unique(queries[queries < len(starts) - 1])
        sizes = starts[queries + 1] - starts[queries]
        picked = np.repeat(starts[queries], sizes) + _ranges(sizes)
        return np.repeat(queries, sizes), r[picked].astype(np.int64), lex[picked]

    def _row_tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(place in id order, liveness, publication day "YYYY-MM-DD" or "") of every row, kept
        until rows are added or their metadata change."""
        if self._tables is None:
            days = np.array([(p or "")[:10] for _, p in self.meta], dtype="U10")
            self._tables = _id_ranks(self.ids), np.asarray(self.alive, dtype=bool), days
        return self._tables

    def codes(self, pairs: Iterable[tuple[str, str]]) -> np.ndarray:
        """`CandidatePairs.codes` of pairs of ids (their current rows; pairs with an id not in
        the index are left out), ascending and unique."""
        rows, n = self._rows, len(self.ids)
        out = array("q")
        for x, y in pairs:
            a, b = rows.get(x), rows.get(y)
            if a is not None and b is not None:
                out.append(min(a, b) * n + max(a, b))
        return np.unique(np.frombuffer(out, dtype=np.int64))

    def _semantic_pairs(self, queries: np.ndarray, vectors: Sequence[np.ndarray] | None) -> tuple:
        """(query row, row, share) of `_semantic` for each query's vectors, in one search."""
        none = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        if vectors is None or not self.semantic or not len(self.sentences):
            return none
        counts = np.array([len(v) for v in vectors], dtype=np.int64)
        if not counts.sum():
            return none
        found = self.sentences.search(np.concatenate([np.asarray(v, np.float32) for v in vectors if len(v)]),
                                      self.options.neighbours)
        keys, distances = np.atleast_2d(found.keys), np.atleast_2d(found.distances)
        # One query vector gives usearch's single-query result, which has no `counts`.
        found_counts = np.atleast_1d(found.counts) if hasattr(found, "counts") else np.array([keys.shape[1]])
        valid = (np.arange(keys.shape[1]) < found_counts[:, None]) & (1.0 - distances >= self.options.min_cosine)
        sentence, slot = np.nonzero(valid)
        rows = (keys[sentence, slot] >> np.uint64(12)).astype(np.int64)
        n = len(self.ids)
        # Each query sentence counts once per article, however many of its sentences it matches.
        hits = _unique(sentence * n + rows)
        owner = np.repeat(np.arange(len(counts)), counts)[hits // n]
        pair, hits = np.unique(owner * n + hits % n, return_counts=True)
        share = hits / counts[pair // n]
        keep = share >= self.options.min_semantic
        return queries[pair[keep] // n], pair[keep] % n, share[keep]

    def _allowed(self, q: np.ndarray, r: np.ndarray, filters: Filters) -> np.ndarray:
        """Pair by pair: r is alive, not q, and `filters.around(q's date).allows(r's outlet and date)`."""
        n = len(self.ids)
        _, alive, days = self._row_tables()
        if filters.outlets or filters.exclude_outlets:
            outlets = np.array([(not filters.outlets or o in filters.outlets) and o not in filters.exclude_outlets
                                for o, _ in self.meta], dtype=bool)
        else:
            outlets = np.ones(n, dtype=bool)
        queries = np.unique(q)
        windows = [filters.around(self.meta[row][1]) for row in queries.tolist()]  # each query's own
        since = np.array([f.since[:10] for f in windows], dtype="U10")
        until = np.array([f.until[:10] for f in windows], dtype="U10")
        has_since = np.array([bool(f.since) for f in windows], dtype=bool)
        has_until = np.array([bool(f.until) for f in windows], dtype=bool)
        at = np.searchsorted(queries, q)  # each pair's query among `queries`
        day = days[r]
        ok = alive[r] & (q != r) & outlets[r]
        ok &= ~((has_since | has_until)[at] & (day == ""))  # undated articles cannot be shown to fall inside a window
        ok &= ~(has_since[at] & (day < since[at])) & ~(has_until[at] & (day > until[at]))
        return ok

    # --- built from and saved beside a store -------------------------------------------------------

    @classmethod
    def open(cls, store, options: Options | None = None) -> CandidateIndex:
        """The index of a store: the saved sentence index (if its settings match) caught up with
        the store; cached per store object, so repeated queries in one process pay this once."""
        options = options or Options()
        cached = _OPEN.get(store)
        if cached is not None and cached.options == options.index:
            cached.refresh(store)
            return cached
        meta = store.meta
        num_perm = int(meta.get("num_perm", options.fingerprint.num_perm))
        dim = int(meta.get("dim", 0)) or fp.get_encoder(options.fingerprint).dim
        index = cls._load(store.path, options.index, num_perm, dim)
        index.refresh(store)
        _OPEN[store] = index
        return index

    @staticmethod
    def release(store) -> None:
        """Forget the index `open` cached for `store` (a scan is done with it after its candidate
        stage: at a million articles it holds gigabytes)."""
        _OPEN.pop(store, None)

    def refresh(self, store) -> int:
        """Catch up with the store: add articles not indexed yet, drop replaced or deleted ones.
        Returns how many articles were added."""
        state = store.state()
        if state == self._state:
            return 0
        catalog = {num: (id_, outlet or "", published or "") for num, id_, outlet, published in store.catalog()}
        if self._unsigned:  # rows of a saved sentence index: signatures and metadata come from the store
            signatures = store.signatures()
            empty = np.full(self.num_perm, _EMPTY, dtype=np.uint32)
            self._sig_parts = [np.stack([signatures.get(n, empty) for n in self.nums])] if self.nums else []
            self.meta = [catalog.get(n, ("", "", ""))[1:] for n in self.nums]
            self._unsigned = False
        for row, num in enumerate(self.nums):
            if num not in catalog or catalog[num][0] != self.ids[row]:
                self.alive[row] = False
        self._tables = None
        known = set(self.nums)
        missing = [num for num in catalog if num not in known]
        for start in range(0, len(missing), 1024):
            nums = missing[start : start + 1024]
            vectors, signatures = store.sentence_vectors(nums), store.signatures(nums)
            self.add([catalog[n][0] for n in nums], [signatures[n] for n in nums], [vectors[n] for n in nums],
                     [catalog[n][1:] for n in nums], nums)
        self._state = state
        return len(missing)

    @staticmethod
    def paths(db: str | os.PathLike) -> tuple[Path, Path]:
        return Path(f"{db}.usearch"), Path(f"{db}.usearch.json")

    def _settings(self) -> dict:
        return {"scheme": fp.SCHEME, "dim": self.dim, "quantization": self.options.quantization}

    def save(self, db: str | os.PathLike) -> None:
        """Write the sentence index beside the store (write, then rename: readers never see half)."""
        vectors, sidecar = self.paths(db)
        tmp_vectors, tmp_sidecar = Path(f"{vectors}.tmp{os.getpid()}"), Path(f"{sidecar}.tmp{os.getpid()}")
        self.sentences.save(str(tmp_vectors))
        rows = [[i, n, a] for i, n, a in zip(self.ids, self.nums, self.alive)]
        tmp_sidecar.write_text(json.dumps(self._settings() | {"rows": rows}), encoding="utf-8")
        # A reader pairs the files by the row count in the sidecar, renamed last (see `_load`).
        os.replace(tmp_vectors, vectors)
        os.replace(tmp_sidecar, sidecar)

    @classmethod
    def _load(cls, db: str | os.PathLike, options: IndexOptions, num_perm: int, dim: int) -> CandidateIndex:
        """A fresh index whose sentence part is the saved one, when there is one with these settings
        (signatures are not saved: `refresh` reads them from the store)."""
        index = cls(options, num_perm, dim)
        vectors, sidecar = cls.paths(db)
        try:
            saved = json.loads(sidecar.read_text(encoding="utf-8"))
            if {k: saved.get(k) for k in index._settings()} != index._settings():
                return index  # built under other settings: rebuilt from the store
            index.sentences.load(str(vectors))
        except (OSError, ValueError, RuntimeError):
            return index  # missing or unreadable: rebuilt from the store
        rows = saved["rows"]
        if len(index.sentences) and (int(np.asarray(index.sentences.keys).max()) >> 12) >= len(rows):
            return cls(options, num_perm, dim)  # files from two different saves
        index.ids = [r[0] for r in rows]
        index.nums = [r[1] for r in rows]
        index.alive = [bool(r[2]) for r in rows]
        index._rows = {id_: row for row, id_ in enumerate(index.ids) if index.alive[row]}
        index._unsigned = True
        return index


# Indexes opened per Store object: a web app or a benchmark asks many queries of one store.
_OPEN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
