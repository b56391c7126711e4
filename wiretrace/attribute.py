"""Attribution: the verdict on an aligned pair, which article is the original and why, and whether
the rewrite credits its source.

Direction is a sum of signed pieces of evidence (log-odds that the first article is the original):
publication dates, agency bylines and datelines, first-hand reporting ("told AFP"), one article
naming the other's outlet, and which side of the aligned sentences carries the detail — rewrites
condense, so the original's half of a matched pair usually holds words and figures the rewrite's
half lacks. Each piece that fires becomes a line of evidence a reader can check.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import fingerprint as fp
from .align import in_run
from .ingest import agencies_mentioned
from .errors import ConfigError
from .models import (
    EDITED,
    NEW,
    NOT_DERIVED,
    PARTIALLY,
    VERDICTS,
    WHOLLY,
    Alignment,
    Article,
    Direction,
    Document,
    Sentence,
    VERBATIM,
    Verdict,
)
from .options import AttributeOptions

_FIRST_HAND = re.compile(r"\b(?:told|said to|speaking to|in an interview with)\s+(?:the\s+)?([A-Z][\w.&-]+)")


@lru_cache(maxsize=1 << 14)  # asked of both articles of every pair
def _when(value: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        try:
            return datetime.combine(date.fromisoformat(value[:10]), datetime.min.time())
        except ValueError:
            return None


def _words(labelled) -> int:
    return fp.word_count(labelled.sentence.text)


def shares(alignment: Alignment) -> tuple[float, float, int]:
    """Share of the derived body's words that come from the source, share of the source body's
    words reused, and how many derived sentences were matched other than by a shared quotation."""
    d_body = [x for x in alignment.derived if x.label]
    s_body = [x for x in alignment.source if x.label]
    d_total = sum(map(_words, d_body)) or 1
    s_total = sum(map(_words, s_body)) or 1
    copied = [x for x in d_body if x.label != NEW and not x.quotation]
    used = {m.index for x in copied for m in x.matches}
    s_used = sum(_words(x) for x in s_body if x.sentence.index in used)
    return sum(map(_words, copied)) / d_total, s_used / s_total, len(copied)


def coherence(alignment: Alignment, window: int = 3) -> float:
    """Share of matched derived sentences that sit in a run of matches in the same order."""
    links = [
        (x.sentence.index, m.index)
        for x in alignment.derived
        if x.label and x.label != NEW and not x.quotation
        for m in x.matches
    ]
    matched = {i for i, _ in links}
    in_runs = {i for i, j in links if in_run(links, i, j, window)}
    return len(in_runs) / len(matched) if matched else 0.0


@lru_cache(maxsize=1 << 12)  # asked of both outlets of every pair
def _outlet_key(outlet: str) -> str:
    """"www.example-times.co.uk" -> "exampletimes"; "The Example Times" -> "theexampletimes"."""
    host = outlet.lower().removeprefix("www.")
    if "." in host and " " not in host:
        host = host.split(".")[0]
    return re.sub(r"[\W_]+", "", host)


@lru_cache(maxsize=1024)  # whole article texts, asked once per pair and direction
def _squashed(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _names_outlet(text: str, outlet: str) -> bool:
    key = _outlet_key(outlet)
    if len(key) < 4:
        return False
    squashed = _squashed(text)
    return key in squashed or key.removeprefix("the") in squashed


def credit(derived: Article, source: Article) -> tuple[bool, tuple[str, ...]]:
    """Does the derived article name the source's outlet, or an agency the source credits?"""
    evidence = []
    named = set(agencies_mentioned(derived.text))
    for agency in sorted(named & (set(source.credits) | {source.byline})):
        evidence.append(f"{derived.id} names {agency}, which {source.id} credits")
    if source.outlet and _names_outlet(derived.text, source.outlet):
        evidence.append(f"{derived.id} names {source.id}'s outlet ({source.outlet})")
    return bool(evidence), tuple(evidence)


@lru_cache(maxsize=1 << 15)
def _content(text: str) -> frozenset[str]:
    return frozenset(fp.content_stems(text))


def _detail_balance(alignment: Alignment, derived: Document, source: Document) -> float:
    """(source-only minus derived-only content words) / all unshared ones, over matched pairs."""
    s_text = {s.index: s.text for s in source.sentences}
    only_d = only_s = 0
    for x in alignment.derived:
        if not x.matches or x.label == NEW:
            continue
        d = _content(x.sentence.text)
        s = frozenset().union(*(_content(s_text[m.index]) for m in x.matches))
        only_d += len(d - s)
        only_s += len(s - d)
    total = only_d + only_s
    return (only_s - only_d) / total if total else 0.0


