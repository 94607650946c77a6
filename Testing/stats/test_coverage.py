"""Coverage studies with fixed seeds: each simulated data set is one column, all intervals in one vectorised call."""

from __future__ import annotations

import numpy as np

from SegQualityReviewLib.stats import mean_intervals

N_SIMULATIONS = 2000
N_RESAMPLES = 1000


def coverage(intervals, true_mean: float) -> float:
    """Share of intervals that contain the true mean."""
    return float(np.mean([interval.low <= true_mean <= interval.high for interval in intervals]))


def test_mean_interval_covers_dice_like_data_at_n_30():
    # Beta(8, 2): bounded, left-skewed like Dice scores, true mean 0.8.
    values = np.random.default_rng(2024).beta(8, 2, size=(30, N_SIMULATIONS))
    intervals = mean_intervals(values, n_resamples=N_RESAMPLES, seed=1)
    assert {interval.method for interval in intervals} == {"bca"}
    assert 0.93 <= coverage(intervals, 0.8) <= 0.97


def test_small_n_t_interval_covers_dice_like_data_at_n_20():
    values = np.random.default_rng(2025).beta(8, 2, size=(20, N_SIMULATIONS))
    intervals = mean_intervals(values)
    assert {interval.method for interval in intervals} == {"t"}
    assert 0.93 <= coverage(intervals, 0.8) <= 0.97


def correlated_structures(rng: np.random.Generator, *, n_patients: int, n_structures: int) -> np.ndarray:
    """(n_patients * n_structures, N_SIMULATIONS) Dice-like values: a patient effect shared by its structures."""
    patient_effect = rng.normal(0.0, 0.08, size=(n_patients, 1, N_SIMULATIONS))
    structure_noise = rng.normal(0.0, 0.04, size=(n_patients, n_structures, N_SIMULATIONS))
    return (0.8 + patient_effect + structure_noise).reshape(n_patients * n_structures, N_SIMULATIONS)


def test_patient_cluster_bootstrap_holds_coverage_where_resampling_structures_does_not():
    n_patients, n_structures = 40, 5
    values = correlated_structures(np.random.default_rng(7), n_patients=n_patients, n_structures=n_structures)
    patient_ids = np.repeat(np.arange(n_patients), n_structures)
    clustered = mean_intervals(values, patient_ids=patient_ids, n_resamples=N_RESAMPLES, seed=1)
    independent = mean_intervals(values, n_resamples=N_RESAMPLES, seed=1)
    assert clustered[0].n == 40 and independent[0].n == 200
    assert 0.93 <= coverage(clustered, 0.8) <= 0.97
    assert coverage(independent, 0.8) < 0.80


def test_cluster_robust_t_interval_holds_coverage_for_few_patients():
    n_patients, n_structures = 15, 5
    values = correlated_structures(np.random.default_rng(8), n_patients=n_patients, n_structures=n_structures)
    patient_ids = np.repeat(np.arange(n_patients), n_structures)
    clustered = mean_intervals(values, patient_ids=patient_ids)
    assert {interval.method for interval in clustered} == {"t"}
    assert 0.93 <= coverage(clustered, 0.8) <= 0.97


def test_bootstrap_t_respects_the_skew_of_hd95_like_data_where_the_t_interval_misses_high():
    # Log-normal(1, 0.6), HD95-like, N = 10: the t interval's misses pile up above (true mean above the
    # interval); bootstrap-t moves its upper end out and covers better (docs/statistics.md, coverage table).
    rng = np.random.default_rng(2026)
    values = rng.lognormal(1.0, 0.6, size=(10, N_SIMULATIONS))
    true_mean = np.exp(1.0 + 0.6**2 / 2)
    symmetric = mean_intervals(values)
    skewed = mean_intervals(values, skewed=True, n_resamples=N_RESAMPLES, seed=1)
    misses_above = np.mean([interval.high < true_mean for interval in symmetric])
    misses_above_skewed = np.mean([interval.high < true_mean for interval in skewed])
    assert coverage(skewed, true_mean) > coverage(symmetric, true_mean) + 0.01
    assert coverage(skewed, true_mean) >= 0.91
    assert misses_above_skewed < misses_above - 0.015
