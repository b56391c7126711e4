"""Planted-reuse recall by kind, direction and precision of a store already scanned, against the
ground truth of the `synth` corpus it holds; and its stories against the planted roots (a rewrite
belongs with its original). For corpora where `corpus_bench.py` (which also runs the baselines)
does not fit the machine; it reads only the pairs' id columns, not their stored alignments.

    wiretrace synth 1000000 /tmp/c1m/corpus --rewrites 0.95 --seed 7
    WIRETRACE_FINGERPRINT_MODEL=none wiretrace add /tmp/c1m/corpus/articles.jsonl --db /tmp/c1m/store.db
    WIRETRACE_FINGERPRINT_MODEL=none wiretrace scan --db /tmp/c1m/store.db
    python bench/scanned_truth.py /tmp/c1m/store.db /tmp/c1m/corpus/truth.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus_bench import planted, precision, recall_by_kind  # noqa: E402

from wiretrace.corpus_eval import adjusted_rand, bcubed  # noqa: E402
from wiretrace.store import Store  # noqa: E402
from wiretrace.synth import KINDS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="a scanned store of the corpus")
    parser.add_argument("truth", type=Path, help="the corpus's truth.jsonl (wiretrace synth)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    truth = {r["id"]: r for r in map(json.loads, args.truth.read_text("utf-8").splitlines())}
    with Store(args.db, readonly=True) as store:
        directed = {(p.derived, p.source) for p in store.iter_pair_summaries()}  # as corpus_bench counts them
        stories = store.story_assignments()
    found = {frozenset(p) for p in directed}
    recall = recall_by_kind(found, truth)
    hits, totals = defaultdict(int), defaultdict(int)
    for rewrite, source, kind in planted(truth):
        if frozenset((rewrite, source)) in found:
            totals[kind] += 1
            hits[kind] += (rewrite, source) in directed
    ids = sorted(set(stories) & set(truth))
    gold = [truth[i]["roots"][0] for i in ids]
    pred = [stories[i] for i in ids]
    b3 = bcubed(gold, pred)
    print(f"{args.db}: {len(truth)} articles, {len(found)} derived pairs, read in {time.perf_counter() - t0:.1f} s")
    print("| kind | planted-reuse recall | found pairs with the direction right |")
    print("|---|---|---|")
    for kind in KINDS:
        if kind in recall:
            print(f"| {kind} | {recall[kind]:.3f} | {hits[kind] / max(totals[kind], 1):.3f} |")
    print(f"precision of found pairs: {precision(found, truth):.3f}")
    print(f"stories: {len(set(pred))} over {len(ids)} articles; against the planted roots B3 P {b3[0]:.3f} "
          f"R {b3[1]:.3f} F1 {b3[2]:.3f}, ARI {adjusted_rand(gold, pred):.3f}")


if __name__ == "__main__":
    main()
