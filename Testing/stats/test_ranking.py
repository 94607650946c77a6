"""Ranking: bootstrap rank uncertainty, Kendall tau stability, tied leaders and the scheme sensitivity view."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.stats

from SegQualityReviewLib.stats import RANKING_SCHEMES, rank_models, ranking_sensitivity
from SegQualityReviewLib.stats.ranking import kendall_tau_b_rows


def test_vectorised_kendall_tau_b_matches_scipy_with_and_without_ties():
    rng = np.random.default_rng(1)
    reference = np.array([0.9, 0.8, 0.8, 0.7, 0.6])
    rows = rng.integers(0, 4, size=(200, 5)).astype(float)
    rows[0] = 1.0
    taus = kendall_tau_b_rows(rows, reference)
    assert np.isnan(taus[0])
    expected = [scipy.stats.kendalltau(reference, row).statistic for row in rows[1:]]
    assert taus[1:] == pytest.approx(expected, rel=1e-12)


def test_a_clear_leader_ranks_first_in_every_resample():
    rng = np.random.default_rng(2)
    base = rng.beta(8, 2, size=(50, 1))
    values = np.clip(base + np.array([0.0, 0.1, 0.05]) + rng.normal(0, 0.01, size=(50, 3)), 0, 1.2)
    ranking = rank_models(values, model_names=["low", "high", "middle"], n_resamples=2000, seed=5)
    assert [model.model for model in ranking.models] == ["high", "middle", "low"]
    leader = ranking.models[0]
    assert leader.rank == 1 and leader.p_first == 1.0 and (leader.rank_low, leader.rank_high) == (1, 1)
    assert ranking.tied_leaders == ("high",) and ranking.kendall_tau_mean == 1.0
    assert ranking.n == 50 and ranking.n_resamples == 2000 and ranking.seed == 5
    json.dumps(ranking.as_dict(), allow_nan=False)


def test_indistinguishable_leaders_are_tied_and_share_rank_one():
    rng = np.random.default_rng(3)
    base = rng.beta(8, 2, size=(40, 1))
    values = base + np.array([0.05, 0.05, -0.1]) + rng.normal(0, 0.02, size=(40, 3))
    ranking = rank_models(values, model_names=["a", "b", "c"], n_resamples=2000)
    assert set(ranking.tied_leaders) == {"a", "b"}
    first_two = {model.model: model for model in ranking.models[:2]}
    assert all(
        0.1 < model.p_first < 0.9 and (model.rank_low, model.rank_high) == (1, 2)
        for model in first_two.values()
    )
    assert ranking.models[2].model == "c" and ranking.models[2].p_first == 0.0
    assert sum(model.p_first for model in ranking.models) == pytest.approx(1.0)
    assert ranking.kendall_tau_low < 1.0


def test_tied_leaders_are_exactly_the_models_whose_rank_interval_contains_one():
    rng = np.random.default_rng(7)
    for trial in range(20):
        base = rng.beta(8, 2, size=(25, 1))
        values = base + rng.normal(0, 0.02, size=5) + rng.normal(0, 0.03, size=(25, 5))
        ranking = rank_models(values, model_names=list("abcde"), n_resamples=1000, seed=trial)
        for model in ranking.models:
            assert model.tied_leader == (model.rank_low == 1) == (model.p_first >= 0.025)
        assert set(ranking.tied_leaders) == {m.model for m in ranking.models if m.rank_low == 1}


def test_a_model_that_is_rarely_first_is_not_a_tied_leader():
    # Three models: b and c close behind a; c is first in only a few resamples (CT-FM's 0.003 in KiTS).
    rng = np.random.default_rng(8)
    base = rng.beta(8, 2, size=(60, 1))
    values = base + np.array([0.03, 0.025, 0.0]) + rng.normal(0, 0.02, size=(60, 3))
    ranking = rank_models(values, model_names=list("abc"), n_resamples=2000)
    c = next(model for model in ranking.models if model.model == "c")
    assert c.p_first < 0.025 and c.rank_low > 1 and not c.tied_leader and "c" not in ranking.tied_leaders


def test_the_median_statistic_ranks_by_bootstrap_medians():
    rng = np.random.default_rng(9)
    steady = rng.normal(0.85, 0.02, size=40)
    brittle = steady + 0.03 + rng.normal(0, 0.005, size=40)
    brittle[:6] = 0.0
    values = np.column_stack([steady, brittle])
    by_mean = rank_models(values, model_names=["steady", "brittle"], n_resamples=1000)
    by_median = rank_models(values, model_names=["steady", "brittle"], n_resamples=1000, statistic="median")
    assert by_mean.models[0].model == "steady" and by_median.models[0].model == "brittle"
    assert by_median.scheme == "median" and by_median.models[0].aggregate == pytest.approx(np.median(brittle))


def test_each_model_is_ranked_on_its_own_cases_when_missing_cells_are_allowed():
    rng = np.random.default_rng(10)
    values = rng.beta(8, 2, size=(40, 3)) + np.array([0.05, 0.0, 0.0])
    values[:15, 0] = np.nan
    ranking = rank_models(values, model_names=list("abc"), n_resamples=500, allow_missing=True)
    a = next(model for model in ranking.models if model.model == "a")
    assert a.aggregate == pytest.approx(np.nanmean(values[:, 0])) and ranking.n == 40


def test_lower_is_better_metrics_rank_the_smallest_distance_first():
    rng = np.random.default_rng(4)
    hd95 = rng.gamma(2.0, 2.0, size=(40, 1)) + np.array([0.0, 3.0]) + rng.gamma(1.0, 0.2, size=(40, 2))
    ranking = rank_models(hd95, model_names=["near", "far"], higher_is_better=False, n_resamples=1000)
    assert ranking.models[0].model == "near" and not ranking.higher_is_better
    assert ranking.models[0].aggregate < ranking.models[1].aggregate


def test_sensitivity_shows_mean_and_rank_based_schemes_disagree_on_a_model_with_rare_failures():
    rng = np.random.default_rng(5)
    steady = rng.normal(0.85, 0.02, size=60)
    brittle = steady + 0.03 + rng.normal(0, 0.005, size=60)
    brittle[:8] = 0.0
    sensitivity = ranking_sensitivity(np.column_stack([steady, brittle]), model_names=["steady", "brittle"])
    ranks = {scheme.scheme: scheme.ranks for scheme in sensitivity.schemes}
    assert tuple(ranks) == RANKING_SCHEMES
    assert ranks["mean"] == (1, 2)
    assert ranks["median"] == ranks["rank_then_aggregate"] == ranks["test_then_rank"] == (2, 1)
    taus = {scheme.scheme: scheme.kendall_tau_vs_primary for scheme in sensitivity.schemes}
    assert taus["mean"] == 1.0 and taus["median"] == -1.0


def test_test_then_rank_counts_significant_one_sided_wins():
    rng = np.random.default_rng(6)
    base = rng.normal(5.0, 1.0, size=(30, 1))
    hd95 = base + np.array([0.0, 1.0, 2.0, 2.01]) + rng.normal(0, 0.1, size=(30, 4))
    sensitivity = ranking_sensitivity(hd95, model_names=list("abcd"), higher_is_better=False)
    test_then_rank = sensitivity.schemes[RANKING_SCHEMES.index("test_then_rank")]
    assert test_then_rank.aggregates == (3.0, 2.0, pytest.approx(0.0, abs=1.0), pytest.approx(0.0, abs=1.0))
    assert test_then_rank.ranks[:2] == (1, 2) and set(test_then_rank.ranks[2:]) <= {3, 4}
