"""Measure wiretrace on the public evaluation sets, next to baselines computed in the same run.

``evaluate("counter", "../shared/data/counter")`` runs the engine over every pair of the set and
returns an `EvalReport`: wiretrace's metrics, the baselines' metrics, the published anchors and
the per-pair predictions. Metrics are plain numpy (no scikit-learn at run time).

Baselines: the majority class, and plain word-n-gram containment whose threshold(s) are tuned on
the very data being measured — an optimistic baseline, and said so in the report.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from . import datasets
from .errors import InputError
from .models import NOT_DERIVED, PARTIALLY, VERDICTS, WHOLLY
from .options import Options, load_options, with_settings

ANCHORS = {
    "counter": {
        "macro_f1": "0.664 (METER 3-class avg F1, Clough et al. 2002)",
        "binary_f1": "≈ 0.83 (always derived, this set)",
    },
    "msrp": {
        "accuracy": "0.665 majority · 0.76–0.79 frozen encoders · 0.804 TF-KLD (test split)",
        "f1": "0.799 majority · 0.859 TF-KLD (test split)",
    },
    "stsb": {"pearson": "none for news alone", "spearman": "none for news alone"},
    "basil": {"called_derived": "none (lower is better: no pair is a rewrite)"},
}

# Metrics where lower is better; everything else is higher-is-better.
LOWER_IS_BETTER = {"called_derived"}

# BASIL has no positive pairs to tune a baseline threshold on, so the containment baseline uses
# the threshold that the same baseline tunes to on COUNTER dev for binary derived/not derived.
BASIL_CONTAINMENT_THRESHOLD = 0.02
ARTICLE_NGRAM, SENTENCE_NGRAM = 3, 1


@dataclass
class EvalReport:
    dataset: str
    data: str  # the folder measured
    size: int  # how many items were scored, counted in `unit`
    metrics: dict[str, float]  # wiretrace
    baselines: dict[str, dict[str, float]]  # baseline name -> metrics
    anchors: dict[str, str] = field(default_factory=dict)
    confusion: dict | None = None  # {"labels": [...], "matrix": [[gold x predicted]]}
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    predictions: list[dict] = field(default_factory=list, repr=False)
    unit: str = "pairs"  # what `size` counts (corpus evaluations score documents or articles)

    def to_dict(self, predictions: bool = False) -> dict:
        data = asdict(self)
        if not predictions:
            data.pop("predictions")
        return data


# --- metrics ---------------------------------------------------------------------------------


def confusion_matrix(gold: Sequence, pred: Sequence, labels: Sequence) -> np.ndarray:
    """Counts with gold classes as rows and predicted classes as columns, in `labels` order."""
    index = {label: k for k, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for g, p in zip(gold, pred, strict=True):
        matrix[index[g], index[p]] += 1
    return matrix


def f1_per_class(matrix: np.ndarray) -> np.ndarray:
    """F1 of each class from a confusion matrix; 0 where a class is never right (no 0/0 NaN)."""
    tp = np.diag(matrix).astype(float)
    denominator = matrix.sum(axis=0) + matrix.sum(axis=1)  # predicted + gold = 2tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)


def macro_f1(gold: Sequence, pred: Sequence, labels: Sequence) -> float:
    return float(f1_per_class(confusion_matrix(gold, pred, labels)).mean())


def binary_f1(gold: Sequence[bool], pred: Sequence[bool]) -> float:
    g, p = np.asarray(gold, dtype=bool), np.asarray(pred, dtype=bool)
    tp = int(np.sum(g & p))
    denominator = int(g.sum() + p.sum())
    return 2 * tp / denominator if denominator else 0.0


def accuracy(gold: Sequence, pred: Sequence) -> float:
    g, p = np.asarray(gold), np.asarray(pred)
    return float(np.mean(g == p)) if len(g) else 0.0


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator else 0.0


def rank(values: Sequence[float]) -> np.ndarray:
    """1-based ranks, ties sharing the average of the ranks they span."""
    v = np.asarray(values, dtype=float)
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(len(v), dtype=float)
    sorted_v = v[order]
    start = 0
    for end in range(1, len(v) + 1):
        if end == len(v) or sorted_v[end] != sorted_v[start]:
            ranks[order[start:end]] = (start + 1 + end) / 2
            start = end
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    return pearson(rank(x), rank(y))


# --- threshold tuning (baselines here, verdict thresholds in eval/fit.py) ----------------------


def candidate_thresholds(scores: Sequence[float], most: int = 200) -> np.ndarray:
    """Midpoints between distinct scores (thinned to quantiles when there are many), plus ends."""
    values = np.unique(np.asarray(scores, dtype=float))
    if len(values) > most:
        values = np.unique(np.quantile(values, np.linspace(0, 1, most)))
    mids = (values[1:] + values[:-1]) / 2
    return np.concatenate([[values[0] - 1e-9], mids, [values[-1] + 1e-9]]) if len(values) else np.zeros(1)


def tune_binary(scores: Sequence[float], gold: Sequence[bool], metric: str = "f1") -> tuple[float, float]:
    """(threshold, value): ``score >= threshold`` maximising binary F1 or accuracy."""
    s, g = np.asarray(scores, dtype=float), np.asarray(gold, dtype=bool)
    best = (0.0, -1.0)
    for t in candidate_thresholds(s):
        p = s >= t
        value = binary_f1(g, p) if metric == "f1" else accuracy(g, p)
        if value > best[1]:
            best = (float(t), value)
    return best


def three_way(scores: Sequence[float], wholly: float, partially: float) -> list[str]:
    s = np.asarray(scores, dtype=float)
    return [WHOLLY if x >= wholly else PARTIALLY if x >= partially else NOT_DERIVED for x in s]


def tune_three_way(scores: Sequence[float], gold: Sequence[str], most: int = 80) -> tuple[float, float, float]:
    """(wholly, partially, macro-F1): the two cut points maximising 3-class macro-F1."""
    s = np.asarray(scores, dtype=float)
    cuts = candidate_thresholds(s, most)
    best = (1.0, 0.0, -1.0)
    for i, low in enumerate(cuts):
        for high in cuts[i:]:
            value = macro_f1(gold, three_way(s, high, low), VERDICTS)
            if value > best[2]:
                best = (float(high), float(low), value)
    return best


# --- the plain containment baseline ----------------------------------------------------------

_TOKEN = re.compile(r"\w+", re.UNICODE)


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    tokens = _TOKEN.findall(text.lower())
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def containment(derived: str, source: str, n: int) -> float:
    """Share of the derived text's word n-grams that occur in the source."""
    d = ngrams(derived, n)
    return len(d & ngrams(source, n)) / len(d) if d else 0.0


