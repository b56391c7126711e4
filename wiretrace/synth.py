"""`synth`: synthetic corpora with planted rewrites of known kinds, for benchmarks at scale.

Originals are built from real articles (the Helsinki, ECB+ and BASIL texts of an evaluation-data
folder, article files, the bundled examples): runs of consecutive body sentences of one real
article. No sentence is used twice, and a sentence whose word 3-grams were mostly seen already
(a syndicated copy of a text already used) is skipped, so two originals share no text and any
pair found between unrelated articles is a false positive.

Each rewrite takes one original (two for a composite) and applies one kind of change:

* ``verbatim`` — the same body under a new title, with a sharing line at the end;
* ``trimmed`` — the first 40–80 % of the sentences;
* ``edited`` — most sentences lightly edited (a word swapped, a number changed, a phrase cut);
* ``reordered`` — the paragraphs shuffled, some sentences lightly edited;
* ``paraphrased`` — every sentence rewritten by sentence-level transformations (`paraphrase`):
  synonyms, attribution moved, clauses swapped, numbers spelled, sentences merged and split;
* ``composite`` — the lead half of one original followed by the lead half of another.

`truth.jsonl` holds one line per article: ``{"id", "kind", "sources", "roots"}``, where `sources`
are the articles it was written from and `roots` the originals its text comes from.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Iterable, Iterator
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


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = [w.lower() for w in _WORD.findall(text)]
    return {tuple(words[i : i + 3]) for i in range(max(len(words) - 2, 0))}


def originals(articles: Iterable[Article], options: Options, rng: random.Random,
              sizes: tuple[int, int] = (5, 10)) -> list[list[str]]:
    """Disjoint runs of body sentences (each a list of sentence texts) from the real articles."""
    seen: set[tuple[str, ...]] = set()
    runs: list[list[str]] = []
    for article in articles:
        fresh = []
        for s in segment(article, options.segment).body:
            text = " ".join(s.text.split())
            grams = _shingles(text)
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
    """Every sentence paraphrased; some dropped, some short neighbours merged."""
    out: list[str] = []
    for s in sentences:
        if len(sentences) > 4 and rng.random() < 0.12:
            continue
        p = paraphrase(s, rng)
        if out and len(p.split()) < 12 and len(out[-1].split()) < 14 and rng.random() < 0.5:
            out[-1] = out[-1].rstrip(".!?") + "; " + p[0].lower() + p[1:]
        else:
            out.append(p)
    return out


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


def plan(n: int, share: float, available: int, rng: random.Random) -> tuple[int, list[str]]:
    """(number of originals, the kinds of the rewrites) for `n` articles."""
    rewrites = round(n * share)
    count = n - rewrites
    if count < 2 and n >= 2:
        count, rewrites = 2, n - 2
    if count > available:
        raise InputError(f"{n} articles with {share:.0%} rewrites need {count} originals, but the real "
                         f"articles give only {available} without shared text; lower N, raise --rewrites "
                         "or add more real articles with --from")
    return count, [KINDS[k % len(KINDS)] for k in range(rewrites)]


def synth(n: int, out: str | os.PathLike, sources: Iterable[str | os.PathLike] | None = None, *,
          share: float = 0.5, seed: int = 1, options: Options | None = None) -> dict[str, int]:
    """Write `n` articles (``out/articles.jsonl``) and their ground truth (``out/truth.jsonl``);
    returns the number of articles of each kind."""
    options = options or load_options()
    rng = random.Random(seed)
    pool = originals(real_articles(sources, options), options, rng)
    count, kinds = plan(n, share, len(pool), rng)
    rng.shuffle(pool)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    articles, truth = [], []
    days = [rng.randint(0, 90) for _ in range(count)]
    for k in range(count):
        articles.append(_record(f"orig-{k:06d}", f"Agency {k % 20}", days[k], _title(pool[k]), pool[k], rng))
        truth.append({"id": f"orig-{k:06d}", "kind": "original", "sources": [], "roots": [f"orig-{k:06d}"]})
    for j, kind in enumerate(kinds):
        a = rng.randrange(count)
        b = (a + 1 + rng.randrange(count - 1)) % count if kind == "composite" else None
        body = rewrite(kind, pool[a], rng, pool[b] if b is not None else None)
        if kind == "verbatim":
            body = body + [rng.choice(_SHARE_LINES)]
        ids = [f"orig-{x:06d}" for x in (a, b) if x is not None]
        day = max(days[x] for x in (a, b) if x is not None) + rng.randint(0, 2)
        rid = f"{kind}-{j:06d}"
        articles.append(_record(rid, f"Site {rng.randrange(200)}", day, _title(body), body, rng))
        truth.append({"id": rid, "kind": kind, "sources": ids, "roots": ids})
    _write_jsonl(out / "articles.jsonl", articles)
    _write_jsonl(out / "truth.jsonl", truth)
    counts = {"original": count}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _record(id_: str, outlet: str, day: int, title: str, body: list[str], rng: random.Random) -> dict:
    return {"id": id_, "outlet": outlet, "published": (_START + timedelta(days=day)).isoformat(),
            "title": title, "text": _text(body, rng)}


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
