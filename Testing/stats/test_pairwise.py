"""Paired comparisons: peers agree on each p-value, Holm holds the family-wise error, and every interval shown
comes from the test that gives the verdict, so the two can never disagree."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_paired

from SegQualityReviewLib.stats import StatsInputError, compare_models, holm_decision, resample_patients
from SegQualityReviewLib.stats.multiplicity import holm
from SegQualityReviewLib.stats.signflip import SignFlipNull
from SegQualityReviewLib.stats.validation import group_by_patient


def exact_permutation_p(differences: np.ndarray, delta: float = 0.0) -> float:
    """scipy's exact paired permutation p-value of "mean difference = delta" (the independent peer)."""
    return scipy.stats.permutation_test(
        (differences - delta,),
        np.mean,
        permutation_type="samples",
        n_resamples=np.inf,
        alternative="two-sided",
    ).pvalue


def assert_verdict_agrees_with_interval(comparison, *, higher_is_better: bool = True) -> None:
    low, high = comparison.difference.low, comparison.difference.high
    assert comparison.significant == (low > 0 or high < 0)
    if comparison.verdict == "equivalent":
        margin = comparison.equivalence_margin
        assert -margin < low and high < margin
    elif comparison.verdict in ("a_better", "b_better"):
        a_larger = low > 0
        assert (comparison.verdict == "a_better") == (a_larger == higher_is_better)
    else:
        assert comparison.verdict == "not_separable" and low <= 0 <= high


def test_exact_sign_flip_p_value_matches_scipy_permutation_test():
    rng = np.random.default_rng(1)
    first = rng.beta(8, 2, size=11)
    second = first - rng.normal(0.03, 0.05, size=11)
    (comparison,) = compare_models(np.column_stack([first, second]), model_names=["a", "b"])
    assert comparison.exact and comparison.difference.n_resamples == 2**11
    assert comparison.p_value == pytest.approx(exact_permutation_p(first - second))
    assert comparison.p_mc_error is None
    assert comparison.sensitivity.p_wilcoxon == pytest.approx(scipy.stats.wilcoxon(first - second).pvalue)


def test_sign_flips_are_exact_up_to_a_million_vectors_and_sampled_beyond():
    rng = np.random.default_rng(2)
    differences = rng.normal(0.01, 0.05, size=(20, 1))
    exact = SignFlipNull(differences, np.ones_like(differences), n_resamples=1000, seed=0).test()
    assert exact.exact and exact.n_sign_vectors == 2**20
    # Every one of the 2^20 sign vectors applied directly: the share at least as extreme as observed.
    signs = 1 - 2 * ((np.arange(2**20)[:, None] >> np.arange(20)) & 1)
    flipped = np.abs(signs @ differences[:, 0])
    share = np.mean(flipped >= abs(differences[:, 0].sum()) * (1 - 1e-12))
    assert exact.p_values[0] == pytest.approx(share, abs=1e-12)
    sampled = SignFlipNull(rng.normal(size=(21, 1)), np.ones((21, 1)), n_resamples=1000, seed=0).test()
    assert not sampled.exact and sampled.n_sign_vectors == 1000 and sampled.mc_errors is not None


def test_a_sampled_p_value_is_never_zero_and_carries_its_monte_carlo_error():
    # 200 patients all improving by about 0.1: no random sign vector reaches the observed mean.
    rng = np.random.default_rng(3)
    first = rng.normal(0.8, 0.05, size=200)
    second = first - np.abs(rng.normal(0.1, 0.01, size=200))
    (comparison,) = compare_models(np.column_stack([first, second]), model_names=["a", "b"], n_resamples=999)
    assert not comparison.exact
    assert comparison.p_value == 1 / 1000  # (0 hits + 1) / (B + 1), Phipson & Smyth: never 0
    assert comparison.p_mc_error == pytest.approx(np.sqrt(0.001 * 0.999 / 999))


def test_random_sign_flips_approximate_the_paired_t_test_for_many_patients():
    rng = np.random.default_rng(2)
    first = rng.normal(0.8, 0.1, size=200)
    second = first - rng.normal(0.015, 0.1, size=200)
    (comparison,) = compare_models(
        np.column_stack([first, second]), model_names=["a", "b"], n_resamples=20_000
    )
    assert not comparison.exact and comparison.difference.n_resamples == 20_000
    assert comparison.p_value == pytest.approx(scipy.stats.ttest_rel(first, second).pvalue, abs=0.01)


def test_sign_flips_move_whole_patients_together():
    patient_ids = np.repeat(np.arange(8), 4)
    patient_differences = np.array([0.1, 0.08, -0.02, 0.06, 0.12, -0.04, 0.05, 0.07])
    differences = np.repeat(patient_differences, 4) + np.random.default_rng(3).normal(0, 0.005, size=32)
    clustered = group_by_patient(differences, patient_ids)
    rows = group_by_patient(differences)
    by_patient = SignFlipNull(clustered.sums, clustered.sizes, n_resamples=10_000, seed=0).test()
    by_row = SignFlipNull(rows.sums, rows.sizes, n_resamples=10_000, seed=0).test()
    assert by_patient.exact and by_patient.n_sign_vectors == 2**8
    # 10 of the 256 patient sign vectors (5 and their mirror images) reach the observed |sum|.
    assert by_patient.p_values[0] == pytest.approx(10 / 256)
    # Treating 32 correlated rows as 32 patients overstates the evidence a hundredfold.
    assert by_row.p_values[0] < by_patient.p_values[0] / 100


