"""One call for a whole (structure, metric) family: intervals, pairwise tests, ranking, sensitivity and power."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .intervals import DEFAULT_LEVEL, SMALL_N_THRESHOLD, mean_intervals, median_intervals
from .pairwise import compare_models
from .power import DEFAULT_POWER, leading_pair_power
from .ranking import rank_models, ranking_sensitivity
from .records import MetricAnalysis
from .resampling import DEFAULT_RESAMPLES, DEFAULT_SEED, PatientResamples, resample_patients
from .validation import check_model_names, group_by_patient


def analyze_metric(
    values: np.ndarray,
    *,
    model_names: Sequence[str],
    higher_is_better: bool = True,
    level: float = DEFAULT_LEVEL,
    statistic: str = "mean",
    test: str = "permutation",
    equivalence_margin: Optional[float] = None,
    patient_ids: Optional[Sequence] = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    resamples: Optional[PatientResamples] = None,
    small_n_threshold: int = SMALL_N_THRESHOLD,
    skewed: bool = False,
    allow_missing: bool = False,
    power: float = DEFAULT_POWER,
) -> MetricAnalysis:
    """All statistics for ``values`` (n_rows, n_models) of one metric on one structure, on shared resamples.

    The primary analysis is ``statistic`` (mean or median: the ranking) and ``test`` (permutation or
    wilcoxon: the pairwise verdicts, Holm within this family). The patient resamples are drawn once (or taken
    from ``resamples``) and used by the mean and median intervals and the ranking, so every model sees the
    same patients; the sign-flip test draws its own sign vectors from the same seed.
    """
    groups = group_by_patient(values, patient_ids, column_names=model_names, allow_missing=allow_missing)
    names = check_model_names(model_names, groups.values.shape[1])
    if resamples is None:
        resamples = resample_patients(groups.n_patients, n_resamples=n_resamples, seed=seed)
    shared = {
        "patient_ids": patient_ids,
        "level": level,
        "resamples": resamples,
        "allow_missing": allow_missing,
    }
    return MetricAnalysis(
        models=names,
        higher_is_better=bool(higher_is_better),
        means=mean_intervals(values, small_n_threshold=small_n_threshold, skewed=skewed, **shared),
        medians=median_intervals(values, **shared),
        pairwise=compare_models(
            values,
            model_names=names,
            higher_is_better=higher_is_better,
            test=test,
            equivalence_margin=equivalence_margin,
            small_n_threshold=small_n_threshold,
            skewed=skewed,
            **shared,
        ),
        ranking=rank_models(
            values, model_names=names, higher_is_better=higher_is_better, statistic=statistic, **shared
        ),
        sensitivity=ranking_sensitivity(
            values,
            model_names=names,
            higher_is_better=higher_is_better,
            level=level,
            patient_ids=patient_ids,
            primary=statistic,
            allow_missing=allow_missing,
        ),
        power=leading_pair_power(
            values,
            model_names=names,
            higher_is_better=higher_is_better,
            alpha=round(1.0 - level, 12),
            power=power,
            patient_ids=patient_ids,
            allow_missing=allow_missing,
        ),
    )
