"""Sentence alignment between two articles: which sentences of one were copied, edited or
paraphrased from which sentences of the other, and which are new or left out.

Alignment is many-to-many: every pair of body sentences is scored, a derived sentence keeps every
counterpart that scores near its best and adds words the others do not explain (a merge), and a
source sentence may be matched by several derived sentences (a split). Order plays no part, so
reordering costs nothing.

Each pair is scored on two kinds of evidence. Lexical: shared content words weighted by how rare
they are in the two articles (the protagonist's name, in every sentence, proves little), the word
edit ratio and the character ratio (rapidfuzz). Semantic: the cosine of sentence embeddings. Cosine
alone cannot tell "raised the rate" from "cut the rate", so pairs are checked for changed numbers,
names and polarity before they count as paraphrases.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.process import cdist
from rapidfuzz.distance import Indel

from . import fingerprint as fp
from .models import (
    EDITED,
    NEW,
    OMITTED,
    PARAPHRASE,
    USED,
    VERBATIM,
    Alignment,
    ChangedFact,
    Document,
    Labelled,
    Match,
    Sentence,
)
from .options import AlignOptions

# Pairs of words that flip a statement's meaning. Stems (prefixes) so inflections match.
POLARITY = (
    ("rais", "cut"), ("rais", "lower"), ("increas", "decreas"), ("increas", "cut"), ("rise", "fall"),
    ("rose", "fell"), ("gain", "los"), ("won", "lost"), ("win", "lose"), ("approv", "reject"),
    ("accept", "reject"), ("higher", "lower"), ("up", "down"), ("allow", "ban"), ("acquit", "convict"),
    ("guilty", "innocent"), ("expand", "shrink"), ("grew", "shrank"), ("open", "clos"),
    ("support", "oppos"), ("confirm", "den"), ("surplus", "deficit"), ("boost", "cut"),
)
_NEGATION = re.compile(r"\b(not|no|never|n't|without)\b", re.IGNORECASE)
_QUOTED = re.compile(r"[\"“”«»„]([^\"“”«»„]{3,})[\"“”«»„]")

FEATURES = (
    "semantic",  # embedding cosine
    "dice",  # rarity-weighted shared content stems, Dice
    "contain",  # ... as a share of the shorter sentence
    "word_ratio",  # word-level edit similarity (Indel)
    "char_ratio",  # character-level similarity of the lower-cased text
    "numbers_agree",  # 1 when numbers agree or neither has any, 0 when they conflict
    "names_agree",  # the same for names
    "length_ratio",  # shorter / longer, in words
    "clause",  # best embedding cosine between the two sentences' clauses (or whole sentences)
)


@dataclass(frozen=True)
class PairModel:
    """Logistic combination of the pair features into the probability that two sentences say the
    same thing. Fitted by ``eval/fit.py`` on the development data; shipped in ``data/``."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5  # a paraphrase at or above this probability

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        index = [FEATURES.index(f) for f in self.features]
        z = rows[..., index] @ np.asarray(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-z))


# Alignment's own score: is this sentence reused from that one? Set by hand on the bundled examples
# and checked against the document-level evaluations (COUNTER, BASIL). It is deliberately not the
# model fitted on MSRP: MSRP asks whether two whole sentences are equivalent, while a rewrite
# keeps a clause of a long sentence or merges two, which MSRP's labels call "not a paraphrase".
REUSE_MODEL = PairModel(("clause", "dice", "word_ratio"), (9.0, 4.0, 2.0), -7.0)


PAIR_MODELS = {"similarity": "pair_model.json", "paraphrase": "paraphrase_model.json"}


@lru_cache(maxsize=2)
def load_pair_model(task: str = "similarity") -> PairModel:
    """A sentence-pair model fitted by ``eval/fit.py``: "similarity" (MSRP and STS-B news: how
    alike two sentences are, as people grade it) or "paraphrase" (MSRP: are they the same
    statement, with its own threshold). Used for sentence similarity, not for alignment."""
    path = Path(__file__).parent / "data" / PAIR_MODELS[task]
    if not path.is_file():
        return REUSE_MODEL
    data = json.loads(path.read_text("utf-8"))
    return PairModel(tuple(data["features"]), tuple(float(w) for w in data["weights"]), float(data["bias"]),
                     float(data.get("threshold", 0.5)))


