"""Mean, median and rate intervals agree with scipy/statsmodels peers and resample whole patients."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import scipy.stats
import statsmodels.api as sm

from SegQualityReviewLib.errors import SegQualityError
from SegQualityReviewLib.stats import (
    SMALL_N_THRESHOLD,
    StatsInputError,
    mean_interval,
    mean_intervals,
    median_intervals,
    rate_interval,
    resample_patients,
)
from SegQualityReviewLib.stats.bootstrap import (
    bca_bounds,
    bootstrap_means,
    bootstrap_medians,
    jackknife_means,
)
from SegQualityReviewLib.stats.validation import group_by_patient


def test_small_n_mean_interval_is_the_student_t_interval():
    values = np.random.default_rng(1).beta(8, 2, size=12)
    interval = mean_interval(values, level=0.9)
    expected = scipy.stats.t.interval(0.9, df=11, loc=values.mean(), scale=scipy.stats.sem(values))
    assert interval.method == "t" and interval.n == 12 and interval.seed is None
    assert (interval.low, interval.high) == pytest.approx(expected, rel=1e-12)


def test_small_n_clustered_interval_is_the_cluster_robust_regression_interval():
    rng = np.random.default_rng(2)
    patient_ids = np.repeat([f"p{i}" for i in range(15)], rng.integers(1, 6, size=15))
    values = rng.normal(0.8, 0.1, size=patient_ids.size)
    interval = mean_interval(values, patient_ids=patient_ids)
    fit = sm.OLS(values, np.ones((values.size, 1))).fit(
        cov_type="cluster",
        cov_kwds={"groups": np.unique(patient_ids, return_inverse=True)[1], "df_correction": True},
    )
    half_width = scipy.stats.t.ppf(0.975, df=14) * fit.bse[0]
    assert interval.estimate == pytest.approx(values.mean())
    # statsmodels' CR1 factor G/(G-1) * (R-1)/(R-k) reduces to G/(G-1) for the intercept-only model.
    assert interval.high - interval.estimate == pytest.approx(half_width, rel=1e-9)


def test_bca_matches_scipy_bootstrap_within_monte_carlo_error():
    values = np.random.default_rng(5).lognormal(0.0, 0.8, size=60)
    groups = group_by_patient(values)
    resamples = resample_patients(60, n_resamples=20_000, seed=1)
    low, high = bca_bounds(bootstrap_means(groups, resamples), groups.mean, jackknife_means(groups), 0.95)
    # SciPy 1.15 renamed random_state to rng; Slicer 5.6 and 5.10 ship 1.11.3 and 1.13.1.
    generator = "rng" if "rng" in inspect.signature(scipy.stats.bootstrap).parameters else "random_state"
    peer = scipy.stats.bootstrap(
        (values,), np.mean, method="BCa", n_resamples=20_000, **{generator: np.random.default_rng(2)}
    ).confidence_interval
    assert low[0] == pytest.approx(peer.low, abs=0.01) and high[0] == pytest.approx(peer.high, abs=0.02)
    # The skewed sample gives an interval that is longer above the mean than below it.
    assert high[0] - values.mean() > 1.2 * (values.mean() - low[0])


def test_from_the_small_n_threshold_on_the_mean_gets_a_seeded_bca_interval():
    values = np.random.default_rng(3).beta(8, 2, size=(SMALL_N_THRESHOLD, 3))
    intervals = mean_intervals(values, n_resamples=2000, seed=11)
    assert [interval.method for interval in intervals] == ["bca"] * 3
    assert all(interval.n_resamples == 2000 and interval.seed == 11 for interval in intervals)
    assert mean_intervals(values, n_resamples=2000, seed=11) == intervals
    assert mean_intervals(values, n_resamples=2000, seed=12) != intervals
    json.dumps([interval.as_dict() for interval in intervals], allow_nan=False)


def test_bca_widens_the_plug_in_bootstrap_spread_by_sqrt_n_over_n_minus_1():
    # Hesterberg's expansion: the same resamples, the same BCa percentiles, each arm longer by sqrt(N/(N-1)).
    n = 30
    values = np.random.default_rng(13).lognormal(0.0, 0.5, size=n)
    resamples = resample_patients(n, n_resamples=4000, seed=3)
    (interval,) = mean_intervals(values, resamples=resamples)
    groups = group_by_patient(values)
    low, high = bca_bounds(bootstrap_means(groups, resamples), groups.mean, jackknife_means(groups), 0.95)
    expansion = np.sqrt(n / (n - 1))
    assert interval.method == "bca"
    assert interval.estimate - interval.low == pytest.approx(expansion * (values.mean() - low[0]), rel=1e-9)
    assert interval.high - interval.estimate == pytest.approx(expansion * (high[0] - values.mean()), rel=1e-9)


def test_skewed_metrics_get_a_bootstrap_t_interval_with_a_longer_upper_arm():
    values = np.random.default_rng(14).lognormal(1.0, 0.8, size=12)
    skewed = mean_interval(values, skewed=True, n_resamples=4000, seed=1)
    symmetric = mean_interval(values)
    assert skewed.method == "bootstrap_t" and skewed.n_resamples == 4000 and skewed.seed == 1
    assert symmetric.method == "t"
    assert skewed.high - skewed.estimate > 1.3 * (skewed.estimate - skewed.low)
    assert skewed.high > symmetric.high


def test_columns_with_missing_cells_get_intervals_over_their_own_patients():
    rng = np.random.default_rng(15)
    values = rng.beta(8, 2, size=(80, 3))
    values[:12, 1] = np.nan  # 68 patients left: BCa, resampling all 80 (a domain of them)
    values[:55, 2] = np.nan  # 25 patients left: the t interval on its own rows
    complete, domain, small = mean_intervals(values, allow_missing=True, n_resamples=2000)
    assert (complete.n, domain.n, small.n) == (80, 68, 25)
    assert (complete.method, domain.method, small.method) == ("bca", "bca", "t")
    assert domain.estimate == pytest.approx(np.nanmean(values[:, 1]))
    alone = mean_interval(values[12:, 1], n_resamples=2000)
    assert domain.low == pytest.approx(alone.low, abs=0.01) and domain.high == pytest.approx(
        alone.high, abs=0.01
    )
    expected = mean_interval(values[55:, 2])
    assert (small.low, small.high) == pytest.approx((expected.low, expected.high), rel=1e-12)


def test_shared_resamples_make_columns_paired():
    rng = np.random.default_rng(4)
    column = rng.normal(size=40)
    values = np.column_stack([column, column + 1.0])
    resamples = resample_patients(40, n_resamples=3000, seed=0)
    first, shifted = mean_intervals(values, resamples=resamples)
    assert shifted.low - first.low == pytest.approx(1.0) and shifted.high - first.high == pytest.approx(1.0)


def test_bootstrap_medians_equal_medians_of_materialised_resamples():
    rng = np.random.default_rng(6)
    patient_ids = np.repeat(np.arange(9), rng.integers(1, 5, size=9))
    values = rng.normal(size=(patient_ids.size, 2)).round(1)
    resamples = resample_patients(9, n_resamples=50, seed=3)
    groups = group_by_patient(values, patient_ids)
    fast = bootstrap_medians(groups, resamples)
    for b, drawn in enumerate(resamples.indices):
        rows = np.concatenate([np.flatnonzero(patient_ids == patient) for patient in drawn])
        assert fast[b] == pytest.approx(np.median(values[rows], axis=0))


def test_median_interval_is_percentile_and_covers_the_sample_median():
    values = np.random.default_rng(8).exponential(size=(50, 2))
    intervals = median_intervals(values, n_resamples=2000)
    assert all(interval.method == "percentile" for interval in intervals)
    for interval, column in zip(intervals, values.T):
        assert interval.estimate == pytest.approx(np.median(column))
        assert interval.low < interval.estimate < interval.high


def test_wilson_rate_interval_for_zero_failures_is_not_degenerate_and_starts_at_exactly_zero():
    interval = rate_interval(0, 10)
    assert interval.method == "wilson" and interval.estimate == 0.0
    assert interval.low == 0.0 and interval.high == pytest.approx(0.2775, abs=1e-4)
    # statsmodels gives a bound a rounding error past the estimate for some counts (2.8e-17 for 0 of 7 at
    # level 0.95, 1 - 1.1e-16 for 10 of 10): reported as the 0 and 1 they are.
    assert all(rate_interval(0, n).low == 0.0 for n in (3, 6, 7, 12, 14, 24))
    assert all(rate_interval(n, n).high == 1.0 for n in (10, 13))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mean_intervals(np.array([[0.9, np.nan], [0.8, 0.7]])), "column 1"),
        (lambda: mean_interval(np.array([0.9, 0.8]), patient_ids=["a", "a"]), "at least 2 patients"),
        (
            lambda: mean_interval(np.arange(40.0), resamples=resample_patients(39, n_resamples=10)),
            "39 patients",
        ),
        (lambda: mean_interval(np.arange(4.0), patient_ids=["a", "b"]), "2 patient ids given for 4"),
        (lambda: mean_interval(np.arange(4.0), level=95), "strictly between 0 and 1"),
        (lambda: rate_interval(5, 3), "5/3"),
        (lambda: resample_patients(10, seed=-1), "seed"),
    ],
)
def test_unusable_inputs_raise_one_line_stats_errors(call, message):
    with pytest.raises(SegQualityError, match=message) as raised:
        call()
    assert isinstance(raised.value, StatsInputError) and "\n" not in str(raised.value)
