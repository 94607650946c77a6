"""Power for the leading pair, checked by simulating the paired t-test it describes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from statsmodels.stats.power import TTestPower

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


def unconverged_solve(self, effect_size=None, nobs=None, alpha=None, power=None, **_):
    """What statsmodels 0.14.6 with scipy 1.11.3 returns when its root finder fails: the start value 10."""
    return 10.0


def test_an_unconverged_solver_answer_is_searched_downwards_and_checked(monkeypatch):
    monkeypatch.setattr(TTestPower, "solve_power", unconverged_solve)
    values = np.array([[0.9, 0.5], [0.91, 0.52], [0.92, 0.5], [0.9, 0.51]])
    result = leading_pair_power(values, model_names=["a", "b"])
    effect_size = abs(result.mean_difference) / result.sd_difference
    # The report once said 10 patients where 2 give power 0.997.
    assert result.n_for_power == 2 and paired_t_power(effect_size, 2) >= 0.8
    # The detectable-effect solve is checked too: its effect reaches the target power at N = 4.
    detectable_effect = result.detectable_difference / result.sd_difference
    assert paired_t_power(detectable_effect, 4) == pytest.approx(0.8, abs=1e-6)


def test_a_small_effect_far_above_the_start_value_is_found_quickly(monkeypatch):
    monkeypatch.setattr(TTestPower, "solve_power", unconverged_solve)
    power = leading_pair_power(sample(4), model_names=["a", "b", "c"])
    effect_size = abs(power.mean_difference) / power.sd_difference
    assert (
        paired_t_power(effect_size, power.n_for_power)
        >= 0.8
        > paired_t_power(effect_size, power.n_for_power - 1)
    )
