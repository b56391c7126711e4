"""Story clustering on ECB+ dev over a grid of `cluster.topic_threshold` (0: one pass),
`cluster.story_threshold` and `cluster.semantic_weight`: B3 precision/recall/F1 and ARI per
setting, the best per pair of the first and last marked, the sentence embeddings computed once
(and kept in a cache file between runs). Other cluster settings come from the defaults, or from
`--name-weight` / `--title-weight`.

    python bench/tune_stories.py --data ../shared/data [--cache /tmp/ecb_vectors.npz]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wiretrace import datasets  # noqa: E402
from wiretrace.cluster import cluster_stories  # noqa: E402
from wiretrace.corpus_eval import _scores, sentence_vectors  # noqa: E402
from wiretrace.options import load_options  # noqa: E402
from wiretrace.segment import segment  # noqa: E402


def vectors_for(docs, options, cache: Path | None) -> dict[str, np.ndarray]:
    if cache and cache.is_file():
        saved = np.load(cache)
        if all(d.article.id in saved for d in docs):
            return {d.article.id: saved[d.article.id] for d in docs}
    vectors = sentence_vectors(docs, options)
    if cache:
        np.savez(cache, **vectors)
    return vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0], help="semantic_weight values (0.2 and up scored lower)")
    parser.add_argument("--name-weight", type=float)
    parser.add_argument("--title-weight", type=float)
    args = parser.parse_args()
    options = load_options(env={})
    base = options.cluster
    if args.name_weight is not None:
        base = replace(base, name_weight=args.name_weight)
    if args.title_weight is not None:
        base = replace(base, title_weight=args.title_weight)
    items = datasets.load_ecbplus(Path(args.data) / "ecbplus")
    docs = [segment(x.article, options.segment) for x in items]
    gold = {x.article.id: x.story for x in items}
    vectors = vectors_for(docs, options, args.cache)
    print(f"name_weight {base.name_weight}, title_weight {base.title_weight}")
    print("| topic_threshold | semantic_weight | story_threshold | B3 P | B3 R | B3 F1 | ARI | stories |")
    print("|---|---|---|---|---|---|---|---|")
    for topic in (0.0, 0.04, 0.06, 0.08, 0.10):
        for weight in args.weights:
            rows = []
            for threshold in np.round(np.arange(0.08, 0.31, 0.02), 2):
                cluster = replace(base, topic_threshold=topic, semantic_weight=weight, story_threshold=float(threshold))
                rows.append((float(threshold), _scores(gold, cluster_stories(docs, vectors, cluster))))
            top = max(m["bcubed_f1"] for _, m in rows)
            for threshold, m in rows:
                mark = " **best**" if m["bcubed_f1"] == top else ""
                print(f"| {topic} | {weight} | {threshold} | {m['bcubed_precision']:.3f} | {m['bcubed_recall']:.3f} | "
                      f"{m['bcubed_f1']:.3f}{mark} | {m['ari']:.3f} | {m['stories']:.0f} |", flush=True)

if __name__ == "__main__":
    main()