def overlap(a: str, b: str, n: int) -> float:
    """Symmetric containment for sentence pairs: shared n-grams over the shorter side's."""
    x, y = ngrams(a, n), ngrams(b, n)
    return len(x & y) / min(len(x), len(y)) if x and y else 0.0


# --- running the engine ----------------------------------------------------------------------

Tick = Callable[[int], None]  # called with how many items just finished


def single_threaded(options: Options) -> Options:
    """Options whose encoder runs one BLAS thread (unless a thread count was set): evaluation
    spreads work over processes instead, and on a busy machine one thread per process is several
    times faster than threads competing for the same cores."""
    if options.fingerprint.threads:
        return options
    return with_settings(options, {"fingerprint": {"threads": 1}}, "evaluate")


def _workers(workers: int, items: int) -> int:
    return max(1, min(workers or os.cpu_count() or 1, items))


def _compare_chunk(job: tuple[list[tuple[str, object, object]], Options]) -> list[dict]:
    from .api import compare  # imported in the worker: the engine loads its models there

    pairs, options = job
    out = []
    for key, a, b in pairs:
        c = compare(a, b, options)
        out.append({
            "key": key,
            "verdict": c.verdict.verdict,
            "derived_share": c.verdict.derived_share,
            "source_share": c.verdict.source_share,
            "original": c.verdict.direction.original,
            "derived": c.derived.article.id,
        })
    return out


def compare_pairs(pairs: list[tuple[str, object, object]], options: Options, workers: int = 0,
                  progress: Tick | None = None, chunk: int = 8) -> dict[str, dict]:
    """`compare` over (key, a, b) triples, in `workers` processes (0: one per CPU core)."""
    options = single_threaded(options)
    jobs = [(pairs[i : i + chunk], options) for i in range(0, len(pairs), chunk)]
    results: dict[str, dict] = {}
    with _pool(_workers(workers, len(jobs))) as pool:
        for job, rows in zip(jobs, pool.map(_compare_chunk, jobs)):
            results.update((row["key"], row) for row in rows)
            if progress:
                progress(len(job[0]))
    return results


