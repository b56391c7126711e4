"""MinHash signatures of body word shingles, many documents at a time.

One-permutation hashing with optimal densification (Shrivastava, "Optimal Densification for Fast
and Accurate Minwise Hashing", ICML 2017): each distinct word n-gram gets one 64-bit hash; its top
bits pick one of `num_perm` bins and the minimum of its low 32 bits per bin is that bin's value.
A bin no shingle fell into copies the value of the first non-empty bin along a probe sequence
fixed per bin (the same for every document), so two documents' signatures agree on a slot with
probability their Jaccard similarity, as with `num_perm` independent permutations, at the cost of
one hash per shingle instead of `num_perm`.

`signatures` does a batch of texts (about a megabyte of them) per set of numpy calls: the texts
are joined, tokenised on their code points (the words `fingerprint.words` finds, by the same
rule), and each distinct token is keyed (`fingerprint`'s NFKC, lower-cased key) once per process.
`signature_reference` is the slow, obviously correct version the tests hold it to.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from . import fingerprint as fp
from .models import BODY, Document

EMPTY = np.uint32(0xFFFFFFFF)  # every slot of the signature of an article without words
_TOP = 0xFFFFFFFE  # the largest slot value of a set with members
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93], dtype=np.uint64)
_PROBE_SEED = 0x5851F42D4C957F2D
_JOINERS = np.array([ord(c) for c in "’'."], dtype=np.uint32)  # inside a word between word characters
_POLY = 0x100000001B3  # odd: invertible modulo 2**64
_M64 = (1 << 64) - 1
_BATCH_CHARS = 1 << 20  # code points per set of numpy calls (at most 2**24: positions fit 24 bits)


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit affects every output bit."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _mix_int(h: int) -> int:
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _M64
    return h ^ (h >> 31)


def body_text(doc: Document) -> str:
    """The text the lexical fingerprint is taken over: body sentences, one per line."""
    return "\n".join([s.text for s in doc.sentences if s.role == BODY])


def _string_id(text: str) -> int:
    """`_token_ids` of one string, in plain Python: the hash of a word's key."""
    h = 0
    for c in reversed(text):
        h = (h * _POLY + ord(c)) & _M64
    return _mix_int(h ^ ((len(text) * int(_MIX[3])) & _M64))


# --- tokens on code points -------------------------------------------------------------------------

_word_char = np.zeros(0, dtype=bool)  # code point -> is a regex word character (\w); grown as needed
_WORD_RUN = re.compile(r"\w+")


def _word_chars(cp: np.ndarray) -> np.ndarray:
    """Which code points are word characters: `re`'s answer for every code point up to the largest
    seen, asked once per process (one regex pass over a string of them all)."""
    global _word_char
    table = _word_char
    top = int(cp.max(initial=0)) + 1
    if top > len(table):
        grown = np.zeros(top, dtype=bool)
        grown[: len(table)] = table
        chars = "".join(map(chr, range(len(table), top)))
        for m in _WORD_RUN.finditer(chars):
            grown[len(table) + m.start() : len(table) + m.end()] = True
        _word_char = table = grown  # readers in other threads keep the old, shorter table
    return table[cp]


