"""Interval ends clipped to each metric's natural range, recorded in results.json, and reanalyze agreeing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from SegQualityReviewLib import stats
from SegQualityReviewLib.batch import AnalysisSettings, reanalyze, run_analyze

# Three patients: a small-N t-interval. Model "near_one" has Dice close to 1 with one poor case, so its
# interval reaches above 1; its HD95 is close to 0 with one large value, so that interval reaches below 0.
DICE = {"near_one": [0.99, 0.999, 0.90], "weaker": [0.80, 0.85, 0.70]}
HD95 = {"near_one": [0.0, 0.1, 3.0], "weaker": [2.0, 2.5, 4.0]}
# Opposite failures on one structure: the paired Dice difference interval reaches past [-1, 1].
SWAP = {"near_one": [1.0, 1.0, 0.0], "weaker": [0.0, 0.0, 1.0]}
# Symmetric t intervals for HD95 too (its default, bootstrap-t, follows the skew and stays above 0 here).
SETTINGS = {"metrics": ("dice", "hd95"), "n_resamples": 200, "skewed_metrics": ()}


def _write_table(path, *, dice_scale: float = 1.0) -> None:
    rows = []
    for structure, metric, values, scale in (
        ("liver", "dice", DICE, dice_scale),
        ("liver", "hd95", HD95, 1.0),
        ("lesion", "dice", SWAP, dice_scale),
        ("lesion", "hd95", HD95, 1.0),
    ):
        for model, column in values.items():
            for index, value in enumerate(column):
                rows.append(
                    {
                        "case_id": f"c{index}",
                        "patient_id": f"p{index}",
                        "model": model,
                        "structure": structure,
                        "metric": metric,
                        "value": value * scale,
                    }
                )
    pd.DataFrame(rows).to_csv(path, index=False)


def _family(results, structure, metric):
    return next(
        f for f in results["analysis"]["families"] if (f["structure"], f["metric"]) == (structure, metric)
    )


def _mean(family, model):
    return next(e["mean"] for e in family["estimates"] if e["model"] == model)


def test_interval_ends_are_clipped_to_the_metric_range_and_the_raw_end_is_recorded(tmp_path):
    _write_table(tmp_path / "scores.csv")
    outputs = run_analyze(tmp_path / "scores.csv", AnalysisSettings(**SETTINGS), tmp_path / "out")
    results = json.loads(outputs.results_path.read_text())
    assert results["analysis"]["value_ranges"] == {"dice": [0.0, 1.0], "hd95": [0.0, None]}

    raw = stats.mean_intervals(np.array(DICE["near_one"])[:, None], patient_ids=np.arange(3), level=0.95)[0]
    assert raw.method == "t" and raw.high > 1.0  # the unclipped interval the stats package gives
    dice = _mean(_family(results, "liver", "dice"), "near_one")
    assert dice["high"] == 1.0 and dice["clipped"] == {"high": raw.high} and dice["low"] == raw.low
    assert _mean(_family(results, "liver", "dice"), "weaker")["clipped"] == {}

    hd95 = _mean(_family(results, "liver", "hd95"), "near_one")
    assert hd95["low"] == 0.0 and hd95["clipped"]["low"] < 0 and "high" not in hd95["clipped"]

    # Three patients give 8 sign vectors: no difference can be rejected, so the primary interval is
    # unbounded (null before clipping) and shown as the whole range [-1, 1] of a Dice difference.
    difference = _family(results, "lesion", "dice")["pairwise"][0]["difference"]
    assert difference["low"] == -1.0 and difference["high"] == 1.0
    assert difference["clipped"] == {"low": None, "high": None}
    # A distance has no upper bound, so neither has its difference: nothing is clipped.
    assert _family(results, "lesion", "hd95")["pairwise"][0]["difference"]["clipped"] == {}

    report = outputs.report_path.read_text(encoding="utf-8")
    assert "1.000\u2021]" in report and "[0.000\u2021," in report


def test_a_skewed_distance_gets_a_bootstrap_t_interval_that_needs_no_clipping(tmp_path):
    _write_table(tmp_path / "scores.csv")
    settings = AnalysisSettings(metrics=("dice", "hd95"), n_resamples=2000)
    outputs = run_analyze(tmp_path / "scores.csv", settings, tmp_path / "out")
    hd95 = _mean(_family(outputs.results, "liver", "hd95"), "near_one")
    assert hd95["method"] == "bootstrap_t" and hd95["low"] >= 0.0 and hd95["clipped"] == {}
    assert hd95["high"] - hd95["estimate"] > hd95["estimate"] - hd95["low"]


def test_reanalyze_recomputes_the_clipped_ends_and_flags_an_unclipped_one(tmp_path):
    _write_table(tmp_path / "scores.csv")
    outputs = run_analyze(tmp_path / "scores.csv", AnalysisSettings(**SETTINGS), tmp_path / "out")
    assert reanalyze(outputs.results_path) == []
    results = json.loads(outputs.results_path.read_text())
    family_index = results["analysis"]["families"].index(_family(results, "liver", "dice"))
    mean = _mean(results["analysis"]["families"][family_index], "near_one")
    mean["high"] = mean["clipped"].pop("high")
    outputs.results_path.write_text(json.dumps(results))
    moved = {difference.path for difference in reanalyze(outputs.results_path)}
    prefix = f"analysis.families[{family_index}].estimates[0].mean"
    assert moved == {f"{prefix}.high", f"{prefix}.clipped.high"}


def test_a_table_whose_values_leave_the_natural_range_is_not_clipped(tmp_path):
    # Dice in percent under the name "dice": clipping to [0, 1] would destroy it, so nothing is clipped.
    _write_table(tmp_path / "scores.csv", dice_scale=100.0)
    outputs = run_analyze(tmp_path / "scores.csv", AnalysisSettings(**SETTINGS), tmp_path / "out")
    analysis = outputs.results["analysis"]
    assert analysis["value_ranges"]["dice"] is None
    dice = _mean(_family(outputs.results, "liver", "dice"), "near_one")
    assert dice["clipped"] == {} and dice["high"] > 100.0