def test_the_interval_is_exactly_the_set_of_differences_the_test_keeps():
    rng = np.random.default_rng(4)
    differences = rng.gamma(2.0, 0.02, size=10) - 0.01
    values = np.column_stack([differences + 0.5, np.full(10, 0.5)])
    (comparison,) = compare_models(values, model_names=["a", "b"], level=0.9)
    low, high = comparison.difference.low, comparison.difference.high
    assert comparison.difference.method == "sign_flip_inversion" and comparison.difference.level == 0.9
    assert low < comparison.difference.estimate < high
    step = 1e-9
    for inside in (low + step, high - step, comparison.difference.estimate):
        assert exact_permutation_p(differences, inside) > 0.1
    for outside in (low - step, high + step):
        assert exact_permutation_p(differences, outside) <= 0.1


def test_holm_holds_the_family_wise_error_rate_under_the_null():
    # 2,000 null families of 5 exchangeable models on 30 patients: 10 pairs each, all in one vectorised call.
    n_simulations, n_patients, n_models = 2000, 30, 5
    rng = np.random.default_rng(9)
    patient_effect = rng.normal(0.8, 0.08, size=(n_patients, 1, n_simulations))
    values = patient_effect + rng.normal(0.0, 0.05, size=(n_patients, n_models, n_simulations))
    pairs = [(a, b) for a in range(n_models) for b in range(a + 1, n_models)]
    differences = np.stack([values[:, a] - values[:, b] for a, b in pairs], axis=1).reshape(n_patients, -1)
    p_values = (
        SignFlipNull(differences, np.ones_like(differences), n_resamples=1000, seed=4)
        .test()
        .p_values.reshape(len(pairs), n_simulations)
    )
    unadjusted_error = np.mean((p_values < 0.05).any(axis=0))
    holm_error = np.mean((holm(p_values.T) < 0.05).any(axis=1))
    assert unadjusted_error > 0.15
    assert holm_error <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / n_simulations)


def test_holm_matches_statsmodels_for_each_family_of_a_batch():
    p_values = np.random.default_rng(8).uniform(0, 0.2, size=(5, 7))
    p_values[0, :3] = p_values[0, 3]
    expected = np.stack([multipletests(row, method="holm")[1] for row in p_values])
    assert holm(p_values) == pytest.approx(expected, rel=1e-12)


def test_holm_decision_rejects_as_statsmodels_and_levels_each_interval_to_its_verdict():
    rng = np.random.default_rng(10)
    for _ in range(15):
        p_values = rng.uniform(0, 0.05, size=rng.integers(1, 12)) ** rng.uniform(0.5, 2)
        decision = holm_decision(p_values, alpha=0.05)
        reject, adjusted, *_ = multipletests(p_values, alpha=0.05, method="holm")
        assert (decision.rejected == reject).all() and decision.adjusted == pytest.approx(adjusted)
        # A rejected p sits at or below its interval's alpha, every other p above it.
        assert ((p_values <= decision.interval_alphas) == decision.rejected).all()
        assert (decision.interval_alphas <= 0.05).all()


def test_no_shown_verdict_contradicts_its_shown_interval():
    rng = np.random.default_rng(11)
    checked = {"a_better": 0, "b_better": 0, "not_separable": 0, "equivalent": 0}
    for trial in range(40):
        n_patients = int(rng.choice([6, 12, 40]))
        offsets = rng.normal(0, 0.03, size=5)
        values = rng.beta(8, 2, size=(n_patients, 1)) + offsets + rng.normal(0, 0.03, size=(n_patients, 5))
        higher_is_better = bool(trial % 2)
        for test in ("permutation", "wilcoxon"):
            comparisons = compare_models(
                values,
                model_names=list("abcde"),
                higher_is_better=higher_is_better,
                test=test,
                equivalence_margin=0.03,
                n_resamples=2000,
                seed=trial,
            )
            for comparison in comparisons:
                assert_verdict_agrees_with_interval(comparison, higher_is_better=higher_is_better)
                checked[comparison.verdict] += 1
    assert all(count > 0 for count in checked.values()), checked


