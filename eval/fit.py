"""Fit what wiretrace ships in ``wiretrace/data/`` on the development halves of the public sets.

    python eval/fit.py --data ../shared/data                 # both steps
    python eval/fit.py --data ../shared/data --step pairs    # only the sentence-pair model
    python eval/fit.py --data ../shared/data --step verdicts

1. ``pair_model.json``: logistic weights over the align stage's pair features, the probability that
   two sentences say the same thing. Fitted on MSRP (paraphrase yes/no) plus STS-B news (graded
   similarity / 5 as a soft target); the regularisation strength and the STS-B weight are chosen by
   5-fold cross-validation, and the cross-validated numbers are written next to the weights.
   ``paraphrase_model.json``: the same features on MSRP alone, with its own threshold (both by CV).
2. ``verdict_model.json``: multinomial logistic regression from the attribute stage's document
   features (alignment shares, word n-gram containment both ways, tiling, lengths) to the three
   verdicts, fitted on COUNTER (WD/PD/ND) plus BASIL's independent same-event pairs as "not
   derived". Its regularisation and BASIL's weight are chosen by 5-fold cross-validation over both
   sets: highest COUNTER macro-F1 + binary F1 among the settings whose held-out BASIL pairs are
   called derived at most 3 % of the time. Sentence embeddings are cached in ``eval/.cache``.

scikit-learn is used here only (the ``test`` extra); the package reads the JSON it writes.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold

from wiretrace import datasets
from wiretrace.align import FEATURES, PairScores, align, embedding_texts, load_pair_model, pair_features, score
from wiretrace.api import read
from wiretrace.attribute import (DOCUMENT_FEATURES, attribute, direction, document_features, load_verdict_model,
                                 rule_verdict, shares)
from wiretrace.evaluate import ParallelEncoder, binary_f1, pearson, spearman
from wiretrace.models import NOT_DERIVED, VERDICTS, Document
from wiretrace.options import DEFAULTS, AlignOptions, AttributeOptions, Options

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "wiretrace" / "data"
FOLDS, SEED = 5, 20240611
BASIL_MAX_DERIVED = 0.03  # share of BASIL within-event pairs that may be called derived

# --- 1. the sentence-pair model --------------------------------------------------------------


def pair_data(data: Path) -> dict:
    msrp = datasets.load_msrp(data / "msrp")
    stsb = datasets.load_stsb(data / "stsb", datasets.NEWS_GENRE)
    encoder = CachedEncoder(DEFAULTS)
    x_m, names = pair_features([p.s1 for p in msrp], [p.s2 for p in msrp], encoder)
    x_s, _ = pair_features([p.s1 for p in stsb], [p.s2 for p in stsb], encoder)
    assert names == list(FEATURES), names
    return {"x_m": x_m.astype(float), "y_m": np.array([p.paraphrase for p in msrp]),
            "x_s": x_s.astype(float), "t_s": np.array([p.score for p in stsb]) / 5.0}


def fit_logistic(x_m, y_m, x_s, t_s, c: float, stsb_weight: float) -> tuple[np.ndarray, float]:
    """Weights and bias over the raw features. STS-B enters as soft targets: each pair twice,
    labelled 1 with weight t and 0 with weight 1 - t (the cross-entropy against t)."""
    x = np.vstack([x_m, x_s, x_s]) if stsb_weight else x_m
    y = np.concatenate([y_m, np.ones(len(x_s)), np.zeros(len(x_s))]) if stsb_weight else y_m
    w = (np.concatenate([np.ones(len(x_m)), stsb_weight * t_s, stsb_weight * (1 - t_s)])
         if stsb_weight else np.ones(len(x_m)))
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit((x - mean) / std, y.astype(int), sample_weight=w)
    weights = model.coef_[0] / std  # folded back onto the raw features the package computes
    bias = float(model.intercept_[0] - np.sum(model.coef_[0] * mean / std))
    return weights, bias


def proba(x: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(x @ weights + bias)))


def cross_validate_pairs(d: dict, c: float, stsb_weight: float) -> dict:
    """5-fold CV: MSRP folds stratified by label, STS-B folds alongside; held-out scores pooled."""
    p_m, p_s = np.zeros(len(d["y_m"])), np.zeros(len(d["t_s"]))
    folds_m = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(d["x_m"], d["y_m"])
    folds_s = KFold(FOLDS, shuffle=True, random_state=SEED).split(d["x_s"])
    per_fold = []
    for (tr_m, te_m), (tr_s, te_s) in zip(folds_m, folds_s):
        w, b = fit_logistic(d["x_m"][tr_m], d["y_m"][tr_m], d["x_s"][tr_s], d["t_s"][tr_s], c, stsb_weight)
        p_m[te_m], p_s[te_s] = proba(d["x_m"][te_m], w, b), proba(d["x_s"][te_s], w, b)
        per_fold.append(float(np.mean((p_m[te_m] >= 0.5) == d["y_m"][te_m])))
    return {"msrp_p": p_m, "stsb_p": p_s, "fold_accuracy": per_fold}


def msrp_scores(p: np.ndarray, y: np.ndarray, threshold: float) -> tuple[float, float]:
    pred = p >= threshold
    return float(np.mean(pred == y)), binary_f1(y, pred)


def fit_pairs(data: Path) -> dict:
    started = time.perf_counter()
    d = pair_data(data)
    print(f"pair features: {len(d['y_m'])} MSRP + {len(d['t_s'])} STS-B news pairs "
          f"({time.perf_counter() - started:.0f} s)")
    print(f"{'C':>6} {'stsb_w':>6} | CV MSRP acc   F1 | CV STS-B r   rho")
    best = None
    for c, stsb_weight in itertools.product((0.01, 0.1, 1.0), (0.0, 0.5, 1.0, 2.0, 4.0)):
        cv = cross_validate_pairs(d, c, stsb_weight)
        acc, f1 = msrp_scores(cv["msrp_p"], d["y_m"], 0.5)
        r, rho = pearson(d["t_s"], cv["stsb_p"]), spearman(d["t_s"], cv["stsb_p"])
        print(f"{c:>6} {stsb_weight:>6} |     {acc:.3f} {f1:.3f} |     {r:.3f} {rho:.3f}")
        # Both sets matter to the product (MSRP: is it a paraphrase; STS-B: how close): the sum.
        key = acc + r
        if best is None or key > best[0]:
            best = (key, c, stsb_weight, cv, acc, f1, r, rho)
    _, c, stsb_weight, cv, acc, f1, r, rho = best
    weights, bias = fit_logistic(d["x_m"], d["y_m"], d["x_s"], d["t_s"], c, stsb_weight)
    cuts = {f"{t:.2f}": dict(zip(("accuracy", "f1"), (round(v, 4) for v in msrp_scores(cv["msrp_p"], d["y_m"], t))))
            for t in np.arange(0.3, 0.75, 0.05)}
    model = {
        "features": list(FEATURES),
        "weights": [round(float(w), 6) for w in weights],
        "bias": round(bias, 6),
        "trained_on": (f"MSRP train ({len(d['y_m'])} pairs) + STS-B train+dev main-news "
                       f"({len(d['t_s'])} pairs, score/5 as soft target, weight {stsb_weight}); "
                       f"logistic regression, C={c}; eval/fit.py"),
        "cv": {
            "folds": FOLDS,
            "msrp_accuracy": round(acc, 4),
            "msrp_f1": round(f1, 4),
            "msrp_accuracy_per_fold": [round(x, 4) for x in cv["fold_accuracy"]],
            "msrp_by_threshold": cuts,
            "stsb_news_pearson": round(r, 4),
            "stsb_news_spearman": round(rho, 4),
        },
    }
    _write_json(PACKAGE_DATA / "pair_model.json", model)
    print(f"chosen C={c}, STS-B weight {stsb_weight}: 5-fold CV MSRP accuracy {acc:.3f} F1 {f1:.3f} "
          f"(threshold 0.5), STS-B news Pearson {r:.3f} Spearman {rho:.3f}")
    print("CV MSRP accuracy/F1 by threshold: " +
          ", ".join(f"{t}: {v['accuracy']:.3f}/{v['f1']:.3f}" for t, v in cuts.items()))
    print("weights: " + ", ".join(f"{n} {w:+.2f}" for n, w in zip(FEATURES, weights)) + f", bias {bias:+.2f}")
    fit_paraphrase(d)
    load_pair_model.cache_clear()
    return model


PARAPHRASE_THRESHOLDS = np.round(np.arange(0.30, 0.71, 0.05), 2)


def fit_paraphrase(d: dict) -> dict:
    """``paraphrase_model.json``: MSRP alone (is it the same statement?), its regularisation and
    its threshold chosen on pooled 5-fold CV predictions for accuracy. STS-B's graded similarity
    is a different question, and mixing it in costs MSRP accuracy."""
    print(f"{'C':>6} | CV MSRP acc   F1 (best threshold)")
    best = None
    for c in (0.01, 0.1, 1.0, 10.0):
        p = cross_validate_pairs(d, c, 0.0)["msrp_p"]
        acc, t = max((msrp_scores(p, d["y_m"], t)[0], t) for t in PARAPHRASE_THRESHOLDS)
        f1 = msrp_scores(p, d["y_m"], t)[1]
        print(f"{c:>6} |     {acc:.3f} {f1:.3f} ({t:.2f})")
        if best is None or acc > best[0]:
            best = (acc, f1, c, t)
    acc, f1, c, t = best
    weights, bias = fit_logistic(d["x_m"], d["y_m"], d["x_s"], d["t_s"], c, 0.0)
    in_acc, in_f1 = msrp_scores(proba(d["x_m"], weights, bias), d["y_m"], t)
    model = {
        "features": list(FEATURES),
        "weights": [round(float(w), 6) for w in weights],
        "bias": round(bias, 6),
        "threshold": float(t),
        "trained_on": f"MSRP train ({len(d['y_m'])} pairs); logistic regression, C={c}; eval/fit.py",
        "cv": {"folds": FOLDS, "msrp_accuracy": round(acc, 4), "msrp_f1": round(f1, 4),
               "in_sample_msrp_accuracy": round(in_acc, 4), "in_sample_msrp_f1": round(in_f1, 4)},
    }
    _write_json(PACKAGE_DATA / "paraphrase_model.json", model)
    print(f"paraphrase model: C={c}, threshold {t:.2f}: 5-fold CV MSRP accuracy {acc:.3f} F1 {f1:.3f} "
          f"(threshold chosen on the pooled CV predictions); in sample {in_acc:.3f} / {in_f1:.3f}")
    return model


# --- 2. the verdict model --------------------------------------------------------------------


CACHE = Path(__file__).resolve().parent / ".cache"


class CachedEncoder:
    """The parallel encoder behind a cache of vectors by text (``eval/.cache``, git-ignored): the
    sets' sentences are embedded once, and refits only re-align."""

    def __init__(self, options: Options):
        self.options = options
        self.path = CACHE / f"embeddings-{options.fingerprint.model}.npz"
        self.vectors: dict[str, np.ndarray] = {}
        if self.path.is_file():
            with np.load(self.path) as data:
                self.vectors = dict(zip(data["keys"].tolist(), data["vectors"]))

    def encode(self, texts: list[str]) -> np.ndarray:
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in self.vectors}.items())
        if missing:
            with ParallelEncoder(self.options) as encoder:
                fresh = encoder.encode([t for _, t in missing])
            self.vectors.update(zip((k for k, _ in missing), fresh))
            CACHE.mkdir(exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.tmp.npz")
            np.savez(tmp, keys=np.array(list(self.vectors)), vectors=np.stack(list(self.vectors.values())))
            os.replace(tmp, self.path)
        dim = len(next(iter(self.vectors.values()))) if self.vectors else 1
        return np.stack([self.vectors[k] for k in keys]) if keys else np.zeros((0, dim), dtype=np.float32)


@dataclass
class Prepared:
    """One article pair, read, segmented and scored once; aligned again for each setting."""

    x: Document
    y: Document
    scores: PairScores


def prepare(pairs: list[tuple[object, object]], options: Options, what: str) -> list[Prepared]:
    """Read and segment both sides of each pair, embed them and score every pair of sentences, as
    `wiretrace.api.compare` does before it aligns."""
    started = time.perf_counter()
    docs = [(read(a, options), read(b, options)) for a, b in pairs]
    texts = [embedding_texts(doc) for pair in docs for doc in pair]
    flat = CachedEncoder(options).encode([t for ts in texts for t in ts])
    vectors = np.split(flat, np.cumsum([len(ts) for ts in texts])[:-1])
    out = [Prepared(x, y, score(x, y, vectors[2 * k], vectors[2 * k + 1])) for k, (x, y) in enumerate(docs)]
    print(f"{what}: {len(out)} pairs read, embedded and scored ({time.perf_counter() - started:.0f} s)")
    return out


def oriented(p: Prepared, align_options: AlignOptions):
    """(derived, source, alignment, direction) exactly as `wiretrace.api.compare` decides them."""
    alignment = align(p.x, p.y, p.scores, align_options)
    way = direction(p.x, p.y, alignment)
    if way.original == p.x.article.id:
        return p.y, p.x, align(p.y, p.x, p.scores.transpose(), align_options), way
    return p.x, p.y, alignment, way


def feature_table(prepared: list[Prepared], align_options: AlignOptions,
                  rule: AttributeOptions) -> tuple[np.ndarray, np.ndarray]:
    """`document_features` of each pair, as `compare` orients and aligns it, and what the
    alignment alone says: 1 at least partially derived (`attribute.partially`, `min_sentences`),
    -1 no evidence of reuse at all (nothing aligned, no word 3-gram shared), 0 neither."""
    rows, evidence = [], []
    for p in prepared:
        derived, source, alignment, _ = oriented(p, align_options)
        rows.append(document_features(derived, source, alignment))
        d_share, _, matched = shares(alignment)
        none = matched == 0 and rows[-1][DOCUMENT_FEATURES.index("contain3")] == 0.0
        evidence.append(-1 if none else int(rule_verdict(d_share, matched, rule) != NOT_DERIVED))
    return np.asarray(rows, dtype=float).reshape(len(rows), len(DOCUMENT_FEATURES)), np.asarray(evidence)


def predict_codes(x: np.ndarray, evidence: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The attribute stage's verdict, vectorised: the model's, raised to partially derived (1)
    from not derived (2) where the alignment shows reuse, not derived where nothing does."""
    codes = np.argmax(x @ weights.T + bias, axis=1)
    codes[(codes == 2) & (evidence == 1)] = 1
    codes[evidence == -1] = 2
    return codes


def fit_multinomial(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights (classes x features) and biases over the raw features, classes in VERDICTS order."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=5000)
    model.fit((x - mean) / std, y, sample_weight=w)
    assert list(model.classes_) == [0, 1, 2], model.classes_
    weights = model.coef_ / std
    return weights, model.intercept_ - weights @ mean


def cross_validate_verdicts(xc, fc, yc, xb, fb, c: float, basil_weight: float) -> tuple[np.ndarray, np.ndarray, list]:
    """5-fold CV over COUNTER (stratified) and BASIL together: held-out verdict codes of each."""
    pc, pb, per_fold = np.zeros(len(yc), dtype=int), np.zeros(len(xb), dtype=int), []
    folds_c = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(xc, yc)
    folds_b = KFold(FOLDS, shuffle=True, random_state=SEED).split(xb)
    for (tr_c, te_c), (tr_b, te_b) in zip(folds_c, folds_b):
        x = np.vstack([xc[tr_c], xb[tr_b]])
        y = np.concatenate([yc[tr_c], np.full(len(tr_b), 2)])
        w = np.concatenate([np.ones(len(tr_c)), np.full(len(tr_b), basil_weight)])
        weights, bias = fit_multinomial(x, y, w, c)
        pc[te_c] = predict_codes(xc[te_c], fc[te_c], weights, bias)
        pb[te_b] = predict_codes(xb[te_b], fb[te_b], weights, bias)
        per_fold.append(macro_f1_codes(yc[te_c], pc[te_c]))
    return pc, pb, per_fold


def macro_f1_codes(gold: np.ndarray, pred: np.ndarray) -> float:
    matrix = np.bincount(gold * 3 + pred, minlength=9).reshape(3, 3)
    tp = np.diag(matrix).astype(float)
    denominator = matrix.sum(axis=0) + matrix.sum(axis=1)
    return float(np.mean(np.divide(2 * tp, denominator, out=np.zeros(3), where=denominator > 0)))


def binary_f1_codes(gold: np.ndarray, pred: np.ndarray) -> float:
    return binary_f1(gold != 2, pred != 2)


C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
BASIL_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def fit_verdicts(data: Path) -> dict:
    options = DEFAULTS
    counter = datasets.load_counter(data / "counter")
    events = datasets.basil_events(datasets.load_basil(data / "basil"))
    basil_pairs = [(x.article, y.article) for items in events.values()
                   for x, y in itertools.combinations(items, 2)]
    prepared_c = prepare([(p.source, p.derived) for p in counter], options, "COUNTER")
    prepared_b = prepare(basil_pairs, options, "BASIL")
    yc = np.array([VERDICTS.index(p.label) for p in counter])
    started = time.perf_counter()
    (xc, fc), (xb, fb) = (feature_table(p, options.align, options.attribute) for p in (prepared_c, prepared_b))
    print(f"aligned {len(counter) + len(basil_pairs)} pairs ({time.perf_counter() - started:.0f} s)")
    print(f"{'C':>6} {'basil_w':>7} | CV COUNTER macro-F1 binary-F1 | CV BASIL called derived")
    best = None
    for c, basil_weight in itertools.product(C_GRID, BASIL_WEIGHTS):
        pc, pb, per_fold = cross_validate_verdicts(xc, fc, yc, xb, fb, c, basil_weight)
        macro, binary, basil = macro_f1_codes(yc, pc), binary_f1_codes(yc, pc), float(np.mean(pb != 2))
        print(f"{c:>6} {basil_weight:>7} |     {macro:.3f}     {binary:.3f} |     {basil:.3f}")
        # BASIL's independent reports must (almost) never be called derived; then COUNTER decides.
        key = (basil <= BASIL_MAX_DERIVED, macro + binary)
        if best is None or key > best[0]:
            best = (key, c, basil_weight, pc, pb, per_fold)
    _, c, basil_weight, pc, pb, per_fold = best
    x = np.vstack([xc, xb])
    y = np.concatenate([yc, np.full(len(xb), 2)])
    w = np.concatenate([np.ones(len(xc)), np.full(len(xb), basil_weight)])
    weights, bias = fit_multinomial(x, y, w, c)
    in_c, in_b = predict_codes(xc, fc, weights, bias), predict_codes(xb, fb, weights, bias)
    model = {
        "features": list(DOCUMENT_FEATURES),
        "classes": list(VERDICTS),
        "weights": [[round(float(v), 6) for v in row] for row in weights],
        "bias": [round(float(v), 6) for v in bias],
        "trained_on": (f"COUNTER dev ({len(yc)} pairs, WD/PD/ND) + BASIL dev ({len(xb)} within-event pairs "
                       f"as not derived, weight {basil_weight}); multinomial logistic regression, C={c}; "
                       f"eval/fit.py --step verdicts"),
        "cv": {
            "folds": FOLDS,
            "counter_macro_f1": round(macro_f1_codes(yc, pc), 4),
            "counter_binary_f1": round(binary_f1_codes(yc, pc), 4),
            "counter_macro_f1_per_fold": [round(v, 4) for v in per_fold],
            "counter_confusion": np.bincount(yc * 3 + pc, minlength=9).reshape(3, 3).tolist(),
            "basil_called_derived": round(float(np.mean(pb != 2)), 4),
            "in_sample_counter_macro_f1": round(macro_f1_codes(yc, in_c), 4),
            "in_sample_counter_binary_f1": round(binary_f1_codes(yc, in_c), 4),
            "in_sample_basil_called_derived": round(float(np.mean(in_b != 2)), 4),
        },
    }
    _write_json(PACKAGE_DATA / "verdict_model.json", model)
    load_verdict_model.cache_clear()
    _check_model(prepared_c[:40], in_c[:40])
    cv = model["cv"]
    print(f"chosen C={c}, BASIL weight {basil_weight}: COUNTER 5-fold CV macro-F1 {cv['counter_macro_f1']:.3f} "
          f"(per fold {', '.join(f'{v:.3f}' for v in per_fold)}), binary F1 {cv['counter_binary_f1']:.3f}; "
          f"BASIL CV called derived {cv['basil_called_derived']:.3f}; in sample {cv['in_sample_counter_macro_f1']:.3f} / "
          f"{cv['in_sample_counter_binary_f1']:.3f} / {cv['in_sample_basil_called_derived']:.3f}")
    print("weights (standardised units are in the CV table's model; raw here):")
    for label, row in zip(VERDICTS, weights):
        print(f"  {label:>17}: " + ", ".join(f"{n} {v:+.2f}" for n, v in zip(DOCUMENT_FEATURES, row)))
    return model


def _check_model(prepared: list[Prepared], codes: np.ndarray) -> None:
    """The shipped model, run through the attribute stage itself, must give fit.py's verdicts."""
    for p, code in zip(prepared, codes):
        derived, source, alignment, way = oriented(p, DEFAULTS.align)
        got = attribute(derived, source, alignment, way, DEFAULTS.attribute).verdict
        if got != VERDICTS[code]:
            raise SystemExit(f"fit.py's verdicts disagree with attribute(): {p.x.article.id}: "
                             f"{got} vs {VERDICTS[code]}; update predict_codes()")


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data",
                        help="folder holding msrp/, stsb/, counter/ and basil/ (default: ../shared/data)")
    parser.add_argument("--step", choices=("pairs", "verdicts", "all"), default="all")
    args = parser.parse_args(argv)
    if args.step in ("pairs", "all"):
        fit_pairs(args.data)
    if args.step in ("verdicts", "all"):
        fit_verdicts(args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
