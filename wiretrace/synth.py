"""`synth`: synthetic corpora with planted rewrites of known kinds, for benchmarks at scale.

Originals are built from real articles (the Helsinki, ECB+ and BASIL texts of an evaluation-data
folder, article files, the bundled examples): runs of consecutive body sentences of one real
article. No sentence is used twice, and a sentence whose word 3-grams were mostly seen already
(a syndicated copy of a text already used) is skipped, so two originals share no text and any
pair found between unrelated articles is a false positive.

When the real runs run out, further originals are generated (`MarkovChain`): a word-level chain
trained on all real body sentences writes new ones, each with no run of five words of the real
text, none shared with an earlier original and at most a third of its word 3-grams used before,
so generated originals are as independent of each other as the real ones. They read as news
vocabulary without a story; they test lexical matching at scale, not meaning. (The paraphrase sets
are not used for more real text: their sentences are single, unrelated to their neighbours.)

Each rewrite takes one original (two for a composite) and applies one kind of change:

* ``verbatim`` — the same body under a new title, with a sharing line at the end;
* ``trimmed`` — the first 40–80 % of the sentences;
* ``edited`` — most sentences lightly edited (a word swapped, a number changed, a phrase cut);
* ``reordered`` — the paragraphs shuffled, some sentences lightly edited;
* ``paraphrased`` — every sentence rewritten by sentence-level transformations (`paraphrase`):
  synonyms, attribution moved, clauses swapped, numbers spelled, sentences merged and split;
* ``composite`` — the lead half of one original followed by the lead half of another.

`truth.jsonl` holds one line per article: ``{"id", "kind", "sources", "roots"}``, where `sources`
are the articles it was written from and `roots` the originals its text comes from; originals
also carry ``"origin"``: ``"real"`` or ``"generated"``. Both files are written as they are made.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from .errors import InputError
from .models import Article
from .options import Options, load_options
from .segment import segment

KINDS = ("verbatim", "trimmed", "edited", "reordered", "paraphrased", "composite")
_WORD = re.compile(r"\w+", re.UNICODE)
_START = date(2024, 1, 1)

# Generic news vocabulary: word -> replacements, for edits and paraphrases.
SYNONYMS = {
    "said": ["stated", "told reporters", "noted"], "says": ["states", "notes"], "told": ["informed"],
    "announced": ["declared", "made public"], "officials": ["those in charge"], "government": ["cabinet"],
    "president": ["leader"], "meeting": ["talks"], "big": ["large"], "large": ["big", "sizeable"],
    "small": ["little", "minor"], "important": ["significant", "key"], "began": ["started"],
    "start": ["begin"], "started": ["began"], "ended": ["finished"], "help": ["assist"],
    "showed": ["indicated", "revealed"], "show": ["indicate"], "people": ["individuals", "residents"],
    "country": ["nation"], "city": ["town"], "many": ["numerous", "a lot of"], "about": ["around", "roughly"],
    "more than": ["over"], "however": ["but"], "also": ["too", "as well"], "because": ["since"],
    "before": ["prior to"], "after": ["following"], "during": ["throughout"], "tried": ["sought"],
    "buy": ["purchase"], "bought": ["purchased"], "need": ["require"], "needed": ["required"],
    "get": ["obtain"], "got": ["received"], "asked": ["questioned"], "wanted": ["sought"],
    "called": ["described as"], "called for": ["urged"],
    "killed": ["left dead"], "injured": ["wounded", "hurt"], "died": ["was killed", "passed away"],
    "police": ["officers"], "house": ["home"], "company": ["firm"], "companies": ["firms"],
    "election": ["vote"], "statement": ["communique"], "week": ["seven days"], "quickly": ["rapidly"],
    "increase": ["rise"], "decrease": ["fall"], "rose": ["climbed"], "fell": ["dropped"],
    "expected": ["anticipated"], "reported": ["said"], "according to": ["citing"], "near": ["close to"],
    "would": ["will"], "could": ["might"], "major": ["big"], "new": ["fresh"], "late": ["delayed"],
}
_PHRASES = sorted(SYNONYMS, key=len, reverse=True)
_NUMBER_WORDS = {"2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven", "8": "eight",
                 "9": "nine", "10": "ten", "12": "twelve", "20": "twenty"}
_UNPAIRED = str.maketrans("", "", '"\u201c\u201d\u201e\u00ab\u00bb()[]')  # dropped: a chain cannot pair them
_SHARE_LINES = ("Share this article", "Follow us for more news", "Read more on our site")


# --- reading the real articles ----------------------------------------------------------------


def real_articles(sources: Iterable[str | os.PathLike] | None, options: Options) -> Iterator[Article]:
    """Articles from evaluation-data folders (Helsinki, ECB+, BASIL) or folders of article files."""
    from . import datasets
    from .ingest import iter_articles

    if sources is None:
        sources = [Path(__file__).parent / "examples"]
        shared = Path.cwd().parent / "shared" / "data"
        if shared.is_dir():
            sources.append(shared)
    for source in map(Path, sources):
        loaders = {"helsinki": lambda f: datasets.load_helsinki(f),
                   "ecbplus": lambda f: [x.article for x in datasets.load_ecbplus(f)],
                   "basil": lambda f: [x.article for x in datasets.load_basil(f)]}
        found = [name for name in loaders if (source / name).is_dir()]
        if found:
            for name in found:
                yield from loaders[name](source / name)
            continue
        yield from (a for a in iter_articles([source], options.ingest) if isinstance(a, Article))


def body_sentences(articles: Iterable[Article], options: Options) -> list[list[str]]:
    """The body sentences of each article, whitespace runs collapsed."""
    return [[" ".join(s.text.split()) for s in segment(article, options.segment).body] for article in articles]


class UsedText:
    """Word n-grams as integer codes (words numbered in order of first sight): the 3-grams of the
    originals made so far (`seen`) and the 5-grams of every real sentence (`real`), so that new
    text can be checked against both without keeping the n-grams as strings."""

    BITS = 21  # bits per word in a code: room for 2 097 152 distinct words

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.seen: set[int] = set()
        self.real: set[int] = set()

    def words(self, text: str) -> list[int]:
        ids = self.ids
        out = [ids.setdefault(w.lower(), len(ids)) for w in _WORD.findall(text)]
        if len(ids) >> self.BITS:
            raise InputError(f"the real articles have more than {1 << self.BITS} distinct words; "
                             "build from fewer with --from")
        return out

    def grams(self, words: list[int], n: int) -> list[int]:
        """The codes of the word n-grams of `words`."""
        codes = []
        for i in range(len(words) - n + 1):
            code = 0
            for w in words[i : i + n]:
                code = (code << self.BITS) | w
            codes.append(code)
        return codes


def originals(bodies: Iterable[list[str]], rng: random.Random, used: UsedText,
              sizes: tuple[int, int] = (5, 10)) -> list[list[str]]:
    """Disjoint runs of body sentences (each a list of sentence texts) from the real articles;
    their 3-grams are added to `used.seen`."""
    seen = used.seen
    runs: list[list[str]] = []
    for body in bodies:
        fresh = []
        for text in body:
            grams = set(used.grams(used.words(text), 3))
            if len(grams) >= 4 and len(grams & seen) <= len(grams) // 3:
                fresh.append(text)
                seen |= grams
            elif fresh:  # a reused sentence breaks the run: keep what came before it
                runs.extend(_cut(fresh, sizes, rng))
                fresh = []
        runs.extend(_cut(fresh, sizes, rng))
    return runs


def _cut(sentences: list[str], sizes: tuple[int, int], rng: random.Random) -> list[list[str]]:
    out, k = [], 0
    while len(sentences) - k >= sizes[0]:
        size = rng.randint(*sizes)
        out.append(sentences[k : k + size])
        k += size
    return out


# --- generated originals --------------------------------------------------------------------


class MarkovChain:
    """A word-level Markov chain over the tokens (words with their punctuation) of real sentences:
    order 2, with order-1 steps mixed in (share `mix`, and whenever the order-2 step is refused) so
    that generated sentences leave the paths of the real ones."""

    START, END = 0, 1

    def __init__(self, sentences: Iterable[str], used: UsedText, mix: float = 0.3) -> None:
        self.mix = mix
        ids: dict[str, int] = {}
        self.text: list[str] = ["", ""]
        self.words: list[tuple[int, ...]] = [(), ()]
        self.single: list[int] = [-1, -1]  # the token's word when it is one word, else -1
        self.next2: dict[tuple[int, int], list[int]] = defaultdict(list)
        self.next1: dict[int, list[int]] = defaultdict(list)
        for sentence in dict.fromkeys(sentences):
            used.real.update(used.grams(used.words(sentence), 5))
            tokens = [self.START, self.START]
            for raw in sentence.translate(_UNPAIRED).split():
                if raw not in ids:
                    ids[raw] = len(self.text)
                    self.text.append(raw)
                    self.words.append(tuple(used.words(raw)))
                    self.single.append(self.words[-1][0] if len(self.words[-1]) == 1 else -1)
                tokens.append(ids[raw])
            tokens.append(self.END)
            for a, b, c in zip(tokens, tokens[1:], tokens[2:]):
                self.next2[a, b].append(c)
                self.next1[b].append(c)

    def sentence(self, rng: random.Random, used: UsedText, min_words: int = 8, max_tokens: int = 50,
                 tries: int = 8) -> str | None:
        """A new sentence, or None when the chain finds no way on. It has no word 5-gram of the real
        text, no three consecutive word 3-grams used before (so no run of five words shared with
        an earlier original) and at most a third of its 3-grams used before; its 3-grams are added
        to `used.seen`. Each step tries an order-2 successor first, then order-1 ones, and takes
        the first that adds no used 3-gram, else the one adding fewest."""
        seen, real, bits = used.seen, used.real, used.BITS
        next1, next2, uniform = self.next1, self.next2, rng.random
        a = b = self.START
        tokens: list[int] = []
        words: list[int] = []
        grams: set[int] = set()
        run = repeats = 0
        pre3 = pre5 = -1  # the codes of the last two (four) words, shifted for the next one
        while len(tokens) < max_tokens:
            best = None
            for k in range(tries):
                pool = next1[b] if tokens and (k or uniform() < self.mix) else next2[a, b]
                t = pool[int(uniform() * len(pool))]
                if t == self.END:
                    if len(words) >= min_words and 3 * repeats <= len(grams):
                        seen |= grams
                        text = " ".join(self.text[x] for x in tokens)
                        return text if text[-1] in ".!?" else text + "."
                    continue
                w = self.single[t]
                if w < 0 or pre3 < 0:  # not one word, or the sentence's first words: the long way
                    step = _step(words, self.words[t], run, used, grams)
                elif pre5 >= 0 and pre5 | pre3 | w in real:
                    continue
                elif pre3 | w in seen or pre3 | w in grams:
                    step = None if run >= 2 else ((pre3 | w,), run + 1, 1)
                else:
                    step = (pre3 | w,), 0, 0
                if step is not None and (best is None or step[2] < best[1][2]):
                    best = t, step
                    if not step[2]:
                        break
            if best is None:
                return None
            t, (new, run, n_used) = best
            a, b = b, t
            tokens.append(t)
            words.extend(self.words[t])
            grams.update(new)
            repeats += n_used
            if len(words) >= 2:
                pre3 = ((words[-2] << bits) | words[-1]) << bits
            if len(words) >= 4:
                pre5 = ((words[-4] << bits) | words[-3]) << 3 * bits
        return None


def _step(words: list[int], added: tuple[int, ...], run: int, used: UsedText,
          grams: set[int]) -> tuple[list[int], int, int] | None:
    """(the new 3-gram codes, the run of used 3-grams at the end, how many of the new are used) for
    `words` extended by `added`, or None when that makes a 5-gram of the real text or a run of three
    used 3-grams (a run of five words of the real text or of an earlier original)."""
    seen, real, bits = used.seen, used.real, used.BITS
    tail = words[-4:]
    new = []
    n_used = 0
    for w in added:
        tail.append(w)
        if len(tail) < 3:
            continue
        code = (((tail[-3] << bits) | tail[-2]) << bits) | w
        if len(tail) >= 5 and ((((tail[-5] << bits) | tail[-4]) << 3 * bits) | code) in real:
            return None
        new.append(code)
        if code in seen or code in grams:
            n_used += 1
            run += 1
            if run >= 3:
                return None
        else:
            run = 0
    return new, run, n_used


def generated_originals(count: int, chain: MarkovChain, rng: random.Random, used: UsedText,
                        sizes: tuple[int, int] = (5, 10), patience: int = 200) -> list[list[str]]:
    """Up to `count` originals of generated sentences; fewer when `patience` sentences in a row
    cannot be generated (the real text is too small for more)."""
    out: list[list[str]] = []
    misses = 0
    while len(out) < count:
        body: list[str] = []
        size = rng.randint(*sizes)
        while len(body) < size:
            sentence = chain.sentence(rng, used)
            if sentence is None:
                misses += 1
                if misses >= patience:
                    return out
                continue
            misses = 0
            body.append(sentence)
        out.append(body)
    return out


# --- sentence-level transformations -------------------------------------------------------------


def _swap(sentence: str, rng: random.Random, rate: float) -> str:
    """Replace listed words and phrases (each occurrence with probability `rate`)."""

    def repl(match: re.Match) -> str:
        word = match.group(0)
        choices = SYNONYMS.get(word.lower())
        if not choices or rng.random() >= rate:
            return word
        new = rng.choice(choices)
        return new[0].upper() + new[1:] if word[0].isupper() else new

    pattern = r"\b(" + "|".join(re.escape(p) for p in _PHRASES) + r")\b"
    return re.sub(pattern, repl, sentence, flags=re.IGNORECASE)


def light_edit(sentence: str, rng: random.Random) -> str:
    """One small change: a word swapped, a number changed or a comma phrase cut."""
    choice = rng.random()
    if choice < 0.4:
        edited = _swap(sentence, rng, 0.5)
    elif choice < 0.7:
        edited = re.sub(r"\b(\d+)\b", lambda m: str(int(m.group(1)) + rng.randint(1, 3)), sentence, count=1)
    else:
        edited = re.sub(r", [^,]{5,60}, ", " ", sentence, count=1)
    return edited if edited != sentence else _swap(sentence, rng, 1.0)


def paraphrase(sentence: str, rng: random.Random) -> str:
    """A sentence reworded: synonyms, numbers spelled out, articles dropped, negations contracted,
    attribution moved, clauses swapped, parentheses dropped."""
    s = _swap(sentence, rng, 0.8)
    s = re.sub(r"\b(\d+)\b", lambda m: _NUMBER_WORDS.get(m.group(1), m.group(1)), s)
    # Headline style drops articles: each breaks the three word 3-grams around it.
    s = re.sub(r"\b(the|a|an) (?=[a-z])", lambda m: "" if rng.random() < 0.6 else m.group(0), s)
    s = re.sub(r"\b(said|says|stated|noted) that\b", r"\1", s)
    s = re.sub(r"\b(did|does|do|is|was|were|are|has|have|could|would) not\b", r"\1n't", s)
    s = re.sub(r"\s*\([^)]{1,60}\)", "", s)
    said = re.match(r"^(.{3,60}?) (said|stated|noted|told reporters) (that )?(.{20,})([.!?])$", s)
    if said and rng.random() < 0.7:
        claim = said.group(4)
        s = f"{claim[0].upper()}{claim[1:]}, {said.group(1)[0].lower()}{said.group(1)[1:]} {said.group(2)}{said.group(5)}"
    else:
        parts = re.match(r"^(.{25,}?), (and|but|while|as) (.{25,})([.!?])$", s)
        if parts and rng.random() < 0.7:
            first, second = parts.group(1), parts.group(3)
            s = f"{second[0].upper()}{second[1:]}, {parts.group(2)} {first[0].lower()}{first[1:]}{parts.group(4)}"
    return s


def _paraphrase_all(sentences: list[str], rng: random.Random) -> list[str]:
    """Every sentence paraphrased; some dropped (never all), some short neighbours merged."""
    out: list[str] = []
    for k, s in enumerate(sentences):
        # The draw comes first so that the guard (keep the last sentence when nothing is kept yet:
        # a body of five sentences loses them all once in 40 000 rewrites) changes no other body.
        if len(sentences) > 4 and rng.random() < 0.12 and (out or k < len(sentences) - 1):
            continue
        p = paraphrase(s, rng)
        if not p:  # the sentence was all parenthesis (a photo credit): nothing left to say
            continue
        if out and len(p.split()) < 12 and len(out[-1].split()) < 14 and rng.random() < 0.5:
            out[-1] = out[-1].rstrip(".!?") + "; " + p[0].lower() + p[1:]
        else:
            out.append(p)
    # Every sentence was all parenthesis: the rewrite keeps them as they are rather than be empty.
    return out or list(sentences)


def rewrite(kind: str, sentences: list[str], rng: random.Random, other: list[str] | None = None) -> list[str]:
    """The body sentences of a rewrite of `kind` (`other`: the second source of a composite)."""
    if kind == "verbatim":
        return list(sentences)
    if kind == "trimmed":
        return sentences[: max(3, round(len(sentences) * rng.uniform(0.4, 0.8)))]
    if kind == "edited":
        return [light_edit(s, rng) if rng.random() < 0.7 else s for s in sentences]
    if kind == "reordered":
        blocks = [sentences[k : k + 2] for k in range(0, len(sentences), 2)]
        rng.shuffle(blocks)
        return [light_edit(s, rng) if rng.random() < 0.3 else s for b in blocks for s in b]
    if kind == "paraphrased":
        return _paraphrase_all(sentences, rng)
    if kind == "composite":
        return sentences[: max(3, len(sentences) // 2)] + (other or [])[: max(3, len(other or []) // 2)]
    raise ValueError(f"unknown rewrite kind {kind!r}; known: {', '.join(KINDS)}")


# --- the corpus --------------------------------------------------------------------------------


def _text(sentences: list[str], rng: random.Random) -> str:
    paragraphs, k = [], 0
    while k < len(sentences):
        size = rng.randint(1, 3)
        paragraphs.append(" ".join(sentences[k : k + size]))
        k += size
    return "\n\n".join(paragraphs) + "\n"


def _title(sentences: list[str]) -> str:
    """A headline from the longer words of the lead: never the text's own first line, which the
    segmenter would take for a repeated title and drop from the body."""
    words = [w.strip(",;:\"'()") for w in sentences[0].split()]
    picked = [w for w in words if len(w) > 3][:7] or words[:5]
    return " ".join(picked).capitalize()


def plan(n: int, share: float) -> tuple[int, list[str]]:
    """(number of originals, the kinds of the rewrites) for `n` articles."""
    rewrites = round(n * share)
    count = n - rewrites
    if count < 2 and n >= 2:
        count, rewrites = 2, n - 2
    return count, [KINDS[k % len(KINDS)] for k in range(rewrites)]


def build_originals(count: int, bodies: list[list[str]], rng: random.Random) -> tuple[list[list[str]], int]:
    """At least `count` originals, no two sharing text: every run of real sentences, then generated
    ones (`MarkovChain`) when the real runs run out. Returns them, real first, and how many are real."""
    used = UsedText()
    pool = originals(bodies, rng, used)
    real = len(pool)
    if real < count:
        chain = MarkovChain((s for body in bodies for s in body), used)
        pool += generated_originals(count - real, chain, rng, used)
    if len(pool) < count:
        raise InputError(f"{count} originals needed, but the real articles give only {real} without "
                         f"shared text and {len(pool) - real} more could be generated from them; lower N, "
                         "raise --rewrites or add more real articles with --from")
    return pool, real


def synth(n: int, out: str | os.PathLike, sources: Iterable[str | os.PathLike] | None = None, *,
          share: float = 0.5, seed: int = 1, options: Options | None = None) -> dict[str, int]:
    """Write `n` articles (``out/articles.jsonl``) and their ground truth (``out/truth.jsonl``);
    returns the number of articles of each kind, where ``original`` counts the originals taken from
    real articles and ``generated`` those generated from them."""
    options = options or load_options()
    rng = random.Random(seed)
    count, kinds = plan(n, share)
    pool, real = build_originals(count, body_sentences(real_articles(sources, options), options), rng)
    origin = list(range(len(pool)))  # originals in random order, real or generated
    rng.shuffle(origin)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    days = [rng.randint(0, 90) for _ in range(count)]
    with _writing(out / "articles.jsonl") as articles, _writing(out / "truth.jsonl") as truth:
        for k, x in enumerate(origin[:count]):
            oid = f"orig-{k:06d}"
            articles(_record(oid, f"Agency {k % 20}", days[k], _title(pool[x]), pool[x], rng))
            truth({"id": oid, "kind": "original", "origin": "real" if x < real else "generated",
                   "sources": [], "roots": [oid]})
        for j, kind in enumerate(kinds):
            a = rng.randrange(count)
            b = (a + 1 + rng.randrange(count - 1)) % count if kind == "composite" else None
            body = rewrite(kind, pool[origin[a]], rng, pool[origin[b]] if b is not None else None)
            if kind == "verbatim":
                body = body + [rng.choice(_SHARE_LINES)]
            ids = [f"orig-{x:06d}" for x in (a, b) if x is not None]
            day = max(days[x] for x in (a, b) if x is not None) + rng.randint(0, 2)
            rid = f"{kind}-{j:06d}"
            articles(_record(rid, f"Site {rng.randrange(200)}", day, _title(body), body, rng))
            truth({"id": rid, "kind": kind, "sources": ids, "roots": ids})
    generated = sum(x >= real for x in origin[:count])
    counts = {"original": count - generated, "generated": generated}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _record(id_: str, outlet: str, day: int, title: str, body: list[str], rng: random.Random) -> dict:
    return {"id": id_, "outlet": outlet, "published": (_START + timedelta(days=day)).isoformat(),
            "title": title, "text": _text(body, rng)}


@contextmanager
def _writing(path: Path) -> Iterator[Callable[[dict], None]]:
    """A function writing one JSON line to `path`, which appears (whole) only when the block ends
    without an error."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            yield lambda row: handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
