"""Candidate retrieval: the few stored articles worth aligning in full with a given article.

Two kinds of evidence, merged and ranked:

* **lexical** — MinHash signatures of the body's word 3-gram shingles, vectorised in numpy, found
  through LSH banding. With `num_perm` = 128 split into 64 bands of 2 rows, a pair with Jaccard J
  lands in a shared bucket with probability 1 - (1 - J²)⁶⁴: 0.998 at J = 0.3 (the overlap of real
  rewrites), 0.93 at J = 0.2, 0.47 at J = 0.1. The many chance collisions this lets in are dropped
  by the full-signature Jaccard estimate (`min_jaccard`), and buckets shared by more than
  `bucket_cap` articles (boilerplate, stock phrases) are skipped.
* **semantic** — nearest neighbours of each body sentence's embedding among all stored sentences
  (usearch HNSW, cosine, i8 quantisation); an article scores the share of the query's sentences
  that have a neighbour in it at cosine >= `min_cosine`. This finds paraphrases that share few
  word 3-grams.

`exact_candidates` is the slow, obviously correct reference for the lexical part: exact Jaccard
against every stored article.

The sentence index is saved beside the store (``<db>.usearch`` and ``<db>.usearch.json``), written
then renamed; on open, articles added or replaced since it was saved are caught up from the store.
"""

from __future__ import annotations

import hashlib
import json
import os
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import fingerprint as fp
from .models import Document
from .options import IndexOptions, Options

_PRIME = np.uint64((1 << 61) - 1)
_EMPTY = np.uint32(0xFFFFFFFF)  # every slot of the signature of an article without shingles
_MAX_SENTENCES = 1 << 12  # sentence slots per article in the usearch key space (key = row << 12 | j)
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93], dtype=np.uint64)


@dataclass(frozen=True)
class Candidate:
    id: str
    lexical: float  # estimated Jaccard of body word 3-grams (0 when only the semantic part found it)
    semantic: float  # share of the query's body sentences with a close neighbour in this article
    score: float  # what candidates are ranked by: max(lexical, semantic)


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


# --- MinHash ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1 << 18)
def _word_hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit affects every output bit."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def body_text(doc: Document) -> str:
    """The text the lexical fingerprint is taken over: body sentences, one per line."""
    return "\n".join(s.text for s in doc.body)


def shingle_hashes(text: str, n: int = 3) -> np.ndarray:
    """32-bit hashes of the distinct word n-grams of `text`: the set `fingerprint.shingles` gives,
    hashed position-aware (word hashes times a per-position constant, summed, then mixed)."""
    keys = [w.key for w in fp.words(text)]
    if not keys:
        return np.zeros(0, dtype=np.uint64)
    words = np.fromiter((_word_hash(k) for k in keys), dtype=np.uint64, count=len(keys))
    width = min(n, len(words))
    h = np.zeros(len(words) - width + 1, dtype=np.uint64)
    for i in range(width):
        h += words[i : len(words) - width + 1 + i] * _MIX[i % len(_MIX)]
    return np.unique(_mix(h) >> np.uint64(32))


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, (1 << 61) - 1, num_perm, dtype=np.uint64)
    b = rng.integers(0, (1 << 61) - 1, num_perm, dtype=np.uint64)
    return a, b


def _mod_prime(v: np.ndarray) -> np.ndarray:
    """v mod 2**61 - 1 for v < 2**64 (2**61 is 1 modulo this prime), result in [0, prime]."""
    return (v & _PRIME) + (v >> np.uint64(61))


