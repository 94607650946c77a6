"""Power for the leading pair of models: the smallest detectable difference now and the N for the target power."""

from __future__ import annotations

import math
import warnings
from typing import Optional, Sequence

import numpy as np
from scipy import optimize, stats
from statsmodels.stats.power import TTestPower
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from .records import PowerAnalysis
from .validation import StatsInputError, check_model_names, group_by_patient

DEFAULT_POWER = 0.8
DEFAULT_ALPHA = 0.05


def leading_pair_power(
    values: np.ndarray,
    *,
    model_names: Sequence[str],
    higher_is_better: bool = True,
    alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
    patient_ids: Optional[Sequence] = None,
    allow_missing: bool = False,
) -> PowerAnalysis:
    """Power analysis of the two best models by mean, as a paired two-sided t-test on patient-level means.

    ``detectable_difference`` is the mean difference the current N detects with ``power`` at ``alpha``
    (effect size times the SD of the differences); ``n_for_power`` is the number of patients that detects
    the observed difference with that power. Both solves are checked against statsmodels' power function
    and corrected when its root finder did not converge (statsmodels 0.14.6 with scipy 1.11.3 returns 10
    for effects its bracket misses).
    """
    if not 0.0 < alpha < 1.0 or not 0.0 < power < 1.0:
        raise StatsInputError(f"alpha and power must lie strictly between 0 and 1, got {alpha} and {power}")
    groups = group_by_patient(values, patient_ids, column_names=model_names, allow_missing=allow_missing)
    names = check_model_names(model_names, groups.values.shape[1])
    direction = 1.0 if higher_is_better else -1.0
    first, second = np.argsort(-direction * groups.mean, kind="stable")[:2]
    differences = groups.patient_means[:, first] - groups.patient_means[:, second]
    differences = differences[np.isfinite(differences)]
    n = differences.size
    if n < 2:
        raise StatsInputError(f"the leading pair shares {n} patient(s); a power analysis needs 2")
    mean_difference = float(differences.mean())
    sd_difference = float(differences.std(ddof=1))
    analysis = TTestPower()
    effect = detectable_effect(analysis, n, alpha=alpha, power=power)
    n_for_power = None
    if mean_difference != 0.0 and sd_difference > 0.0:
        n_for_power = required_n(analysis, abs(mean_difference) / sd_difference, alpha=alpha, power=power)
    elif mean_difference != 0.0:
        n_for_power = 2
    return PowerAnalysis(
        model_a=names[first],
        model_b=names[second],
        n=n,
        mean_difference=mean_difference,
        sd_difference=sd_difference,
        detectable_difference=effect * sd_difference,
        n_for_power=n_for_power,
        alpha=float(alpha),
        power=float(power),
    )


def paired_t_power(effect_size: float, n: int, *, alpha: float) -> float:
    """Power of the two-sided paired t-test with ``n`` patients at Cohen's d ``effect_size``.

    From scipy's noncentral t, the definition statsmodels' ``TTestPower.power`` evaluates too (which
    returns NaN at some large effects, e.g. d = 24.09 with 4 patients, where the power is 1).
    """
    df = n - 1
    critical = stats.t.ppf(1.0 - alpha / 2.0, df)
    shift = effect_size * math.sqrt(n)
    value = float(stats.nct.sf(critical, df, shift) + stats.nct.cdf(-critical, df, shift))
    return value if math.isfinite(value) else float(shift > critical)


def detectable_effect(analysis: TTestPower, n: int, *, alpha: float, power: float) -> float:
    """The effect size (Cohen's d) that ``n`` patients detect with ``power``, checked by its own power.

    statsmodels' answer is accepted only when the power it implies (``paired_t_power``) matches the target;
    otherwise the effect is found by bracketing (power rises with the effect size). Infinite when no effect up to 1e6
    reaches the target (N = 2 at a very small alpha).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimate = analysis.solve_power(effect_size=None, nobs=n, alpha=alpha, power=power)
    estimate = float(np.ravel(estimate)[0]) if estimate is not None else math.nan
    if math.isfinite(estimate) and estimate > 0:
        if abs(paired_t_power(estimate, n, alpha=alpha) - power) < 1e-6:
            return estimate

    def shortfall(effect: float) -> float:
        return paired_t_power(effect, n, alpha=alpha) - power

    if shortfall(1e6) < 0:
        return math.inf
    return float(optimize.brentq(shortfall, 1e-9, 1e6, xtol=1e-12, rtol=1e-12))


def required_n(analysis: TTestPower, effect_size: float, *, alpha: float, power: float) -> int:
    """Smallest whole N (at least 2) whose paired t-test reaches ``power`` for ``effect_size`` (Cohen's d).

    statsmodels' estimate is only a starting point, searched from in both directions: power rises with N,
    so the answer is the N where it first reaches the target. (Counting only upwards kept an overestimate:
    an unconverged solve returned 10 where 2 patients give power 0.997.)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimate = analysis.solve_power(effect_size=effect_size, nobs=None, alpha=alpha, power=power)
    estimate = float(np.ravel(estimate)[0]) if estimate is not None else math.nan
    start = max(2, math.ceil(estimate - 1e-9)) if math.isfinite(estimate) else 2

    def reaches(candidate: int) -> bool:
        return paired_t_power(effect_size, candidate, alpha=alpha) >= power

    # Bracket the answer around the start (1 stands for "too few": a paired t-test needs 2), then bisect.
    if reaches(start):
        too_few, enough = 1, start
    else:
        too_few, enough = start, 2 * start
        while not reaches(enough):
            too_few, enough = enough, 2 * enough
    while enough - too_few > 1:
        middle = (too_few + enough) // 2
        if reaches(middle):
            enough = middle
        else:
            too_few = middle
    return max(enough, 2)