@lru_cache(maxsize=1024)  # whole article texts, asked once per pair and direction
def _told(text: str) -> frozenset[str]:
    """Who the text says it spoke to ("told AFP", "in an interview with Reuters")."""
    return frozenset(m.group(1) for m in _FIRST_HAND.finditer(text))


def direction(a: Document, b: Document, alignment: Alignment) -> Direction:
    """Which of `a` and `b` is the original. `alignment` labels `a` as the derived side."""
    x, y = a.article, b.article
    score = 0.0  # > 0: b is the original
    evidence: list[str] = []
    wa, wb = _when(x.published), _when(y.published)
    if wa and wb and wa != wb:
        score += 3.0 if wb < wa else -3.0
        first, second = (y, x) if wb < wa else (x, y)
        evidence.append(f"{first.id} was published first ({first.published} before {second.published})")
    for one, other, sign in ((y, x, 1.0), (x, y, -1.0)):
        if one.credits and not other.credits:
            score += 1.5 * sign
            evidence.append(f"{one.id} carries an agency byline or dateline ({', '.join(one.credits)}); {other.id} does not")
        first_hand = sorted(_told(one.text) & set(agencies_mentioned(one.text)))
        if first_hand and not _told(other.text):
            score += 1.0 * sign
            evidence.append(f"{one.id} reports first-hand (quotes given to {', '.join(first_hand)})")
        if one.outlet and _names_outlet(other.text, one.outlet):
            score += 2.0 * sign
            evidence.append(f"{other.id} names {one.id}'s outlet ({one.outlet})")
    balance = _detail_balance(alignment, a, b)
    if abs(balance) >= 0.1 and any(s.matches for s in alignment.derived):
        score += 2.0 * balance
        richer, poorer = (y, x) if balance > 0 else (x, y)
        evidence.append(
            f"in the matched sentences {richer.id} has the fuller text: "
            f"{poorer.id} condenses it (detail balance {abs(balance):.2f})"
        )
    if not evidence:
        evidence.append(f"no evidence either way; {y.id} taken as the source, as given")
    original = y if score >= 0 else x
    confidence = 1.0 / (1.0 + math.exp(-abs(score)))
    return Direction(original.id, confidence, tuple(evidence))


# --- the verdict -------------------------------------------------------------------------------

# What the verdict model sees of an aligned pair. All language-neutral: the alignment's shares
# (which carry paraphrase), and word n-gram overlap of the two bodies both ways (which catches
# copying that sentence alignment splits or misses, and tells a rewrite from an independent report
# of the same event by how much of it runs in long shared stretches).
DOCUMENT_FEATURES = (
    "derived_share",  # share of the derived body's words in matched sentences
    "source_share",  # share of the source body's words reused
    *(f"contain{n}" for n in range(1, 6)),  # share of the derived body's word n-grams in the source body
    *(f"source_contain{n}" for n in range(1, 6)),  # ... of the source body's in the derived body
    "tiled3",  # share of the derived body's words inside word 3-grams the source also has
    "tiled6",  # ... inside word 6-grams
    "source_tiled4",  # share of the source body's words inside word 4-grams the derived body has
    "derived_words",  # log(1 + words of the derived body)
    "source_words",  # log(1 + words of the source body)
)


@dataclass(frozen=True)
class _Grams:
    """One body's word n-grams (n = 1..6) as hashes: in text order, and sorted without repeats."""

    words: int
    runs: tuple[np.ndarray, ...]  # runs[n - 1]: the hash of every n-gram, in order
    sets: tuple[np.ndarray, ...]  # sets[n - 1]: np.unique(runs[n - 1])
    distinct: np.ndarray  # sets[0] .. sets[4] end to end: the containment features' n-grams
    every: np.ndarray  # the n-grams of every n, sorted without repeats: membership for all n at once