@dataclass(frozen=True)
class _Side:
    """Per-sentence lexical material of one article's body, computed once per article."""

    sentences: tuple[Sentence, ...]
    words: tuple[tuple[fp.Word, ...], ...]  # offsets within each sentence (add its `start`)
    stems: tuple[frozenset[str], ...]
    numbers: tuple[frozenset[str], ...]
    names: tuple[frozenset[str], ...]
    all_numbers: frozenset[str]  # every number of the body
    all_names: frozenset[str]  # every name of the body
    lowered: tuple[str, ...]
    content: tuple[tuple[bool, ...], ...]  # which of its words are content words
    marks: tuple[tuple[str | None, ...], ...]  # each word's stem if a content word, else None
    coded: tuple[str, ...]  # each sentence's words as one character each (`_WordCodes`), for rapidfuzz
    lengths: np.ndarray  # words per sentence (float64)
    units: np.ndarray  # each sentence's first row in the article's embedding matrix (`unit_starts`)
    sparse: tuple[np.ndarray, np.ndarray]  # `_sparse` of the stems


class _WordCodes(threading.local):
    """Every word key this thread has met, as one character (from the supplementary planes, never
    a real word's code), so that rapidfuzz compares sentences word by word (`cdist` and `opcodes`
    over these strings). One table for all articles: each side is coded once, not once per pair.
    `token` names the table: sides are cached under it, so a side coded with one table never
    meets a side coded with another."""

    def __init__(self) -> None:
        self.table: dict[str, str] = {}
        self.token = next(_TABLES)
        self.spans: dict[tuple[str, str], tuple[tuple[int, int], ...]] = {}  # `_spans`, by the two texts


_TABLES = itertools.count()
_CODES = _WordCodes()
_CODE_BASE, _CODE_LIMIT = 0x10000, 0x10FFFF


def _code(key: str) -> str:
    table = _CODES.table
    code = table.get(key)
    if code is None:
        code = table[key] = chr(_CODE_BASE + len(table))
    return code


def _room_for(*bodies: tuple[Sentence, ...]) -> None:
    """Start this thread's code table afresh when the words of `bodies` might not fit in it: a
    thread that meets a million distinct words starts over."""
    words = sum(len(s.text) for body in bodies for s in body)  # at most one new word per character
    if _CODE_BASE + len(_CODES.table) + words > _CODE_LIMIT:
        _CODES.table, _CODES.token, _CODES.spans = {}, next(_TABLES), {}


def _side(sentences: tuple[Sentence, ...]) -> _Side:
    return _coded_side(sentences, _CODES.token)


@lru_cache(maxsize=1024)  # a scan batch meets each article in several pairs, each pair in both orders
def _coded_side(sentences: tuple[Sentence, ...], token: int) -> _Side:
    """`_side` with the words coded by the table `token` (this thread's)."""
    parts = [_sentence_side(s.text, token) for s in sentences]
    words, content, stems, marks, lowered, coded, numbers, names = (tuple(x) for x in zip(*parts)) if parts else ((),) * 8
    return _Side(
        sentences, words, stems, numbers, names, frozenset().union(*numbers), frozenset().union(*names),
        lowered, content, marks, coded,
        np.array([len(x) for x in words], dtype=np.float64),
        unit_starts([s.norm or s.text for s in sentences]),
        _sparse(stems),
    )


@lru_cache(maxsize=1 << 15)  # reprints share sentences: a family's articles share most of their material
def _sentence_side(text: str, token: int) -> tuple:
    """One sentence's part of a `_Side` (words, content flags, stems, marks, lowered and coded
    text, numbers, names), with the words coded by the table `token`."""
    words = fp.tokens(text)
    keys = [w.key for w in words]
    content = tuple(fp.is_content(w) for w in words)
    stems = frozenset(w.stem for w, c in zip(words, content) if c)
    marks = tuple(w.stem if c else None for w, c in zip(words, content))
    return (words, content, stems, marks, " ".join(keys), "".join(map(_code, keys)), fp.numbers(text), fp.names(text))