class _InProcess:
    """A stand-in for a process pool of one: no processes to start, same `map`."""

    def map(self, fn, items):
        return map(fn, items)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def _pool(workers: int):
    return ProcessPoolExecutor(workers) if workers > 1 else _InProcess()


def _encode_chunk(job: tuple[list[str], object]) -> np.ndarray:
    from .fingerprint import get_encoder

    texts, fingerprint_options = job
    return get_encoder(fingerprint_options).encode(texts)


class ParallelEncoder:
    """The configured sentence encoder, run over chunks of texts in several processes; it has the
    encoder's `encode`, so `align.pair_features` takes it as its encoder. Use it as a context
    manager: the processes (and the model each loads) live until the block ends."""

    def __init__(self, options: Options, workers: int = 0, progress: Tick | None = None, chunk: int = 256):
        self.options = single_threaded(options).fingerprint
        self.workers, self.progress, self.chunk = workers or os.cpu_count() or 1, progress, chunk
        self._pool = None

    def __enter__(self) -> "ParallelEncoder":
        self._pool = _pool(self.workers).__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._pool.__exit__(*exc)

    def encode(self, texts: list[str]) -> np.ndarray:
        jobs = [(texts[i : i + self.chunk], self.options) for i in range(0, len(texts), self.chunk)]
        parts = []
        for job, vectors in zip(jobs, self._pool.map(_encode_chunk, jobs)):
            parts.append(vectors)
            if self.progress:
                self.progress(len(job[0]))
        return np.concatenate(parts) if parts else np.zeros((0, 1), dtype=np.float32)


def pair_scores(s1: list[str], s2: list[str], options: Options, workers: int = 0,
                progress: Tick | None = None, task: str = "similarity") -> np.ndarray:
    """The probability from the `task` pair model ("similarity" or "paraphrase", see
    `align.load_pair_model`) for each sentence pair (s1[k], s2[k])."""
    from .align import load_pair_model, pair_features

    with ParallelEncoder(options, workers, progress) as encoder:
        features, _ = pair_features(s1, s2, encoder)
    return load_pair_model(task).predict_proba(features)


# --- the four sets ---------------------------------------------------------------------------


def _evaluate_counter(folder: Path, options: Options, workers: int, progress) -> EvalReport:
    pairs = datasets.load_counter(folder)
    tick = progress(len(pairs), "COUNTER pairs")
    results = compare_pairs([(p.id, p.source, p.derived) for p in pairs], options, workers, tick)
    gold = [p.label for p in pairs]
    pred = [results[p.id]["verdict"] for p in pairs]
    derived_gold = [g != NOT_DERIVED for g in gold]
    matrix = confusion_matrix(gold, pred, VERDICTS)
    metrics = {
        "macro_f1": float(f1_per_class(matrix).mean()),
        "binary_f1": binary_f1(derived_gold, [p != NOT_DERIVED for p in pred]),
        "accuracy": accuracy(gold, pred),
        # Pairs given in file order (agency story first): a right answer needs evidence.
        "direction": float(np.mean([results[p.id]["original"] == p.source.id
                                    for p in pairs if p.label != NOT_DERIVED])),
    }
    for label, value in zip(VERDICTS, f1_per_class(matrix)):
        metrics[f"f1_{label.split()[0]}"] = float(value)
    majority = max(VERDICTS, key=gold.count)
    contain = [containment(p.derived.text, p.source.text, ARTICLE_NGRAM) for p in pairs]
    high, low, _ = tune_three_way(contain, gold)
    t_bin, f1_bin = tune_binary(contain, derived_gold, "f1")
    baselines = {
        f"majority ({majority})": {
            "macro_f1": macro_f1(gold, [majority] * len(gold), VERDICTS),
            "binary_f1": binary_f1(derived_gold, [majority != NOT_DERIVED] * len(gold)),
            "accuracy": accuracy(gold, [majority] * len(gold)),
        },
        f"word-{ARTICLE_NGRAM}-gram containment, tuned here": {
            "macro_f1": macro_f1(gold, three_way(contain, high, low), VERDICTS),
            "binary_f1": f1_bin,
            "accuracy": accuracy(gold, three_way(contain, high, low)),
        },
    }
    notes = [
        f"containment baseline thresholds tuned on this data: wholly >= {high:.3f}, "
        f"partially >= {low:.3f} (3-class); derived >= {t_bin:.3f} (binary)",
        "gold label: the derived file's classification (WD/PD/ND); pairs compared agency story first",
    ]
    predictions = [{"id": p.id, "verdict": results[p.id]["verdict"],
                    "derived_share": round(results[p.id]["derived_share"], 4)} for p in pairs]
    return EvalReport("counter", str(folder), len(pairs), metrics, baselines, ANCHORS["counter"],
                      {"labels": list(VERDICTS), "matrix": matrix.tolist()}, notes,
                      predictions=predictions)


