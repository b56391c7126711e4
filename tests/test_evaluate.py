"""Metrics against values computed by hand, baselines, and the shape of `evaluate`'s output."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from wiretrace.errors import InputError
from wiretrace.evaluate import (
    EvalReport,
    accuracy,
    binary_f1,
    confusion_matrix,
    containment,
    evaluate,
    macro_f1,
    overlap,
    pearson,
    rank,
    report_table,
    spearman,
    tune_binary,
    tune_three_way,
)

W, P, N = "wholly derived", "partially derived", "not derived"
LABELS = (W, P, N)


def test_confusion_matrix_rows_are_gold():
    m = confusion_matrix([W, W, P, N], [W, P, P, P], LABELS)
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]


def test_macro_f1_by_hand():
    gold = [W, W, P, P, P, N]
    pred = [W, P, P, P, P, N]
    # F1: W = 2*1/(1+2) = 2/3, P = 2*3/(4+3) = 6/7, N = 2*1/(1+1) = 1
    assert macro_f1(gold, pred, LABELS) == pytest.approx((2 / 3 + 6 / 7 + 1) / 3)


def test_macro_f1_counts_a_never_predicted_class_as_zero():
    assert macro_f1([W, P, N], [P, P, N], LABELS) == pytest.approx((0 + 2 / 3 + 1) / 3)


def test_binary_f1_and_accuracy_by_hand():
    assert binary_f1([True, True, False, False], [True, False, True, False]) == 0.5
    assert binary_f1([False, False], [False, False]) == 0.0
    assert accuracy([1, 0, 1, 1], [1, 1, 1, 0]) == 0.5


def test_pearson_by_hand():
    # dx = -1.5 -.5 .5 1.5, dy = -3 -1 0 4: sum dx*dy = 11, sum dx^2 = 5, sum dy^2 = 26
    assert pearson([1, 2, 3, 4], [2, 4, 5, 9]) == pytest.approx(11 / math.sqrt(130))
    assert pearson([1, 2, 3], [5, 5, 5]) == 0.0  # constant: no correlation, not NaN


def test_rank_averages_ties():
    assert rank([10, 20, 20, 20, 5]).tolist() == [2, 4, 4, 4, 1]


def test_spearman_with_ties_by_hand():
    # ranks x = 1 2.5 2.5 4, y = 1 3 2 4: sum dx*dy = 4.5, sum dx^2 = 4.5, sum dy^2 = 5
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))
    assert spearman([1, 2, 3, 4], [1, 4, 9, 16]) == pytest.approx(1.0)  # any monotone map


def test_tune_binary_finds_the_best_cut():
    threshold, f1 = tune_binary([0.1, 0.4, 0.35, 0.8], [False, False, True, True], "f1")
    assert f1 == pytest.approx(0.8)  # >= 0.35 catches both positives and one negative
    assert 0.1 < threshold <= 0.35


def test_tune_three_way_separates_separable_scores():
    wholly, partially, value = tune_three_way([0.0, 0.1, 0.5, 0.6, 0.9, 1.0], [N, N, P, P, W, W])
    assert value == 1.0
    assert 0.6 < wholly <= 0.9 and 0.1 < partially <= 0.5


def test_containment_and_overlap():
    assert containment("a b c d", "a b c x", 3) == 0.5  # {abc, bcd} against {abc, bcx}
    assert containment("a b", "a b c", 3) == 0.0  # too short for a trigram
    assert overlap("The cat sat", "the cat sat down there", 1) == 1.0  # shorter side, any case
    assert overlap("a b", "", 1) == 0.0


def test_unknown_dataset_is_an_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="unknown evaluation set 'meter'; known: counter, msrp"):
        evaluate("meter", tmp_path)


def test_msrp_predictions_file_shape(tmp_path: Path):
    rows = [
        "1\t11\t12\tThe company said profits rose 5 percent.\tProfits rose 5 percent, the company said.",
        "0\t21\t22\tThe vote was delayed until Friday.\tA storm hit the coast overnight.",
        "1\t31\t32\tShares fell sharply in early trading.\tShares dropped sharply in early trade.",
    ]
    (tmp_path / "msr_paraphrase_train.txt").write_text("\ufeff" + "\n".join(rows) + "\n", "utf-8")
    out = tmp_path / "predictions.jsonl"
    report = evaluate("msrp", tmp_path, predictions=out)
    records = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [r["id"] for r in records] == ["11-12", "21-22", "31-32"]
    assert all(list(r) == ["id", "paraphrase", "score"] and 0 <= r["score"] <= 1 for r in records)
    assert records[1]["paraphrase"] is False and records[1]["score"] < records[0]["score"]
    assert set(report.metrics) == {"accuracy", "f1"}
    assert report.baselines["majority (paraphrase)"] == {"accuracy": pytest.approx(2 / 3), "f1": 0.8}
    table = report_table(report)
    assert [c.header for c in table.columns][:2] == ["metric", "wiretrace"]
    assert table.columns[-1].header == "published anchor"


def test_report_title_counts_what_was_scored():
    pairs = EvalReport("msrp", "data", 3, {"f1": 0.8}, {}, seconds=2.0)
    docs = EvalReport("ecbplus", "data", 772, {"bcubed_f1": 0.9}, {}, seconds=27.0, unit="documents")
    assert report_table(pairs).title == "wiretrace eval msrp: 3 pairs, 2 s"
    assert report_table(docs).title == "wiretrace eval ecbplus: 772 documents, 27 s"
    assert docs.to_dict()["unit"] == "documents"


def _counter_xml(classification: str, headline: str, body: str, date: str) -> str:
    return (f'<COUNTER_document classification="{classification}" newsdate="{date}" newspaper="X">'
            f"<headline>{headline}</headline><body>{body}</body></COUNTER_document>")


WIRE = ("Police arrested five men in the capital on Tuesday after a raid on a warehouse. "
        "Officers seized rifles, ammunition and radios during the operation. "
        "The interior minister said the group had planned attacks on government buildings. "
        "The men will appear in court next week, a spokesman said.")
REWRITE = ("Five men were arrested by police in the capital on Tuesday following a warehouse raid. "
           "Officers seized rifles, ammunition and radios during the operation. "
           "The men will appear in court next week, a spokesman said.")
UNRELATED = ("The city council approved a new budget for public libraries on Monday. "
             "Opening hours will be extended on weekends from next month. "
             "Librarians welcomed the decision after years of cuts.")


def test_counter_predictions_and_confusion(tmp_path: Path):
    (tmp_path / "0001.xml").write_text(_counter_xml("WD", "Raid", WIRE, "01.12.14"), "utf-8")
    (tmp_path / "0001p.xml").write_text(_counter_xml("WD", "Five held", REWRITE, "02.12.14"), "utf-8")
    (tmp_path / "0002.xml").write_text(_counter_xml("ND", "Raid", WIRE, "01.12.14"), "utf-8")
    (tmp_path / "0002p.xml").write_text(_counter_xml("ND", "Libraries", UNRELATED, "02.12.14"), "utf-8")
    out = tmp_path / "p.jsonl"
    report = evaluate("counter", tmp_path, predictions=out, workers=1)
    records = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [list(r) for r in records] == [["id", "verdict", "derived_share"]] * 2
    assert [r["id"] for r in records] == ["0001", "0002"]
    assert records[0]["verdict"] != N and records[0]["derived_share"] > 0.5
    assert records[1] == {"id": "0002", "verdict": N, "derived_share": 0.0}
    assert np.asarray(report.confusion["matrix"]).sum() == 2
    assert report.metrics["binary_f1"] == 1.0 and report.metrics["direction"] == 1.0