def test_wilcoxon_as_primary_test_gives_scipy_p_values_and_the_hodges_lehmann_interval():
    rng = np.random.default_rng(12)
    first = rng.normal(5.0, 2.0, size=18)
    second = first + rng.gamma(1.0, 0.8, size=18)
    (comparison,) = compare_models(
        np.column_stack([first, second]), model_names=["near", "far"], higher_is_better=False, test="wilcoxon"
    )
    differences = first - second
    assert comparison.test == "wilcoxon" and comparison.difference.method == "signed_rank_inversion"
    assert comparison.p_value == pytest.approx(scipy.stats.wilcoxon(differences).pvalue)
    walsh = (differences[:, None] + differences[None, :])[np.triu_indices(18)] / 2
    assert comparison.difference.estimate == pytest.approx(np.median(walsh))
    low, high = comparison.difference.low, comparison.difference.high
    for inside in (low + 1e-9, high - 1e-9):
        assert scipy.stats.wilcoxon(differences - inside).pvalue > 0.05
    for outside in (low - 1e-9, high + 1e-9):
        assert scipy.stats.wilcoxon(differences - outside).pvalue <= 0.05
    assert comparison.verdict == "a_better" and comparison.better == "near"


def test_sensitivity_p_values_are_each_test_holm_adjusted_on_its_own():
    rng = np.random.default_rng(13)
    values = rng.beta(8, 2, size=(25, 1)) + np.array([0.0, 0.02, 0.03, 0.05]) + rng.normal(0, 0.04, (25, 4))
    comparisons = compare_models(values, model_names=list("wxyz"), n_resamples=2000)
    differences = [values[:, a] - values[:, b] for a in range(4) for b in range(a + 1, 4)]
    wilcoxon = [scipy.stats.wilcoxon(d).pvalue for d in differences]
    sensitivity = [c.sensitivity for c in comparisons]
    assert [s.p_wilcoxon for s in sensitivity] == pytest.approx(wilcoxon)
    assert [s.p_wilcoxon_holm for s in sensitivity] == pytest.approx(
        multipletests(wilcoxon, method="holm")[1]
    )
    permutation = [s.p_permutation for s in sensitivity]
    assert [s.p_permutation_holm for s in sensitivity] == pytest.approx(
        multipletests(permutation, method="holm")[1]
    )
    assert [c.p_adjusted for c in comparisons] == pytest.approx([s.p_permutation_holm for s in sensitivity])


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
        assert comparison.p_adjusted < 0.001 and comparison.sensitivity.p_wilcoxon < 0.001
    assert dice.difference.high < 0 and hd95.difference.low > 0


def test_not_separable_is_not_equivalent_and_equivalence_needs_the_whole_interval_inside_the_margin():
    rng = np.random.default_rng(5)
    few = rng.normal(0.8, 0.1, size=(8, 2))
    (noisy,) = compare_models(few, model_names=["a", "b"], equivalence_margin=0.02)
    assert not noisy.significant and noisy.verdict == "not_separable"
    assert not noisy.sensitivity.tost.equivalent
    base = rng.normal(0.8, 0.1, size=300)
    close = np.column_stack([base, base + rng.normal(0.0, 0.02, size=300)])
    (tight,) = compare_models(close, model_names=["a", "b"], equivalence_margin=0.02, n_resamples=2000)
    assert tight.verdict == "equivalent" and -0.02 < tight.difference.low and tight.difference.high < 0.02
    peer_p = ttost_paired(close[:, 0], close[:, 1], -0.02, 0.02)[0]
    assert tight.sensitivity.tost.p_value == pytest.approx(peer_p)


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
    assert all(c.p_adjusted >= c.p_value and c.n_tests == 6 for c in comparisons)
    record = json.loads(json.dumps([c.as_dict() for c in comparisons], allow_nan=False))
    assert record[0]["sensitivity"]["tost"] is None and record[0]["multiplicity"].startswith("holm")


def test_one_models_missing_cases_leave_the_other_pairs_whole():
    rng = np.random.default_rng(14)
    values = rng.beta(8, 2, size=(30, 3)) + np.array([0.0, 0.05, 0.1])
    values[:10, 2] = np.nan  # model c has no value for 10 patients
    comparisons = compare_models(values, model_names=list("abc"), allow_missing=True, n_resamples=1000)
    assert [c.n for c in comparisons] == [30, 20, 20]
    (ab,) = compare_models(values[:, :2], model_names=list("ab"), n_resamples=1000)
    assert comparisons[0].difference.estimate == pytest.approx(ab.difference.estimate)
    with pytest.raises(StatsInputError, match="NaN"):
        compare_models(values, model_names=list("abc"))


def test_comparisons_reject_unusable_model_names_margins_and_tests():
    values = np.random.default_rng(7).normal(size=(10, 2))
    with pytest.raises(StatsInputError, match="repeated: a"):
        compare_models(values, model_names=["a", "a"])
    with pytest.raises(StatsInputError, match="3 model names given for 2"):
        compare_models(values, model_names=["a", "b", "c"])
    with pytest.raises(StatsInputError, match="equivalence_margin"):
        compare_models(values, model_names=["a", "b"], equivalence_margin=-0.1)
    with pytest.raises(StatsInputError, match="primary test 't-test'"):
        compare_models(values, model_names=["a", "b"], test="t-test")
