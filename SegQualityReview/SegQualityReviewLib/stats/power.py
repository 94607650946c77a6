"""Power for the leading pair of models: the smallest detectable difference now and the N for the target power."""

from __future__ import annotations

import math
import warnings
from typing import Optional, Sequence

import numpy as np
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
) -> PowerAnalysis:
    """Power analysis of the two best models by mean, as a paired two-sided t-test on patient-level means.

    ``detectable_difference`` is the mean difference the current N detects with ``power`` at ``alpha``
    (effect size from statsmodels ``TTestPower`` times the SD of the differences); ``n_for_power`` is the
    number of patients that detects the observed difference with that power.
    """
    if not 0.0 < alpha < 1.0 or not 0.0 < power < 1.0:
        raise StatsInputError(f"alpha and power must lie strictly between 0 and 1, got {alpha} and {power}")
    groups = group_by_patient(values, patient_ids, column_names=model_names)
    names = check_model_names(model_names, groups.values.shape[1])
    direction = 1.0 if higher_is_better else -1.0
    first, second = np.argsort(-direction * groups.mean, kind="stable")[:2]
    differences = groups.patient_means[:, first] - groups.patient_means[:, second]
    n = differences.size
    mean_difference = float(differences.mean())
    sd_difference = float(differences.std(ddof=1))
    analysis = TTestPower()
    effect = float(analysis.solve_power(effect_size=None, nobs=n, alpha=alpha, power=power))
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


def required_n(analysis: TTestPower, effect_size: float, *, alpha: float, power: float) -> int:
    """Smallest whole N (at least 2) whose paired t-test reaches ``power`` for ``effect_size`` (Cohen's d)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimate = float(analysis.solve_power(effect_size=effect_size, nobs=None, alpha=alpha, power=power))
    # For large effects statsmodels' root finder returns NaN below its search bracket; power rises with N,
    # so counting up from 2 finds the answer in a few steps.
    n = max(2, math.ceil(estimate - 1e-9)) if math.isfinite(estimate) else 2
    while analysis.power(effect_size=effect_size, nobs=n, alpha=alpha) < power:
        n += 1
    return n
