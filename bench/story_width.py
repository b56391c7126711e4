"""Story clustering of a synthetic corpus at several `cluster.hash_width`s (the width of the
hashed TF-IDF rows that find each article's nearest articles in corpora beyond
`cluster.dense_limit`): time, CPU time, stories, and B3 precision/recall/F1 and ARI against the
planted roots (a rewrite belongs with its original). Never fails on time.

    wiretrace synth 100000 /tmp/c100k
    WIRETRACE_FINGERPRINT_MODEL=none wiretrace add /tmp/c100k/articles.jsonl --db /tmp/c100k/store.db
    python bench/story_width.py /tmp/c100k/store.db /tmp/c100k/truth.jsonl --widths 64 128 256
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wiretrace.cluster import cluster_stories  # noqa: E402
from wiretrace.corpus_eval import adjusted_rand, bcubed  # noqa: E402
from wiretrace.options import load_options  # noqa: E402
from wiretrace.store import Store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="a store of the corpus (wiretrace add)")
    parser.add_argument("truth", type=Path, help="the corpus's truth.jsonl (wiretrace synth)")
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 128, 256])
    args = parser.parse_args()
    options = load_options(env={}).cluster
    roots = {}
    for line in args.truth.read_text("utf-8").splitlines():
        record = json.loads(line)
        roots[record["id"]] = (record["roots"] or [record["id"]])[0]
    with Store(args.db, readonly=True) as store:
        terms = list(store.iter_story_terms())
    print(f"{len(terms)} articles, semantic_weight {options.semantic_weight} (vectors not read)")
    print("| hash_width | seconds | CPU seconds | stories | B3 P | B3 R | B3 F1 | ARI |")
    print("|---|---|---|---|---|---|---|---|")
    for width in args.widths:
        wall, cpu = time.perf_counter(), time.process_time()
        found = cluster_stories(terms, {}, replace(options, hash_width=width))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        ids = [i for i in found if i in roots]
        gold, pred = [roots[i] for i in ids], [found[i] for i in ids]
        p, r, f1 = bcubed(gold, pred)
        print(f"| {width} | {wall:.1f} | {cpu:.1f} | {len(set(found.values()))} | {p:.4f} | {r:.4f} | {f1:.4f} "
              f"| {adjusted_rand(gold, pred):.4f} |", flush=True)


if __name__ == "__main__":
    main()
