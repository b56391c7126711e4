"""Checks that the numpy word-n-gram containment baseline of `corpus_bench.py` finds exactly the
pairs of its dict reference on a synthesized corpus, and prints both times.

    python bench/check_containment.py 10000 [--from DIR]...
    python bench/check_containment.py --corpus /tmp/s100k --no-reference
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus_bench import containment_baseline, containment_baseline_py  # noqa: E402

from wiretrace.options import load_options  # noqa: E402
from wiretrace.synth import synth  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=2000)
    parser.add_argument("--rewrites", type=float, default=0.85)
    parser.add_argument("--from", dest="data", action="append")
    parser.add_argument("--corpus", metavar="DIR", help="an existing synth folder instead of a new one")
    parser.add_argument("--no-reference", action="store_true", help="time the numpy version alone "
                        "(the reference needs many GB from about 100 k articles)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wiretrace-check-") as tmp:
        folder = Path(args.corpus or tmp)
        if not args.corpus:
            options = load_options(env={}, overrides={"fingerprint": {"model": "none"}})
            synth(args.n, folder, args.data, share=args.rewrites, seed=7, options=options)
        rows = map(json.loads, (folder / "articles.jsonl").read_text().splitlines())
        texts = {r["id"]: r["text"] for r in rows}
    fast, fast_s = containment_baseline(texts, 0.2)
    if args.no_reference:
        print(f"{len(texts)} articles: numpy {fast_s:.1f} s, {len(fast)} pairs")
        return
    slow, slow_s = containment_baseline_py(texts, 0.2)
    print(f"{len(texts)} articles: numpy {fast_s:.1f} s, {len(fast)} pairs; dict reference {slow_s:.1f} s, "
          f"{len(slow)} pairs; identical: {fast == slow}")
    sys.exit(fast != slow)


if __name__ == "__main__":
    main()