def _tokens(cp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the matches of `fingerprint._WORD` (``\\w+(?:[’'.]\\w+)*``) in `cp`: the
    maximal runs of word characters and of joiners that have a word character on both sides."""
    word = _word_chars(cp)
    inside = word.copy()
    if len(cp) > 2:
        gaps = np.flatnonzero(~word[1:-1] & word[:-2] & word[2:]) + 1
        inside[gaps[np.isin(cp[gaps], _JOINERS)]] = True
    edges = np.flatnonzero(inside[1:] != inside[:-1]) + 1
    edges = np.concatenate([[0] if len(cp) and inside[0] else [], edges, [len(cp)] if len(cp) and inside[-1] else []])
    edges = edges.astype(np.int64)
    return edges[0::2], edges[1::2]


def _power_tables(base: int) -> tuple[np.ndarray, np.ndarray]:
    """base**t and base**(4096 b) modulo 2**64 for t, b < 4096: base**p = low[p % 4096] * high[p // 4096]."""
    low = np.cumprod(np.full(1 << 12, base, dtype=np.uint64), dtype=np.uint64) * pow(base, -1, 1 << 64)
    high = np.cumprod(np.full(1 << 12, pow(base, 1 << 12, 1 << 64), dtype=np.uint64), dtype=np.uint64)
    return low, high * pow(base, -(1 << 12), 1 << 64)


def _token_ids(cp: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each token's code points (polynomial, mixed with its length): equal tokens
    get equal ids, distinct ones collide with negligible probability."""
    low, high = _power_tables(_POLY)
    blocks = -(-len(cp) // len(low))
    prefix = np.zeros(blocks * len(low) + 1, dtype=np.uint64)
    weighted = prefix[1:].reshape(blocks, len(low))
    weighted.ravel()[: len(cp)] = cp
    weighted *= low
    weighted *= high[:blocks, None]  # cp[j] * _POLY**j
    np.cumsum(prefix, out=prefix)
    low, high = _power_tables(pow(_POLY, -1, 1 << 64))
    ids = (prefix[ends] - prefix[starts]) * (low[starts & 0xFFF] * high[starts >> 12])  # sum cp[j] * _POLY**(j - start)
    return _mix(ids ^ (ends - starts).astype(np.uint64) * _MIX[3])


def _group(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(representatives, inverse): one position of each distinct id, and for each position the
    number of its group (`ids[representatives[inverse]] == ids`). A sort of the ids' top 40 bits
    packed with positions stands in for an argsort; ids that agree there but differ below fall in
    groups of their own, so the grouping stays exact."""
    position = np.arange(len(ids), dtype=np.uint64)
    order = (np.sort((ids & np.uint64(~0xFFFFFF & _M64)) | position) & np.uint64(0xFFFFFF)).astype(np.int64)
    ordered = ids[order]
    new = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    inverse = np.empty(len(ids), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse


def _word_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The hash of every word of every text, concatenated, and where each text's words start."""
    joined = "\n".join(texts)  # "\n" is neither a word character nor a joiner: no token spans texts
    cp = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    starts, ends = _tokens(cp)
    text_starts = np.cumsum([0] + [len(t) + 1 for t in texts])
    bounds = np.searchsorted(starts, text_starts)
    if not len(starts):
        return np.zeros(0, dtype=np.uint64), bounds
    ids = _token_ids(cp, starts, ends)
    firsts, inverse = _group(ids)
    distinct = ids[firsts].tolist()
    known = _KEY_IDS.get
    hashes = [known(i, i) for i in distinct]  # most words are their own key
    fresh = [j for j, i in enumerate(distinct) if i not in _SEEN]
    if fresh:
        _learn([distinct[j] for j in fresh], [joined[s:e] for s, e in zip(starts[firsts[fresh]].tolist(),
                                                                          ends[firsts[fresh]].tolist())])
        known = _KEY_IDS.get  # `_learn` may have started a new table
        for j in fresh:
            hashes[j] = known(distinct[j], distinct[j])
    return np.array(hashes, dtype=np.uint64)[inverse], bounds


# A word's hash is the id of its key (`fingerprint` lower-cases and NFKC-normalises): the word's own
# id when the key is the word as written, else the key's. Ids met so far, and the key ids of those
# that differ, kept per process (reset when large).
_SEEN: set[int] = set()
_KEY_IDS: dict[int, int] = {}


def _learn(ids: list[int], tokens: list[str]) -> None:
    global _SEEN, _KEY_IDS
    if len(_SEEN) > 1 << 21:
        _SEEN, _KEY_IDS = set(), {}
    keys = [fp._key(t) for t in tokens]
    changed = [j for j, (t, k) in enumerate(zip(tokens, keys)) if t != k]
    if changed:
        _KEY_IDS.update(zip([ids[j] for j in changed], _ids_of([keys[j] for j in changed]).tolist()))
    _SEEN.update(ids)


def _ids_of(strings: list[str]) -> np.ndarray:
    """`_token_ids` of whole strings."""
    lengths = np.array([len(t) for t in strings], dtype=np.int64)
    ends = np.cumsum(lengths)
    cp = np.frombuffer("".join(strings).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return _token_ids(cp, ends - lengths, ends)


def _shingles(words: np.ndarray, bounds: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(hash, text number) of every word n-gram of each text (a text of fewer than `n` words has one
    shingle of all its words): word hashes times a per-position constant, summed."""
    counts = np.diff(bounds)
    text = np.repeat(np.arange(len(counts)), counts)
    last = bounds[1:] - 1  # the last word of each text
    # Full n-grams start where the n-th word from here is still in the same text.
    full = np.flatnonzero(np.arange(len(words)) + n - 1 <= last[text]) if len(words) else np.zeros(0, np.int64)
    h = np.zeros(len(full), dtype=np.uint64)
    for i in range(n):
        h += words[full + i] * _MIX[i % len(_MIX)]
    short = np.flatnonzero((counts > 0) & (counts < n))
    extra = np.zeros(len(short), dtype=np.uint64)
    for k, t in enumerate(short.tolist()):
        extra[k] = (words[bounds[t] : bounds[t + 1]] * _MIX[np.arange(counts[t]) % len(_MIX)]).sum(dtype=np.uint64)
    return np.concatenate([h, extra]), np.concatenate([text[full], short])


def _probe(bins: np.ndarray, attempt: int, num_perm: int) -> np.ndarray:
    """The bin an empty bin copies from on its `attempt`-th try: the same for every document."""
    h = _mix((bins.astype(np.uint64) << np.uint64(32)) + np.uint64(attempt) + np.uint64(_PROBE_SEED))
    return (((h >> np.uint64(32)) * np.uint64(num_perm)) >> np.uint64(32)).astype(np.int64)


def _one_permutation(hashes: np.ndarray, owners: np.ndarray, count: int, num_perm: int) -> np.ndarray:
    """(count, num_perm) uint32 signatures of `count` sets, `hashes[i]` (mixed) a member of set
    `owners[i]`; densified, and `EMPTY` throughout for a set without members (no member's value
    is `EMPTY`: the low 32 bits are capped one below it)."""
    bins = ((hashes >> np.uint64(32)) * np.uint64(num_perm)) >> np.uint64(32)
    values = np.minimum(hashes & np.uint64(0xFFFFFFFF), np.uint64(_TOP)).astype(np.uint32)
    cells = np.full(count * num_perm, EMPTY, dtype=np.uint32)
    np.minimum.at(cells, owners.astype(np.int64) * num_perm + bins.astype(np.int64), values)
    cells = cells.reshape(count, num_perm)
    filled = cells != EMPTY
    docs, empty = np.nonzero(~filled & filled.any(axis=1)[:, None])
    attempt = 0
    while len(docs):  # filled bins never change, so copying in place reads only original values
        attempt += 1
        source = _probe(empty, attempt, num_perm)
        hit = filled[docs, source]
        cells[docs[hit], empty[hit]] = cells[docs[hit], source[hit]]
        docs, empty = docs[~hit], empty[~hit]
    return cells


# --- the public functions --------------------------------------------------------------------------


def shingle_hashes(text: str, n: int = 3) -> np.ndarray:
    """64-bit hashes of the distinct word n-grams of `text`: the set `fingerprint.shingles` gives,
    hashed position-aware (`minhash` of these is the signature of `text`)."""
    words, bounds = _word_hashes([text])
    return np.unique(_shingles(words, bounds, n)[0])


def minhash(hashes: np.ndarray, num_perm: int = 128) -> np.ndarray:
    """The signature (uint32 per slot) of a set of 64-bit hashes."""
    hashes = _mix(np.asarray(hashes, dtype=np.uint64) ^ np.uint64(_PROBE_SEED))
    return _one_permutation(hashes, np.zeros(len(hashes), dtype=np.int64), 1, num_perm)[0]


def signatures_of_texts(texts: Sequence[str], n: int = 3, num_perm: int = 128) -> np.ndarray:
    """(len(texts), num_perm) signatures of the word n-grams of each text, a few thousand texts per
    set of numpy calls."""
    parts, start = [], 0
    while start < len(texts):
        end, size = start, 0
        while end < len(texts) and (end == start or size + len(texts[end]) < _BATCH_CHARS):
            size, end = size + len(texts[end]) + 1, end + 1
        words, bounds = _word_hashes(texts[start:end])
        shingles, owners = _shingles(words, bounds, n)
        parts.append(_one_permutation(_mix(shingles ^ np.uint64(_PROBE_SEED)), owners, end - start, num_perm))
        start = end
    return np.concatenate(parts) if parts else np.zeros((0, num_perm), dtype=np.uint32)


def signatures(docs: Sequence[Document], options=None) -> np.ndarray:
    """(len(docs), num_perm) signatures of the body word shingles of each document, in one pass."""
    from .options import Options

    f = (options or Options()).fingerprint
    return signatures_of_texts([body_text(d) for d in docs], f.shingle, f.num_perm)


def signature(doc: Document, options=None) -> np.ndarray:
    """The signature of one document's body word shingles."""
    return signatures([doc], options)[0]


def signature_reference(text: str, n: int = 3, num_perm: int = 128) -> np.ndarray:
    """The slow, obviously correct `signatures_of_texts` of one text, in plain Python: words from
    `fingerprint.words`, one hash per distinct shingle, bin minima, then each empty bin copies the
    first non-empty bin of its probe sequence."""
    keys = [w.key for w in fp.words(text)]
    width = min(n, len(keys))
    grams = {tuple(keys[i : i + width]) for i in range(len(keys) - width + 1)} if keys else set()
    bins: list[int | None] = [None] * num_perm
    for gram in grams:
        h = sum(_string_id(k) * int(_MIX[i % len(_MIX)]) for i, k in enumerate(gram)) & _M64
        h = _mix_int(h ^ _PROBE_SEED)
        slot, value = ((h >> 32) * num_perm) >> 32, min(h & 0xFFFFFFFF, _TOP)
        bins[slot] = value if bins[slot] is None else min(bins[slot], value)
    if not grams:
        return np.full(num_perm, EMPTY, dtype=np.uint32)
    out = []
    for i, value in enumerate(bins):
        attempt = 0
        while value is None:
            attempt += 1
            probe = _mix_int(((i << 32) + attempt + _PROBE_SEED) & _M64)
            value = bins[((probe >> 32) * num_perm) >> 32]
        out.append(value)
    return np.array(out, dtype=np.uint32)


def jaccard_estimate(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """Share of equal slots: the MinHash estimate of Jaccard. `b` may be a matrix of signatures."""
    equal = np.asarray(b) == np.asarray(a)
    return np.count_nonzero(equal, axis=-1) / equal.shape[-1]  # a float mean of booleans is slower