@lru_cache(maxsize=1024)  # an article meets several candidates in a scan batch
def _body_grams(body: tuple[Sentence, ...]) -> _Grams:
    keys = np.fromiter((hash(w.key) for s in body for w in fp.tokens(s.norm or s.text)), dtype=np.int64).view(np.uint64)
    runs, gram = [], keys
    for n in range(1, 7):  # the hash of an n-gram: its (n-1)-gram's, mixed with the next word's
        if n > 1:
            gram = (gram[:-1] * np.uint64(0x9E3779B97F4A7C15)) ^ keys[n - 1 :]
            gram ^= gram >> np.uint64(29)
        runs.append(gram.view(np.int64))
    sets = tuple(map(np.unique, runs))
    # One sorted array of the n-grams of every n: an n-gram and an m-gram share a 64-bit hash by
    # chance only (about one pair of articles in 10^13), so it answers "has this n-gram?" for any n.
    return _Grams(len(keys), tuple(runs), sets, np.concatenate(sets[:5]), np.unique(np.concatenate(sets)))


def _member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Which of `values` are in `sorted_set` (sorted, unique): one binary search each."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[at] == values


def _contained(a: _Grams, b: _Grams) -> list[tuple[float, float]]:
    """For n = 1..5: (share of `a`'s distinct word n-grams that `b` has, share of `b`'s that `a`
    has). One count of the shared ones serves both; one search finds them for every n."""
    sizes = [len(x) for x in a.sets[:5]]
    ends = np.cumsum(sizes)
    counted = np.concatenate([[0], np.cumsum(_member(a.distinct, b.every))])
    shared = (counted[ends] - counted[ends - sizes]).tolist()
    return [(k / x if x else 0.0, k / len(y) if len(y) else 0.0) for k, x, y in zip(shared, sizes, b.sets)]


def _coverage(starts: np.ndarray, n: int, words: int) -> float:
    """Share of `words` covered by shared n-grams starting at `starts` (in order: only the gaps
    between them count, so positions in a longer array that holds them serve as well)."""
    if words < n or not len(starts):
        return 0.0
    return int(np.minimum(np.diff(starts), n).sum() + n) / words


def _tiled(a: _Grams, b: _Grams, n: int) -> float:
    """Share of `a`'s words covered by word n-grams that `b` also has (greedy string tiling's
    coverage, without its tile-by-tile bookkeeping): each shared n-gram covers its own words up
    to where the next one starts."""
    return _coverage(np.flatnonzero(_member(a.runs[n - 1], b.every)), n, a.words)


def explained(a: Document, b: Document, earlier: list[Document], least: int = 10, slack: int = 3) -> bool:
    """Is the text `a` and `b` share already in articles published before both (`earlier`)? Two
    reprints of one wire story share its text; neither is a rewrite of the other, and comparing
    them would only say what comparing each with the story says. True when they share at least
    `least` distinct word 3-grams and at most `slack` of those are in none of `earlier`. A pair
    that shares fewer may be paraphrase built on paraphrase (which shares meaning, not words), and
    one with more left over shares text that the earlier articles lack: those need the alignment."""
    shared = np.intersect1d(_body_grams(a.body).sets[2], _body_grams(b.body).sets[2], assume_unique=True)
    if len(shared) < max(least, 1):
        return False
    for other in earlier:
        shared = shared[~_member(shared, _body_grams(other.body).sets[2])]
        if len(shared) <= slack:
            return True
    return False


def document_features(derived: Document, source: Document, alignment: Alignment,
                      shared: tuple[float, float, int] | None = None) -> np.ndarray:
    """The `DOCUMENT_FEATURES` of `derived` aligned against `source`, one float each
    (`shared`: `shares(alignment)` when the caller has it)."""
    d_share, s_share, _ = shared or shares(alignment)
    a, b = _body_grams(derived.body), _body_grams(source.body)
    contained = _contained(a, b)
    three, six = a.runs[2], a.runs[5]  # both of `a`'s tilings in one search
    hits = np.flatnonzero(_member(np.concatenate([three, six]), b.every))
    cut = int(np.searchsorted(hits, len(three)))
    return np.asarray([
        d_share, s_share, *(x for x, _ in contained), *(y for _, y in contained),
        _coverage(hits[:cut], 3, a.words), _coverage(hits[cut:], 6, a.words),
        _tiled(b, a, 4), math.log1p(a.words), math.log1p(b.words),
    ])


@lru_cache(maxsize=16)
def _columns(features: tuple[str, ...]) -> list[int]:
    return [DOCUMENT_FEATURES.index(f) for f in features]


