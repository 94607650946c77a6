"""Evaluation scores against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from SegQualityReviewLib.quality.evaluation import (
    ScoredCandidate,
    aurc,
    auroc,
    evaluate,
    ranking_and_selection,
    save_plots,
    sensitivity_at_flag_rate,
)


def test_aurc_accepts_most_confident_first():
    true = np.array([0.9, 0.5, 0.1])
    # Perfect order: risks 0.1, 0.5, 0.9 -> running means 0.1, 0.3, 0.5.
    assert aurc(true, np.array([0.9, 0.5, 0.1])) == pytest.approx(0.3)
    # Reversed order: risks 0.9, 0.5, 0.1 -> running means 0.9, 0.7, 0.5.
    assert aurc(true, np.array([0.1, 0.5, 0.9])) == pytest.approx(0.7)


def test_auroc_and_sensitivity_at_flag_rate():
    bad = np.array([True, True, False, False, False])
    predicted = np.array([0.2, 0.6, 0.5, 0.8, 0.9])
    # Pairs (bad, good) where the bad one is predicted lower: 3 of 3 for 0.2, 2 of 3 for 0.6.
    assert auroc(bad, -predicted) == pytest.approx(5 / 6)
    assert sensitivity_at_flag_rate(bad, predicted, rate=0.2) == pytest.approx(0.5)


def test_ranking_and_selection_within_each_structure():
    candidates = [
        ScoredCandidate("c", "liver", f"m{i}", "f", true, predicted)
        for i, (true, predicted) in enumerate([(0.9, 0.8), (0.7, 0.85), (0.5, 0.3)])
    ]
    result = ranking_and_selection(candidates)
    assert result["groups_ranked"] == 1
    assert result["kendall_tau_mean"] == pytest.approx(1 / 3, abs=1e-4)
    assert result["selection_gain_mean"] == pytest.approx(0.7 - 0.7)
    assert result["oracle_selection_gain_mean"] == pytest.approx(0.2)


def test_report_always_carries_the_true_dice_distribution(tmp_path):
    rng = np.random.default_rng(0)
    true = rng.random(50)
    candidates = [ScoredCandidate("c", f"s{i}", "m", "f", t, t) for i, t in enumerate(true)]
    report = evaluate(candidates, threshold=0.7)
    assert report["mae"] == 0.0 and report["pearson"] == pytest.approx(1.0)
    assert report["true_dice"]["share_below_threshold"] == pytest.approx(round((true < 0.7).mean(), 4))
    assert report["auroc_below_threshold"] == pytest.approx(1.0)
    paths = save_plots(candidates, tmp_path, prefix="test", title="t")
    assert all(path.stat().st_size > 1000 for path in paths)


def test_flagging_below_the_threshold_reports_share_precision_and_recall():
    # (true, predicted): two truly bad; flagged (predicted < 0.7) are the first, third and fourth.
    pairs = [(0.2, 0.5), (0.6, 0.75), (0.9, 0.65), (0.5, 0.1), (0.95, 0.9)]
    candidates = [ScoredCandidate("c", f"s{i}", "m", "f", t, p) for i, (t, p) in enumerate(pairs)]
    flagging = evaluate(candidates, threshold=0.7)["flagged_below_threshold"]
    assert flagging == pytest.approx({"share_flagged": 0.6, "precision": 2 / 3, "recall": 2 / 3}, abs=1e-4)
