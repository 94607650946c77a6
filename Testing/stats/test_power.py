"""Power for the leading pair, checked by simulating the paired t-test it describes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from SegQualityReviewLib.stats import leading_pair_power


def paired_t_power(effect_size: float, n: int, alpha: float = 0.05) -> float:
    """Two-sided paired t-test power from the noncentral t distribution (scipy, independent of statsmodels)."""
    critical = scipy.stats.t.ppf(1 - alpha / 2, df=n - 1)
    shift = effect_size * np.sqrt(n)
    return float(scipy.stats.nct.sf(critical, n - 1, shift) + scipy.stats.nct.cdf(-critical, n - 1, shift))


def sample(seed: int) -> np.ndarray:
    """Three Dice-like models on 25 patients; 'b' leads 'c' by about 0.01."""
    rng = np.random.default_rng(seed)
    base = rng.beta(8, 2, size=(25, 1))
    return base + np.array([0.0, 0.05, 0.04]) + rng.normal(0, 0.03, size=(25, 3))


def test_power_analyses_the_two_best_models():
    power = leading_pair_power(sample(1), model_names=["a", "b", "c"])
    assert (power.model_a, power.model_b, power.n) == ("b", "c", 25)
    assert power.mean_difference > 0
    lower_is_better = leading_pair_power(sample(1), model_names=["a", "b", "c"], higher_is_better=False)
    assert (lower_is_better.model_a, lower_is_better.model_b) == ("a", "c")
    assert lower_is_better.mean_difference < 0


def test_detectable_difference_is_detected_with_80_percent_power_in_simulation():
    power = leading_pair_power(sample(2), model_names=["a", "b", "c"])
    rng = np.random.default_rng(3)
    differences = rng.normal(power.detectable_difference, power.sd_difference, size=(4000, power.n))
    rejections = scipy.stats.ttest_1samp(differences, 0.0, axis=1).pvalue < 0.05
    assert rejections.mean() == pytest.approx(0.8, abs=0.025)


def test_n_for_power_is_the_smallest_n_reaching_the_target():
    power = leading_pair_power(sample(4), model_names=["a", "b", "c"])
    effect_size = abs(power.mean_difference) / power.sd_difference
    assert power.n_for_power is not None and power.n_for_power > power.n
    assert (
        paired_t_power(effect_size, power.n_for_power)
        >= 0.8
        > paired_t_power(effect_size, power.n_for_power - 1)
    )


def test_no_difference_needs_no_finite_n():
    values = np.repeat(np.random.default_rng(5).normal(size=(12, 1)), 2, axis=1)
    power = leading_pair_power(values, model_names=["a", "b"])
    assert power.mean_difference == 0.0 and power.n_for_power is None


def test_large_effects_need_few_patients_instead_of_failing():
    values = np.array([[0.9, 0.5], [0.91, 0.52], [0.92, 0.5]])
    result = leading_pair_power(values, model_names=["a", "b"])
    assert result.n_for_power is not None and 2 <= result.n_for_power <= 3