def _units(pairs) -> int:
    """How many texts `pair_features` embeds for these pairs (each sentence and its clauses)."""
    from .fingerprint import units

    return sum(len(units(p.s1)) + len(units(p.s2)) for p in pairs)


def _evaluate_msrp(folder: Path, options: Options, workers: int, progress) -> EvalReport:
    from .align import load_pair_model

    pairs = datasets.load_msrp(folder)
    tick = progress(_units(pairs), "MSRP sentences and clauses embedded")
    proba = pair_scores([p.s1 for p in pairs], [p.s2 for p in pairs], options, workers, tick, "paraphrase")
    gold = [p.paraphrase for p in pairs]
    threshold = load_pair_model("paraphrase").threshold
    pred = proba >= threshold
    contain = [overlap(p.s1, p.s2, SENTENCE_NGRAM) for p in pairs]
    t, _ = tune_binary(contain, gold, "accuracy")
    base = np.asarray(contain) >= t
    baselines = {
        "majority (paraphrase)": {"accuracy": accuracy(gold, [True] * len(gold)),
                                  "f1": binary_f1(gold, [True] * len(gold))},
        f"word-{SENTENCE_NGRAM}-gram overlap, tuned here": {"accuracy": accuracy(gold, base),
                                                           "f1": binary_f1(gold, base)},
    }
    notes = [
        f"wiretrace: the paraphrase pair model's probability >= its fitted threshold ({threshold:.2f})",
        f"overlap baseline: shared words / shorter sentence's words >= {t:.3f}, tuned here for accuracy",
        "published anchors are on the MSRP test split; this is the training split",
    ]
    predictions = [{"id": p.id, "paraphrase": bool(x), "score": round(float(s), 4)}
                   for p, x, s in zip(pairs, pred, proba)]
    metrics = {"accuracy": accuracy(gold, pred), "f1": binary_f1(gold, pred)}
    return EvalReport("msrp", str(folder), len(pairs), metrics, baselines, ANCHORS["msrp"], None,
                      notes, predictions=predictions)


def _evaluate_stsb(folder: Path, options: Options, workers: int, progress) -> EvalReport:
    pairs = datasets.load_stsb(folder, datasets.NEWS_GENRE)
    if not pairs:
        raise InputError(f"no {datasets.NEWS_GENRE} pairs in the STS-B files", path=folder)
    tick = progress(_units(pairs), "STS-B sentences and clauses embedded")
    scores = 5.0 * pair_scores([p.s1 for p in pairs], [p.s2 for p in pairs], options, workers, tick)
    gold = [p.score for p in pairs]
    contain = 5.0 * np.asarray([overlap(p.s1, p.s2, SENTENCE_NGRAM) for p in pairs])
    metrics = {"pearson": pearson(gold, scores), "spearman": spearman(gold, scores)}
    baselines = {f"word-{SENTENCE_NGRAM}-gram overlap × 5": {"pearson": pearson(gold, contain),
                                                             "spearman": spearman(gold, contain)}}
    files = sorted({p.file for p in pairs})
    notes = [f"genre {datasets.NEWS_GENRE} of {', '.join(files)}; wiretrace score = 5 × pair probability",
             "majority baseline: a constant has no correlation"]
    predictions = [{"line": p.line, "score": round(float(s), 3), "file": p.file}
                   for p, s in zip(pairs, scores)]
    return EvalReport("stsb", str(folder), len(pairs), metrics, baselines, ANCHORS["stsb"], None,
                      notes, predictions=predictions)


