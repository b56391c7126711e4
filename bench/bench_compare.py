"""Time `wiretrace compare` on one pair: cold (a new process, model load included) and warm
(further comparisons in one process), with peak memory, next to a plain word-3-gram containment
baseline on the same pair.

    python bench/bench_compare.py                 # the seed pair in ../shared/seeds, else the examples
    python bench/bench_compare.py A B --runs 10

Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"


def default_pair() -> tuple[Path, Path]:
    if SEEDS.is_dir():
        return next(SEEDS.glob("000_*.txt")), next(SEEDS.glob("001_*.txt"))
    examples = ROOT / "wiretrace" / "examples"
    return examples / "heavy_paraphrase.txt", examples / "wire_original.txt"


def cold(a: Path, b: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of `wiretrace compare A B --json` in a new process."""
    code = ("import sys, wiretrace.cli as c; sys.argv = ['wiretrace', 'compare', sys.argv[1], sys.argv[2], '--json']; "
            "c.main()")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(a), str(b)], check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return seconds, peak / 1024


def warm(a: Path, b: Path, runs: int) -> list[float]:
    import wiretrace

    wiretrace.compare(a, b)  # loads the model
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        wiretrace.compare(a, b)
        times.append(time.perf_counter() - start)
    return times


def baseline(a: Path, b: Path, runs: int) -> list[float]:
    from wiretrace.evaluate import containment

    ta, tb = a.read_text("utf-8"), b.read_text("utf-8")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        containment(ta, tb, 3)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pair", nargs="*", type=Path, help="two article files (default: the seed pair)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    a, b = args.pair if len(args.pair) == 2 else default_pair()
    cold_s, cold_mb = cold(a, b)
    warm_s = warm(a, b, args.runs)
    base_s = baseline(a, b, args.runs)
    warm_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pair: {a.name} vs {b.name}")
    print(f"{'what':<44}{'seconds':>10}{'peak RSS MiB':>14}")
    print(f"{'wiretrace compare, cold (new process)':<44}{cold_s:>10.2f}{cold_mb:>14.0f}")
    print(f"{'wiretrace compare, warm (median of %d)' % args.runs:<44}{statistics.median(warm_s):>10.3f}{warm_mb:>14.0f}")
    print(f"{'word-3-gram containment (median of %d)' % args.runs:<44}{statistics.median(base_s):>10.4f}{'':>14}")
    print(f"warm compare / containment: {statistics.median(warm_s) / max(statistics.median(base_s), 1e-9):.0f}x "
          "(the baseline gives one number; compare aligns every sentence)")


if __name__ == "__main__":
    main()