def _weights(a: _Side, b: _Side) -> dict[str, float]:
    """Inverse sentence frequency of each stem across both articles."""
    df: dict[str, int] = {}
    for stems in a.stems + b.stems:
        for s in stems:
            df[s] = df.get(s, 0) + 1
    n = len(a.stems) + len(b.stems)
    return {s: math.log(1 + n / d) for s, d in df.items()}


def _agree(x: frozenset[str], y: frozenset[str]) -> float:
    """1 when either side has none (nothing to conflict), else the Jaccard overlap (1 when equal)."""
    return len(x & y) / len(x | y) if x and y else 1.0


@dataclass
class PairScores:
    """Feature tensor (n_derived, n_source, len(FEATURES)) and the pair probabilities, with the
    two sides they score (`align` labels on them without preparing either again)."""

    features: np.ndarray
    proba: np.ndarray
    a: _Side
    b: _Side

    def transpose(self) -> "PairScores":
        return PairScores(self.features.transpose(1, 0, 2), self.proba.T, self.b, self.a)


def _row(a: _Side, i: int, b: _Side, j: int, w: dict[str, float], sem: float, clause: float) -> tuple[float, ...]:
    shared = a.stems[i] & b.stems[j]
    wa, wb, ws = (sum(w[s] for s in x) for x in (a.stems[i], b.stems[j], shared))
    la, lb = len(a.words[i]), len(b.words[j])
    return (
        min(1.0, max(0.0, sem)),
        2 * ws / (wa + wb) if wa + wb else 0.0,
        ws / min(wa, wb) if min(wa, wb) else 0.0,
        Indel.normalized_similarity([x.key for x in a.words[i]], [x.key for x in b.words[j]]),
        fuzz.ratio(a.lowered[i], b.lowered[j]) / 100.0,
        _agree(a.numbers[i], b.numbers[j]),
        _agree(a.names[i], b.names[j]),
        min(la, lb) / max(la, lb) if max(la, lb) else 0.0,
        min(1.0, max(0.0, clause, sem)),
    )


def features_reference(a: _Side, b: _Side, sem: np.ndarray, clause: np.ndarray) -> np.ndarray:
    """The feature tensor one pair at a time: slow, obviously correct; `_features` must agree."""
    w = _weights(a, b)
    out = np.zeros((len(a.sentences), len(b.sentences), len(FEATURES)), dtype=np.float32)
    for i in range(len(a.sentences)):
        for j in range(len(b.sentences)):
            out[i, j] = _row(a, i, b, j, w, float(sem[i, j]), float(clause[i, j]))
    return out


def _agreements(x: tuple[frozenset[str], ...], y: tuple[frozenset[str], ...]) -> list[list[float]]:
    """`_agree` of every pair of sentences (few have numbers or names: a loop beats matrices)."""
    out = [[1.0] * len(y) for _ in x]
    some = [(j, w) for j, w in enumerate(y) if w]
    for i, v in enumerate(x):
        if v:
            row = out[i]
            for j, w in some:  # `_agree` inline (equal sets, the usual case, skip the set algebra)
                row[j] = 1.0 if v == w else len(v & w) / len(v | w)
    return out


def _sparse(sets: tuple[frozenset[str], ...]) -> tuple[np.ndarray, np.ndarray]:
    """(sentence, item hash) of every item of every sentence: the incidence matrix, sparse."""
    rows = np.repeat(np.arange(len(sets)), [len(x) for x in sets])
    return rows, np.fromiter((hash(t) for x in sets for t in x), dtype=np.int64, count=len(rows))


