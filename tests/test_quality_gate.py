"""Quality gate: wiretrace on the development halves of the public sets must stay at or above the
floors in ``quality_floors.json`` (at or below, for metrics where lower is better).

Run it with ``pytest -m gate``. It reads ``../shared/data`` beside the checkout and is skipped
when that folder is absent. Floors only ever go up (ceilings only down): the last test checks
every committed version of the floors file against the one before it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from wiretrace.evaluate import evaluate
from wiretrace.options import load_options

DATA = Path(__file__).parents[2] / "shared" / "data"
FLOORS_FILE = Path(__file__).parent / "quality_floors.json"
FLOORS = json.loads(FLOORS_FILE.read_text("utf-8"))
SETS = [name for name in FLOORS if not name.startswith("_")]


@pytest.mark.gate
@pytest.mark.parametrize("dataset", SETS)
def test_quality_at_or_above_floor(dataset: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    if not (DATA / dataset).is_dir():
        pytest.skip(f"{DATA / dataset} not found: the quality gate needs the shared evaluation data")
    monkeypatch.chdir(tmp_path)  # the shipped defaults: no ./wiretrace.toml, no environment
    report = evaluate(dataset, DATA, load_options(env={}))
    failures = []
    for metric, bound in FLOORS[dataset].items():
        value = report.metrics[metric]
        if "min" in bound and value < bound["min"]:
            failures.append(f"{metric} {value:.4f} < floor {bound['min']}")
        if "max" in bound and value > bound["max"]:
            failures.append(f"{metric} {value:.4f} > ceiling {bound['max']}")
    measured = ", ".join(f"{k} {v:.4f}" for k, v in report.metrics.items())
    print(f"{dataset}: {measured} ({report.seconds:.0f} s)")  # in CI's log with -rA, pass or fail
    assert not failures, f"{dataset}: {'; '.join(failures)} (measured: {measured}; {report.seconds:.0f} s)"


def _bounds_loosened(old: dict, new: dict) -> list[str]:
    problems = []
    for dataset, metrics in old.items():
        if dataset.startswith("_"):
            continue
        for metric, bound in metrics.items():
            now = new.get(dataset, {}).get(metric)
            if now is None:
                problems.append(f"{dataset}.{metric} was removed")
                continue
            if "min" in bound and now.get("min", float("-inf")) < bound["min"]:
                problems.append(f"{dataset}.{metric} floor lowered from {bound['min']} to {now.get('min')}")
            if "max" in bound and now.get("max", float("inf")) > bound["max"]:
                problems.append(f"{dataset}.{metric} ceiling raised from {bound['max']} to {now.get('max')}")
    return problems


def test_bounds_loosened_detects_lowering():
    old = {"counter": {"macro_f1": {"min": 0.8}}, "basil": {"called_derived": {"max": 0.05}}}
    assert _bounds_loosened(old, old) == []
    assert _bounds_loosened(old, {"counter": {"macro_f1": {"min": 0.9}},
                                  "basil": {"called_derived": {"max": 0.01}}}) == []
    assert _bounds_loosened(old, {"counter": {"macro_f1": {"min": 0.7}},
                                  "basil": {"called_derived": {"max": 0.1}}}) == [
        "counter.macro_f1 floor lowered from 0.8 to 0.7",
        "basil.called_derived ceiling raised from 0.05 to 0.1",
    ]
    assert _bounds_loosened(old, {"basil": {"called_derived": {"max": 0.05}}}) == ["counter.macro_f1 was removed"]


def test_floors_only_go_up():
    root = Path(__file__).parents[1]
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout: the history of the floors cannot be read")
    name = FLOORS_FILE.relative_to(root).as_posix()
    log = subprocess.run(["git", "log", "--reverse", "--format=%H", "--", name], cwd=root,
                         capture_output=True, text=True, check=True).stdout.split()
    versions = [json.loads(subprocess.run(["git", "show", f"{commit}:{name}"], cwd=root, capture_output=True,
                                          text=True, check=True).stdout) for commit in log]
    versions.append(FLOORS)  # the working copy counts too
    problems = [p for old, new in zip(versions, versions[1:]) for p in _bounds_loosened(old, new)]
    assert not problems, "quality floors may only go up: " + "; ".join(problems)
