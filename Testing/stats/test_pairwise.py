"""Paired comparisons: peers agree on each p-value, Holm holds the family-wise error, verdicts keep their meaning."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_paired

from SegQualityReviewLib.stats import StatsInputError, compare_models, resample_patients
from SegQualityReviewLib.stats.pairwise import holm, sign_flip_p_values
from SegQualityReviewLib.stats.validation import group_by_patient


def test_exact_sign_flip_p_value_matches_scipy_permutation_test():
    rng = np.random.default_rng(1)
    first = rng.beta(8, 2, size=11)
    second = first - rng.normal(0.03, 0.05, size=11)
    (comparison,) = compare_models(np.column_stack([first, second]), model_names=["a", "b"])
    peer = scipy.stats.permutation_test(
        (first, second),
        lambda x, y: np.mean(x - y),
        permutation_type="samples",
        n_resamples=np.inf,
        alternative="two-sided",
    )
    assert comparison.permutation_exact and comparison.n_permutations == 2**11
    assert comparison.p_permutation == pytest.approx(peer.pvalue)
    assert comparison.p_wilcoxon == pytest.approx(scipy.stats.wilcoxon(first - second).pvalue)


def test_random_sign_flips_approximate_the_paired_t_test_for_many_patients():
    rng = np.random.default_rng(2)
    first = rng.normal(0.8, 0.1, size=200)
    second = first - rng.normal(0.015, 0.1, size=200)
    (comparison,) = compare_models(
        np.column_stack([first, second]), model_names=["a", "b"], n_resamples=20_000
    )
    assert not comparison.permutation_exact and comparison.n_permutations == 20_000
    assert comparison.p_permutation == pytest.approx(scipy.stats.ttest_rel(first, second).pvalue, abs=0.01)


def test_sign_flips_move_whole_patients_together():
    patient_ids = np.repeat(np.arange(8), 4)
    patient_differences = np.array([0.1, 0.08, -0.02, 0.06, 0.12, -0.04, 0.05, 0.07])
    differences = np.repeat(patient_differences, 4) + np.random.default_rng(3).normal(0, 0.005, size=32)
    clustered = sign_flip_p_values(group_by_patient(differences, patient_ids), n_resamples=10_000, seed=0)
    rows_as_patients = sign_flip_p_values(group_by_patient(differences), n_resamples=10_000, seed=0)
    assert clustered[1] == 2**8 and clustered[2]
    # 10 of the 256 patient sign vectors (5 and their mirror images) reach the observed |sum|.
    assert clustered[0][0] == pytest.approx(10 / 256)
    # Treating 32 correlated rows as 32 patients overstates the evidence a hundredfold.
    assert rows_as_patients[0][0] < clustered[0][0] / 100


def test_holm_holds_the_family_wise_error_rate_under_the_null():
    # 2,000 null families of 5 exchangeable models on 30 patients: 10 pairs each, all in one vectorised call.
    n_simulations, n_patients, n_models = 2000, 30, 5
    rng = np.random.default_rng(9)
    patient_effect = rng.normal(0.8, 0.08, size=(n_patients, 1, n_simulations))
    values = patient_effect + rng.normal(0.0, 0.05, size=(n_patients, n_models, n_simulations))
    pairs = [(a, b) for a in range(n_models) for b in range(a + 1, n_models)]
    differences = np.stack([values[:, a] - values[:, b] for a, b in pairs], axis=1)
    p_values = sign_flip_p_values(
        group_by_patient(differences.reshape(n_patients, -1)), n_resamples=1000, seed=4
    )[0].reshape(len(pairs), n_simulations)
    unadjusted_error = np.mean((p_values < 0.05).any(axis=0))
    holm_error = np.mean((holm(p_values.T) < 0.05).any(axis=1))
    assert unadjusted_error > 0.15
    assert holm_error <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / n_simulations)


def test_holm_matches_statsmodels_for_each_family_of_a_batch():
    p_values = np.random.default_rng(8).uniform(0, 0.2, size=(5, 7))
    p_values[0, :3] = p_values[0, 3]
    expected = np.stack([multipletests(row, method="holm")[1] for row in p_values])
    assert holm(p_values) == pytest.approx(expected, rel=1e-12)


def test_a_clear_difference_names_the_better_model_for_both_metric_directions():
    rng = np.random.default_rng(4)
    dice_good = rng.beta(18, 2, size=40)
    dice_poor = dice_good - np.abs(rng.normal(0.1, 0.03, size=40))
    (dice,) = compare_models(np.column_stack([dice_poor, dice_good]), model_names=["poor", "good"])
    hd95_good = rng.gamma(2.0, 1.0, size=40)
    hd95_poor = hd95_good + np.abs(rng.normal(3.0, 1.0, size=40))
    (hd95,) = compare_models(
        np.column_stack([hd95_poor, hd95_good]), model_names=["poor", "good"], higher_is_better=False
    )
    for comparison in (dice, hd95):
        assert comparison.significant and comparison.better == "good" and comparison.verdict == "b_better"
        assert comparison.p_permutation_holm < 0.001 and comparison.p_wilcoxon < 0.001
    assert dice.difference.high < 0 and hd95.difference.low > 0


def test_not_separable_is_not_equivalent_and_equivalence_needs_evidence():
    rng = np.random.default_rng(5)
    few = rng.normal(0.8, 0.1, size=(8, 2))
    (noisy,) = compare_models(few, model_names=["a", "b"], equivalence_margin=0.02)
    assert not noisy.significant and not noisy.equivalence.equivalent and noisy.verdict == "not_separable"
    base = rng.normal(0.8, 0.1, size=300)
    close = np.column_stack([base, base + rng.normal(0.0, 0.02, size=300)])
    (tight,) = compare_models(close, model_names=["a", "b"], equivalence_margin=0.02, n_resamples=2000)
    assert tight.equivalence.equivalent and tight.verdict == "equivalent"
    assert -0.02 < tight.equivalence.low and tight.equivalence.high < 0.02
    peer_p = ttost_paired(close[:, 0], close[:, 1], -0.02, 0.02)[0]
    assert tight.equivalence.p_value == pytest.approx(peer_p)


def test_all_pairs_come_in_column_order_and_serialise_to_strict_json():
    values = np.random.default_rng(6).beta(8, 2, size=(35, 4))
    resamples = resample_patients(35, n_resamples=500, seed=2)
    comparisons = compare_models(values, model_names=["w", "x", "y", "z"], resamples=resamples)
    assert [(c.model_a, c.model_b) for c in comparisons] == [
        ("w", "x"),
        ("w", "y"),
        ("w", "z"),
        ("x", "y"),
        ("x", "z"),
        ("y", "z"),
    ]
    assert all(c.difference.seed == 2 and c.difference.n_resamples == 500 for c in comparisons)
    assert all(c.p_permutation_holm >= c.p_permutation for c in comparisons)
    assert (
        json.loads(json.dumps([c.as_dict() for c in comparisons], allow_nan=False))[0]["equivalence"] is None
    )


def test_comparisons_reject_unusable_model_names_and_margins():
    values = np.random.default_rng(7).normal(size=(10, 2))
    with pytest.raises(StatsInputError, match="repeated: a"):
        compare_models(values, model_names=["a", "a"])
    with pytest.raises(StatsInputError, match="3 model names given for 2"):
        compare_models(values, model_names=["a", "b", "c"])
    with pytest.raises(StatsInputError, match="equivalence_margin"):
        compare_models(values, model_names=["a", "b"], equivalence_margin=-0.1)