def _incidences(a: tuple[np.ndarray, np.ndarray], n: int, b: tuple[np.ndarray, np.ndarray],
                m: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense 0/1 incidence matrices of two sides' items over the items either side has."""
    items, column = np.unique(np.concatenate([a[1], b[1]]), return_inverse=True)
    ia, ib = np.zeros((n, len(items))), np.zeros((m, len(items)))
    ia[a[0], column[: len(a[1])]] = 1.0
    ib[b[0], column[len(a[1]) :]] = 1.0
    return ia, ib


def _features(a: _Side, b: _Side, sem: np.ndarray, clause: np.ndarray) -> np.ndarray:
    """`features_reference` for all pairs at once: weighted shared stems as a matrix product, the
    word and character ratios by rapidfuzz's `cdist`."""
    n, m = len(a.sentences), len(b.sentences)
    out = np.zeros((n, m, len(FEATURES)), dtype=np.float32)
    if not n or not m:
        return out
    ia, ib = _incidences(a.sparse, n, b.sparse, m)
    weight = np.log1p((n + m) / np.maximum(ia.sum(axis=0) + ib.sum(axis=0), 1.0))  # `_weights`
    shared = (ia * weight) @ ib.T
    wa, wb = ia @ weight, ib @ weight
    la, lb = a.lengths[:, None], b.lengths[None, :]
    # Where a denominator is 0 so is its numerator (shared weight, the shorter length), so a
    # floor on the denominator gives the 0 the reference gives, without a mask.
    out[..., 0] = sem
    out[..., 1] = 2 * shared / np.maximum(wa[:, None] + wb[None, :], _TINY)
    out[..., 2] = shared / np.maximum(np.minimum(wa[:, None], wb[None, :]), _TINY)
    out[..., 3] = cdist(a.coded, b.coded, scorer=Indel.normalized_similarity, dtype=np.float64)
    out[..., 4] = cdist(a.lowered, b.lowered, scorer=fuzz.ratio, dtype=np.float64) / 100.0
    out[..., 5] = _agreements(a.numbers, b.numbers)
    out[..., 6] = _agreements(a.names, b.names)
    out[..., 7] = np.minimum(la, lb) / np.maximum(np.maximum(la, lb), 1.0)  # lengths are whole words
    out[..., 8] = np.maximum(clause, sem)
    for k in (0, 8):  # cosines clipped to 0..1, in place
        np.minimum(np.maximum(out[..., k], 0.0, out=out[..., k]), 1.0, out=out[..., k])
    return out


_TINY = 1e-300


def unit_starts(texts: list[str]) -> np.ndarray:
    """Row of each text's first unit in the embedding matrix of `fingerprint.units` of all texts."""
    sizes = [fp.unit_count(t) for t in texts]
    return np.cumsum([0] + sizes[:-1]).astype(np.intp)


def semantic(a_texts: list[str], b_texts: list[str], a_vecs: np.ndarray, b_vecs: np.ndarray,
             starts: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Whole-sentence cosines and best clause cosines, (len(a_texts), len(b_texts)) each
    (`starts`: `unit_starts` of both, when known)."""
    if not a_texts or not b_texts:
        empty = np.zeros((len(a_texts), len(b_texts)), dtype=np.float32)
        return empty, empty
    sa, sb = starts or (unit_starts(a_texts), unit_starts(b_texts))
    units = a_vecs @ b_vecs.T
    best = np.maximum.reduceat(np.maximum.reduceat(units, sa, axis=0), sb, axis=1)
    return units[np.ix_(sa, sb)], best


def pair_features(
    a_texts: list[str], b_texts: list[str], encoder: fp.Encoder | None = None
) -> tuple[np.ndarray, list[str]]:
    """Features of the sentence pairs (a_texts[k], b_texts[k]): one row per pair.

    Word rarity is taken over all the sentences given, as a comparison takes it over two articles.
    """
    encoder = encoder or fp.get_encoder()
    va = encoder.encode([u for t in a_texts for u in fp.units(t)])
    vb = encoder.encode([u for t in b_texts for u in fp.units(t)])
    sa = _side(tuple(Sentence("a", k, 0, len(t), t) for k, t in enumerate(a_texts)))
    sb = _side(tuple(Sentence("b", k, 0, len(t), t) for k, t in enumerate(b_texts)))
    w = _weights(sa, sb)
    starts_a, starts_b = unit_starts(list(a_texts)), unit_starts(list(b_texts))
    ends_a = list(starts_a[1:]) + [len(va)]
    ends_b = list(starts_b[1:]) + [len(vb)]
    rows = []
    for k in range(len(a_texts)):
        units = va[starts_a[k] : ends_a[k]] @ vb[starts_b[k] : ends_b[k]].T
        rows.append(_row(sa, k, sb, k, w, float(units[0, 0]), float(units.max())))
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), len(FEATURES)), list(FEATURES)


def _without(text: str, drop) -> list[str]:
    return [w.stem for w in fp.words(text) if not drop(w)]


_POLAR_PREFIXES = frozenset(p for pair in POLARITY for p in pair)
_POLAR_LENGTHS = sorted({len(p) for p in _POLAR_PREFIXES})


@lru_cache(maxsize=1 << 15)  # each sentence meets many candidates
def _polar_hits(text: str) -> dict[str, str]:
    """Polarity prefixes found in `text`, each with the first key or stem (in text order) that
    begins with it."""
    hits: dict[str, str] = {}
    for w in fp.words(text):
        for k in (w.key, w.stem):
            for n in _POLAR_LENGTHS:
                if k[:n] in _POLAR_PREFIXES and len(k) >= n:
                    hits.setdefault(k[:n], k)
    return hits


@lru_cache(maxsize=1 << 16)  # the same two sentences meet again in the pairs of a family of reprints
def _polarity(a: str, b: str) -> tuple[str, str] | None:
    """Opposite words ("raised"/"cut") or a negation on one side only, in sentences that are
    otherwise close (three quarters of their remaining words in common, in order)."""
    ha, hb = _polar_hits(a), _polar_hits(b)
    for x, y in POLARITY if ha and hb else ():
        for p, q in ((x, y), (y, x)):
            hit_a, hit_b = ha.get(p), hb.get(q)
            if not hit_a or not hit_b or q in ha or p in hb:
                continue
            def drop(w):
                return any(k.startswith(p) or k.startswith(q) for k in (w.key, w.stem))
            if Indel.normalized_similarity(_without(a, drop), _without(b, drop)) >= 0.75:
                return _written(a, hit_a), _written(b, hit_b)
    neg_a, neg_b = _negated(a), _negated(b)
    if neg_a != neg_b:
        def drop(w):
            return _NEGATION.fullmatch(w.key) is not None
        if Indel.normalized_similarity(_without(a, drop), _without(b, drop)) >= 0.75:
            return ("negated", "affirmed") if neg_a else ("affirmed", "negated")
    return None


@lru_cache(maxsize=1 << 15)
def _negated(text: str) -> bool:
    return _NEGATION.search(text) is not None


def _written(text: str, key: str) -> str:
    """A word as the text writes it, from its key or stem."""
    for w in fp.words(text):
        if key in (w.key, w.stem):
            return w.text
    return key


def changed_facts(d: Sentence, s: Sentence, s_doc_numbers: frozenset[str], s_doc_names: frozenset[str]) -> list[ChangedFact]:
    """Facts that differ between two sentences that say nearly the same thing: a number or a name
    of the derived sentence that the source article never gives, in place of one it dropped, and
    opposite words ("raised"/"cut") or a negation on one side only."""
    if d.text == s.text:  # the same words: the same numbers, names and polarity
        return []
    found = []
    nd, ns = fp.numbers(d.text), fp.numbers(s.text)
    only_d, only_s = nd - ns - s_doc_numbers, ns - nd
    if only_d and only_s:
        found.append(ChangedFact(d.index, s.index, "number", ", ".join(sorted(only_d)), ", ".join(sorted(only_s))))
    md, ms = fp.names(d.text), fp.names(s.text)
    only_d, only_s = md - ms - s_doc_names, ms - md
    if only_d and only_s:
        found.append(ChangedFact(
            d.index, s.index, "name",
            ", ".join(sorted(_written(d.text, k) for k in only_d)),
            ", ".join(sorted(_written(s.text, k) for k in only_s)),
        ))
    flip = _polarity(d.text, s.text)
    if flip:
        found.append(ChangedFact(d.index, s.index, "polarity", flip[0], flip[1]))
    return found


def _spans(a: _Side, i: int, b: _Side, j: int) -> tuple[tuple[int, int], ...]:
    """Spans of sentence `i` of `a` that match sentence `j` of `b`: equal runs of the word diff
    that hold a content word (a lone "the" or "said" in common is no copying), plus shared
    content words outside them (paraphrases keep their key words, not their order)."""
    a_words, content, offset = a.words[i], a.content[i], a.sentences[i].start
    if a_words and a.coded[i] == b.coded[j]:  # the same words: one run, the whole sentence
        return ((offset + a_words[0].start, offset + a_words[-1].end),) if any(content) else ()
    # Within the sentence the spans depend on the two texts alone (the sides were coded with
    # this thread's table): a family of reprints meets the same two sentences in many pairs.
    kept, key = _CODES.spans, (a.sentences[i].text, b.sentences[j].text)
    within = kept.get(key)
    if within is None:
        within = kept[key] = _spans_within(a, i, b, j)
        if len(kept) > _SPANS_KEPT:
            del kept[next(iter(kept))]  # the oldest first
    return tuple((offset + x, offset + y) for x, y in within)


_SPANS_KEPT = 1 << 15  # sentence pairs whose spans a thread remembers


def _spans_within(a: _Side, i: int, b: _Side, j: int) -> tuple[tuple[int, int], ...]:
    """`_spans` as offsets within the sentence."""
    a_words, content = a.words[i], a.content[i]
    shared_stems = a.stems[i] & b.stems[j]
    marked = [m in shared_stems for m in a.marks[i]]
    if a_words and b.words[j]:
        for tag, start, end, _, _ in Indel.opcodes(a.coded[i], b.coded[j]):
            if tag == "equal" and any(content[start:end]):
                marked[start:end] = [True] * (end - start)
    spans, k, n = [], 0, len(marked)
    while k < n:
        if not marked[k]:
            k += 1
            continue
        first = k
        while k < n and marked[k]:
            k += 1
        spans.append((a_words[first].start, a_words[k - 1].end))
    return tuple(spans)


def embedding_texts(doc: Document) -> list[str]:
    """What gets embedded for a document: the units (sentence, then clauses) of each body sentence."""
    return [u for s in doc.body for u in fp.units(s.norm or s.text)]


def score(derived: Document, source: Document, d_vecs: np.ndarray, s_vecs: np.ndarray) -> PairScores:
    """Score every pair of body sentences; the vectors embed `embedding_texts` of each document."""
    d_body, s_body = derived.body, source.body
    _room_for(d_body, s_body)
    a, b = _side(d_body), _side(s_body)
    sem, clause = semantic(
        [s.norm or s.text for s in a.sentences], [s.norm or s.text for s in b.sentences], d_vecs, s_vecs,
        (a.units, b.units),
    )
    feats = _features(a, b, sem, clause)
    return PairScores(feats, REUSE_MODEL.predict_proba(feats), a, b)


def _label(f, proba: float, options: AlignOptions) -> str | None:
    semantic, dice, contain, word_ratio, char_ratio = f[:5]
    if char_ratio >= options.verbatim:
        return VERBATIM
    if word_ratio >= options.edited or (contain >= 0.9 and word_ratio >= options.edited - 0.15):
        return EDITED
    if proba >= options.paraphrase and semantic >= options.min_semantic:
        return PARAPHRASE
    return None


def _labelled_mask(features: np.ndarray, proba: np.ndarray, options: AlignOptions) -> np.ndarray:
    """Where `_label` gives a label, for all pairs at once (in float64, as `_label` compares)."""
    f, p = features.astype(np.float64), proba.astype(np.float64)
    semantic, contain, word_ratio, char_ratio = f[..., 0], f[..., 2], f[..., 3], f[..., 4]
    return ((char_ratio >= options.verbatim) | (word_ratio >= options.edited)
            | ((contain >= 0.9) & (word_ratio >= options.edited - 0.15))
            | ((p >= options.paraphrase) & (semantic >= options.min_semantic)))


_RANK = {VERBATIM: 3, EDITED: 2, PARAPHRASE: 1}


def align(derived: Document, source: Document, scores: PairScores, options: AlignOptions | None = None) -> Alignment:
    """Label `derived`'s body sentences against `source`'s and the other way round.

    Rewrites follow their source in runs, even when they move paragraphs or shuffle sentences
    inside one, while two reporters covering one event make the same points in their own order. So the first pass accepts pairs
    that stand on their own evidence, the second a weaker paraphrase next to an anchor (a copy, or
    a paraphrase beyond doubt), and the last drops paraphrases with no anchor nearby unless their
    own evidence is overwhelming. Verbatim and edited copies need no company. A pair that shares
    little beyond a quotation is a shared quotation: it is shown, but anchors nothing."""
    options = options or AlignOptions()
    a, b = scores.a, scores.b
    ctx = _Context(a, b, scores, options)
    for i in range(len(a.sentences)):
        ctx.link(i, _label)
    for i in range(len(a.sentences)):
        if i not in ctx.links:
            ctx.link(i, ctx.supported)
    ctx.prune_isolated()
    return _labelled(derived, source, a, b, ctx.rows, ctx.links, tuple(dict.fromkeys(ctx.facts)))


def in_run(pairs: list[tuple[int, int]], i: int, j: int, window: int) -> bool:
    """Is the pair (i, j) near another pair (k, l): within `window` sentences in both articles?
    Order inside the window is free: a rewrite shuffles the sentences of a paragraph."""
    return any(0 < abs(k - i) <= window and abs(l - j) <= window for k, l in pairs)


@dataclass(frozen=True)
class _Link:
    j: int
    label: str
    proba: float
    quotation: bool


class _Context:
    """The state of one alignment: accepted links and the changed facts met on the way."""

    def __init__(self, a: _Side, b: _Side, scores: PairScores, options: AlignOptions):
        self.a, self.b, self.scores, self.options = a, b, scores, options
        self.s_doc_names, self.s_doc_numbers = b.all_names, b.all_numbers
        self.links: dict[int, list[_Link]] = {}
        self.facts: list[ChangedFact] = []
        self.rows, self.proba = scores.features.tolist(), scores.proba.tolist()  # Python floats: read one by one
        # Each derived sentence's candidates, most likely first (one sort for all of them).
        self.order = np.argsort(-scores.proba, axis=1)[:, : options.max_matches * 3].tolist() if len(b.sentences) else []
        self.labelled = _labelled_mask(scores.features, scores.proba, options).tolist()

    def anchors(self) -> list[tuple[int, int]]:
        return [
            (i, x.j)
            for i, xs in self.links.items()
            for x in xs
            if not x.quotation and (x.label != PARAPHRASE or x.proba >= self.options.anchor)
        ]

    def supported(self, f: np.ndarray, proba: float, options: AlignOptions, i: int = -1, j: int = -1) -> str | None:
        if proba < options.support or f[8] < options.min_semantic:
            return None
        return PARAPHRASE if in_run(self.anchors(), i, j, options.support_window) else None

    def prune_isolated(self) -> None:
        anchors = self.anchors()
        for i in list(self.links):
            kept = [
                x
                for x in self.links[i]
                if (x.label != PARAPHRASE and not x.quotation)
                or x.proba >= self.options.isolated
                or in_run(anchors, i, x.j, self.options.support_window)
            ]
            if kept:
                self.links[i] = kept
            else:
                del self.links[i]

    def link(self, i: int, rule) -> None:
        a, b, options = self.a, self.b, self.options
        best = None
        covered: set[str] = set()
        order = self.order[i] if self.order else []
        if rule is _label:  # the first pass: skip what it would turn down
            order = [j for j in order if self.labelled[i][j]]
        for j in order:
            f, p = self.rows[i][j], self.proba[i][j]
            label = rule(f, p, options) if rule is _label else rule(f, p, options, i, int(j))
            if label is None:
                continue
            shared = a.stems[i] & b.stems[j]
            if len(shared) < options.min_shared_words and label == PARAPHRASE:
                continue
            found = changed_facts(a.sentences[i], b.sentences[j], self.s_doc_numbers, self.s_doc_names)
            if found and label == PARAPHRASE:
                # Close in meaning but not in fact: not a paraphrase. Report it, keep looking.
                self.facts.extend(found)
                continue
            if best is None:
                best = p
            elif p < best - options.merge_margin or not (shared - covered):
                continue
            self.facts.extend(found)
            covered |= shared
            quote = shared_quotation(a.sentences[i].text, b.sentences[j].text)
            self.links.setdefault(i, []).append(_Link(int(j), label, p, quote))
            if len(self.links[i]) >= options.max_matches:
                break


def _unquoted(text: str) -> str:
    """The text outside quotation marks; a quotation left open runs to the end of the sentence,
    and a closing mark with no opening one closes a quotation begun in an earlier sentence."""
    text = _QUOTED.sub(" ", text)
    marks = [m.start() for m in re.finditer(r"[\"“”«»„]", text)]
    if len(marks) == 1:
        k = marks[0]
        opens = text[k] in "“«„" or (text[k] == '"' and (k == 0 or text[k - 1].isspace()))
        text = text[:k] if opens else text[k + 1 :]
    return text


def _common_stems(text: str) -> frozenset[str]:
    """Content stems of the words not capitalised (names are left out)."""
    return frozenset(w.stem for w in fp.words(text) if fp.is_content(w) and not w.text[:1].isupper())


@lru_cache(maxsize=1 << 15)  # each sentence meets many candidates
def _quotation_stems(text: str) -> tuple[frozenset[str], frozenset[str] | None]:
    """`_common_stems` of the whole sentence and of its text outside quotations (None when it
    quotes nothing)."""
    out = _unquoted(text)
    return _common_stems(text), (_common_stems(out) if out != text else None)


@lru_cache(maxsize=1 << 16)
def shared_quotation(d_text: str, s_text: str) -> bool:
    """Do two sentences share little beyond what they quote? Names are left out of the count:
    a quotation is attributed to the same speaker in both."""
    (d_all, d_out), (s_all, s_out) = _quotation_stems(d_text), _quotation_stems(s_text)
    if d_out is None and s_out is None:
        return False
    shared_all = d_all & s_all
    shared_out = (d_all if d_out is None else d_out) & (s_all if s_out is None else s_out)
    return bool(shared_all) and len(shared_out) <= 0.25 * len(shared_all)


def _labelled(derived, source, a: _Side, b: _Side, rows: list, links: dict[int, list[_Link]], facts) -> Alignment:
    """Both articles' sentences labelled from the accepted `links`; `rows`: the pair features
    as nested lists (`rows[i][j]`, derived sentence i against source sentence j)."""
    d_pos = {s.index: k for k, s in enumerate(a.sentences)}
    back: dict[int, list[int]] = {}
    d_out = []
    for s in derived.sentences:
        if s.index not in d_pos:
            d_out.append(Labelled(s))
            continue
        i = d_pos[s.index]
        pairs = links.get(i, [])
        matches = tuple(_match(a, i, b, x.j, rows[i][x.j]) for x in pairs)
        for x in pairs:
            back.setdefault(x.j, []).append(i)
        label = max((x.label for x in pairs), key=_RANK.get, default=NEW)
        quotation = bool(pairs) and all(x.quotation for x in pairs)
        d_out.append(Labelled(s, label, matches, quotation))
    s_pos = {s.index: k for k, s in enumerate(b.sentences)}
    s_out = []
    for s in source.sentences:
        if s.index not in s_pos:
            s_out.append(Labelled(s))
            continue
        j = s_pos[s.index]
        users = back.get(j, [])
        matches = tuple(_match(b, j, a, i, rows[i][j]) for i in users)
        s_out.append(Labelled(s, USED if users else OMITTED, matches))
    return Alignment(tuple(d_out), tuple(s_out), facts)


def _match(a: _Side, i: int, b: _Side, j: int, f: list[float]) -> Match:
    """Sentence `j` of `b` as a counterpart of sentence `i` of `a`; `f`: the pair's features."""
    return Match(b.sentences[j].index, max(f[1], f[3]), f[0], _spans(a, i, b, j))