def _universal(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a*x + b) mod p for every x (32-bit) and every (a, b) (below p), exactly, in uint64.

    a*x has up to 93 bits, so a is split at bit 32: a*x = (a_hi*x)*2**32 + a_lo*x, each part
    reduced on its own. Wrapping uint64 arithmetic instead (as some MinHash code does) is not a
    permutation family, and a small `a` that avoids the overflow folds too little to be min-wise:
    estimates then come out far below the true Jaccard."""
    x = x[:, None]
    low32, high29 = np.uint64(0xFFFFFFFF), np.uint64((1 << 29) - 1)
    hi = (a >> np.uint64(32)) * x  # < 2**61
    hi = (hi >> np.uint64(29)) + ((hi & high29) << np.uint64(32))  # hi * 2**32 mod p, < 2**62
    lo = _mod_prime((a & low32) * x)  # a_lo*x < 2**64 fits exactly
    v = _mod_prime(hi + lo + b)
    return np.where(v >= _PRIME, v - _PRIME, v)


def minhash(hashes: np.ndarray, num_perm: int = 128) -> np.ndarray:
    """MinHash signature (uint32 per permutation) of a set of 32-bit hashes: min of (a*x+b) mod p,
    keeping its low 32 bits."""
    if len(hashes) == 0:
        return np.full(num_perm, _EMPTY, dtype=np.uint32)
    a, b = _permutations(num_perm)
    values = _universal(np.asarray(hashes, dtype=np.uint64), a, b)
    return (values.min(axis=0) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def signature(doc: Document, options: Options | None = None) -> np.ndarray:
    """The MinHash signature of a document's body word shingles."""
    f = (options or Options()).fingerprint
    return minhash(shingle_hashes(body_text(doc), f.shingle), f.num_perm)


def jaccard_estimate(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """Share of equal slots: the MinHash estimate of Jaccard. `b` may be a matrix of signatures."""
    return (np.asarray(b) == np.asarray(a)).mean(axis=-1)


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def exact_candidates(doc: Document, docs: Iterable[Document], threshold: float, n: int = 3) -> list[tuple[str, float]]:
    """Reference: ``(id, exact Jaccard)`` of every document at or above `threshold`, best first."""
    mine = fp.shingles(body_text(doc), n) if doc.body else set()
    found = [(d.article.id, jaccard(mine, fp.shingles(body_text(d), n) if d.body else set())) for d in docs]
    return sorted(((i, j) for i, j in found if j >= threshold and i != doc.article.id), key=lambda x: (-x[1], x[0]))


# --- the index -------------------------------------------------------------------------------------


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
        self.owners = (order % max(len(tagged), 1)).astype(np.int64)  # the row each sorted key belongs to

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
            raise ValueError(f"index.bands * index.rows must be at most fingerprint.num_perm ({num_perm})")
        self.num_perm, self.dim = num_perm, dim
        self.ids: list[str] = []
        self.nums: list[int] = []  # the store's article numbers (-1 for rows added without a store)
        self.meta: list[tuple[str, str]] = []  # (outlet, published) per row
        self.alive: list[bool] = []
        self._rows: dict[str, int] = {}
        self._sig_parts: list[np.ndarray] = []
        self._signatures = np.zeros((0, num_perm), dtype=np.uint32)
        self._bands: _Bands | None = None
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
        keys, rows = [], []
        for id_, vecs, m, num in zip(ids, vectors, meta, nums, strict=True):
            if id_ in self._rows:
                self.alive[self._rows[id_]] = False
            row = len(self.ids)
            self._rows[id_] = row
            self.ids.append(id_)
            self.nums.append(num)
            self.meta.append(m)
            self.alive.append(True)
            count = min(len(vecs), _MAX_SENTENCES)
            keys.append((row << 12) + np.arange(count, dtype=np.uint64))
            rows.append(np.asarray(vecs[:count], dtype=np.float32))
        self._sig_parts.append(np.asarray(signatures, dtype=np.uint32).reshape(len(ids), self.num_perm))
        self._bands = None
        if keys and sum(map(len, keys)) and self.semantic:
            self.sentences.add(np.concatenate(keys), np.concatenate(rows))

    def _lexical(self, signature: np.ndarray) -> dict[int, float]:
        if self._sig_parts:
            self._signatures = np.concatenate([self._signatures, *self._sig_parts])
            self._sig_parts = []
        if not len(self._signatures) or np.all(signature == _EMPTY):
            return {}
        if self._bands is None:
            self._bands = _Bands(self._signatures, self.options.bands, self.options.rows)
        rows = self._bands.collisions(signature, self.options.bucket_cap)
        estimates = jaccard_estimate(signature, self._signatures[rows])
        keep = estimates >= self.options.min_jaccard
        return dict(zip(rows[keep].tolist(), estimates[keep].tolist()))

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