@dataclass(frozen=True)
class VerdictModel:
    """Multinomial logistic regression from `DOCUMENT_FEATURES` to the three verdicts, fitted by
    ``eval/fit.py`` on the development data and shipped in ``data/verdict_model.json``."""

    features: tuple[str, ...]
    classes: tuple[str, ...]
    weights: np.ndarray  # (classes, features), on the raw features
    bias: np.ndarray  # (classes,)

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        z = np.atleast_2d(rows)[:, _columns(self.features)] @ self.weights.T + self.bias
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def predict(self, row: np.ndarray) -> str:
        return self.classes[int(np.argmax(self.predict_proba(row)[0]))]

    @classmethod
    def from_dict(cls, data: dict, origin: str = "") -> "VerdictModel":
        try:
            model = cls(tuple(data["features"]), tuple(data["classes"]),
                        np.asarray(data["weights"], dtype=float), np.asarray(data["bias"], dtype=float))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"not a verdict model ({exc}); expected eval/fit.py's verdict_model.json",
                              path=origin) from None
        unknown = set(model.features) - set(DOCUMENT_FEATURES)
        if unknown or set(model.classes) != set(VERDICTS) or model.weights.shape != (3, len(model.features)):
            raise ConfigError(f"verdict model does not fit this version of wiretrace (features "
                              f"{sorted(unknown)} unknown, or not one weight row per verdict)", path=origin)
        return model


SHIPPED_MODEL = Path(__file__).parent / "data" / "verdict_model.json"


@lru_cache(maxsize=4)
def load_verdict_model(path: str = "fitted") -> VerdictModel | None:
    """The verdict model named by `attribute.model`: "fitted" (the shipped one), "rule" (none:
    the share thresholds decide) or the path of a JSON file written by ``eval/fit.py``."""
    if path == "rule":
        return None
    file = SHIPPED_MODEL if path == "fitted" else Path(path)
    try:
        data = json.loads(file.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError("verdict model file not found; attribute.model takes fitted, rule or a path",
                          path=file) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"verdict model is not JSON ({exc})", path=file) from None
    return VerdictModel.from_dict(data, str(file))


def copies(alignment: Alignment) -> tuple[float, int]:
    """Share of the derived body's words in sentences copied word for word or lightly edited
    (not through a shared quotation), and how many such sentences there are."""
    d_body = [x for x in alignment.derived if x.label]
    total = sum(map(_words, d_body)) or 1
    copied = [x for x in d_body if x.label in (VERBATIM, EDITED) and not x.quotation]
    return sum(map(_words, copied)) / total, len(copied)


def rule_verdict(d_share: float, matched: int, options: AttributeOptions) -> str:
    """The share-threshold rule (`attribute.model = "rule"`)."""
    if d_share >= options.wholly and matched >= 1:
        return WHOLLY
    if d_share >= options.partially and matched >= options.min_sentences:
        return PARTIALLY
    return NOT_DERIVED


def attribute(derived: Document, source: Document, alignment: Alignment, dir_: Direction,
              options: AttributeOptions | None = None) -> Verdict:
    """The verdict on `derived` as a rewrite of `source`.

    The fitted model weighs how much of the text the two bodies share; a heavy paraphrase shares
    few word n-grams, so where the alignment itself shows reuse (at least `partially` of the words
    in at least `min_sentences` matched sentences, or in at least `min_copies` sentences copied
    verbatim or lightly edited) the verdict is at least "partially derived". With no sentence
    aligned and no word 3-gram shared there is no evidence of reuse to show, and the verdict is
    "not derived" whatever the model extrapolates (say, for a very short text)."""
    options = options or AttributeOptions()
    d_share, s_share, matched = shares(alignment)
    model = load_verdict_model(options.model)
    verdict = rule_verdict(d_share, matched, options)
    if model is not None:
        features = document_features(derived, source, alignment, (d_share, s_share, matched))
        fitted = model.predict(features)
        verdict = PARTIALLY if fitted == NOT_DERIVED and verdict != NOT_DERIVED else fitted
        if matched == 0 and features[DOCUMENT_FEATURES.index("contain3")] == 0.0:
            verdict = NOT_DERIVED  # no sentence aligned and no phrase shared: nothing shows reuse
    copied_share, copied = copies(alignment)
    if verdict == NOT_DERIVED and copied_share >= options.partially and copied >= options.min_copies:
        verdict = PARTIALLY  # whole sentences copied are not a coincidence, however few
    credited, credit_evidence = credit(derived.article, source.article)
    quotes = sum(1 for x in alignment.derived if x.quotation)
    return Verdict(verdict, d_share, s_share, dir_, credited, credit_evidence, quotes)