def _evaluate_basil(folder: Path, options: Options, workers: int, progress) -> EvalReport:
    events = datasets.basil_events(datasets.load_basil(folder))
    pairs = [(f"{x.article.id}|{y.article.id}", x.article, y.article)
             for items in events.values() for x, y in combinations(items, 2)]
    tick = progress(len(pairs), "BASIL pairs")
    results = compare_pairs(pairs, options, workers, tick)
    verdicts = [results[key]["verdict"] for key, _, _ in pairs]
    contain = [max(containment(a.text, b.text, ARTICLE_NGRAM), containment(b.text, a.text, ARTICLE_NGRAM))
               for _, a, b in pairs]
    metrics = {
        "called_derived": float(np.mean([v != NOT_DERIVED for v in verdicts])),
        "called_wholly": float(np.mean([v == WHOLLY for v in verdicts])),
        "mean_derived_share": float(np.mean([results[k]["derived_share"] for k, _, _ in pairs])),
    }
    baselines = {
        "majority (not derived)": {"called_derived": 0.0},
        f"word-{ARTICLE_NGRAM}-gram containment >= {BASIL_CONTAINMENT_THRESHOLD}": {
            "called_derived": float(np.mean(np.asarray(contain) >= BASIL_CONTAINMENT_THRESHOLD)),
            "mean_derived_share": float(np.mean(contain)),
        },
    }
    notes = [f"{len(events)} events, every pair within an event; all are independent reports",
             "containment baseline threshold: what it tunes to on COUNTER dev (binary), not tuned here"]
    predictions = [{"a": a.id, "b": b.id, "verdict": results[key]["verdict"]} for key, a, b in pairs]
    return EvalReport("basil", str(folder), len(pairs), metrics, baselines, ANCHORS["basil"], None,
                      notes, predictions=predictions)


def _evaluate_ecbplus(folder: Path, options: Options, workers: int, progress) -> EvalReport:
    from .corpus_eval import evaluate_ecbplus  # imports this module: loaded on use

    return evaluate_ecbplus(folder, options, workers, progress)


def _evaluate_helsinki(folder: Path, options: Options, workers: int, progress) -> EvalReport:
    from .corpus_eval import evaluate_helsinki

    return evaluate_helsinki(folder, options, workers, progress)


_RUNNERS = {
    "counter": _evaluate_counter,
    "msrp": _evaluate_msrp,
    "stsb": _evaluate_stsb,
    "basil": _evaluate_basil,
    "ecbplus": _evaluate_ecbplus,
    "helsinki": _evaluate_helsinki,
}


def evaluate(dataset: str, data_dir: str | os.PathLike, options: Options | None = None,
             predictions: str | os.PathLike | None = None, progress: bool = False,
             workers: int = 0) -> EvalReport:
    """Run wiretrace and the baselines over one evaluation set and measure them.

    `data_dir` is the set's own folder (``shared/data/counter``) or the folder holding all the sets
    (``shared/data``). `predictions`: a JSONL file to write one prediction per pair into.
    `progress`: a progress bar on stderr. `workers`: processes for article pairs (0: all cores).
    """
    if dataset not in _RUNNERS:
        raise InputError(f"unknown evaluation set {dataset!r}; known: {', '.join(_RUNNERS)}")
    folder = Path(data_dir)
    if (folder / dataset).is_dir():
        folder = folder / dataset
    options = options or load_options()
    started = time.perf_counter()
    with _progress_bar(progress) as bar:
        report = _RUNNERS[dataset](folder, options, workers, bar)
    report.seconds = round(time.perf_counter() - started, 1)
    if predictions:
        write_predictions(report.predictions, predictions)
    return report


def write_predictions(rows: Iterable[dict], path: str | os.PathLike) -> None:
    """JSONL, one object per pair; written to a temporary file and renamed into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


class _progress_bar:
    """``bar(total, what)`` -> ``tick(n)``; a rich progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._progress = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), console=Console(file=sys.stderr), transient=True)
            self._progress.start()
        return self

    def __call__(self, total: int, what: str) -> Tick:
        if self._progress is None:
            return lambda n: None
        task = self._progress.add_task(what, total=total)
        return lambda n: self._progress.advance(task, n)

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.stop()


# --- presentation ----------------------------------------------------------------------------


def report_table(report: EvalReport):
    """A rich table: metric | wiretrace | each baseline | published anchor."""
    from rich.table import Table

    table = Table(title=f"wiretrace eval {report.dataset}: {report.size} {report.unit}, {report.seconds:.0f} s")
    table.add_column("metric")
    table.add_column("wiretrace", justify="right", style="bold")
    for name in report.baselines:
        table.add_column(name, justify="right")
    table.add_column("published anchor")
    for metric, value in report.metrics.items():
        cells = [_fmt(b.get(metric)) for b in report.baselines.values()]
        label = metric + (" (lower is better)" if metric in LOWER_IS_BETTER else "")
        table.add_row(label, _fmt(value), *cells, report.anchors.get(metric, ""))
    return table


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"
