"""Confidence intervals for each model's mean and median, and Wilson intervals for rates.

The mean's interval depends on the metric and N (``mean_method``):

- bounded metrics (Dice, NSD) below ``SMALL_N_THRESHOLD`` (30) patients: Student t, cluster-robust. BCa
  estimates its bias and acceleration from the sample itself and, like every bootstrap interval, is too
  narrow by about sqrt((N-1)/N) at small N; the t interval is exact for normal data.
- bounded metrics from 30 patients: patient-cluster BCa, its bootstrap distribution widened by sqrt(N/(N-1))
  (Hesterberg's "expanded" bootstrap), so it follows the skew of Dice near 1 with unequal tails.
- skewed metrics (distances such as HD95 and ASSD, ``skewed=True``) at every N: bootstrap-t, whose tails
  follow the data's own skew; the symmetric t interval misses the long right tail (docs/statistics.md has
  the simulated coverage of each method).

The median gets a percentile bootstrap interval. Columns with missing cells (``allow_missing``) are
handled per availability pattern: columns sharing the same patients are computed together.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from statsmodels.stats.proportion import proportion_confint

from .bootstrap import (
    bca_bounds,
    bootstrap_means,
    bootstrap_medians,
    bootstrap_t_bounds,
    jackknife_means,
    t_bounds,
)
from .records import Interval
from .resampling import DEFAULT_RESAMPLES, DEFAULT_SEED, PatientResamples, resample_patients
from .validation import PatientGroups, StatsInputError, check_level, group_by_patient

SMALL_N_THRESHOLD = 30
DEFAULT_LEVEL = 0.95


def mean_method(n_patients: int, *, skewed: bool, small_n_threshold: int = SMALL_N_THRESHOLD) -> str:
    """The interval method of a mean: ``bootstrap_t`` for skewed metrics, else ``t`` below the threshold,
    ``bca`` from it."""
    if skewed:
        return "bootstrap_t"
    return "t" if n_patients < small_n_threshold else "bca"


def mean_interval(
    values: np.ndarray,
    *,
    patient_ids: Optional[Sequence] = None,
    level: float = DEFAULT_LEVEL,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    resamples: Optional[PatientResamples] = None,
    small_n_threshold: int = SMALL_N_THRESHOLD,
    skewed: bool = False,
) -> Interval:
    """Interval for the mean of 1-D ``values`` (one per row; rows grouped by ``patient_ids`` if given)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise StatsInputError(f"mean_interval takes 1-D values, got shape {values.shape}; use mean_intervals")
    return mean_intervals(
        values,
        patient_ids=patient_ids,
        level=level,
        n_resamples=n_resamples,
        seed=seed,
        resamples=resamples,
        small_n_threshold=small_n_threshold,
        skewed=skewed,
    )[0]


def mean_intervals(
    values: np.ndarray,
    *,
    patient_ids: Optional[Sequence] = None,
    level: float = DEFAULT_LEVEL,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    resamples: Optional[PatientResamples] = None,
    small_n_threshold: int = SMALL_N_THRESHOLD,
    skewed: bool = False,
    allow_missing: bool = False,
) -> tuple[Interval, ...]:
    """One interval per column of ``values`` (n_rows, n_models) for the mean over rows, paired across columns.

    Rows that share a patient id are resampled together (cluster bootstrap); the estimate is the mean over
    all rows. The method follows ``mean_method``; the bootstrap ones use the shared patient ``resamples``
    (drawn from ``seed`` when not given). With ``allow_missing`` NaN cells are missing values.
    """
    groups = group_by_patient(values, patient_ids, allow_missing=allow_missing)
    return grouped_mean_intervals(
        groups,
        level=level,
        n_resamples=n_resamples,
        seed=seed,
        resamples=resamples,
        small_n_threshold=small_n_threshold,
        skewed=skewed,
    )


def grouped_mean_intervals(
    groups: PatientGroups,
    *,
    level: float,
    n_resamples: int,
    seed: int,
    resamples: Optional[PatientResamples],
    small_n_threshold: int,
    skewed: bool = False,
) -> tuple[Interval, ...]:
    """``mean_intervals`` on already grouped values; each column's method follows its own patient count.

    A column with missing cells is a domain of the patients: the bootstrap resamples all patients (as the
    ranking does) and averages the column's rows among those drawn, so its group size varies across
    resamples as it would in a new sample; the t interval and the BCa jackknife use the column's own
    patients.
    """
    level = check_level(level)
    n_columns = groups.sums.shape[1]
    counts = groups.column_patients
    methods = [mean_method(int(n), skewed=skewed, small_n_threshold=small_n_threshold) for n in counts]
    estimate = groups.mean
    low, high = np.empty(n_columns), np.empty(n_columns)
    by_method: dict[str, list[int]] = {}
    for column, method in enumerate(methods):
        by_method.setdefault(method, []).append(column)
    drawn: Optional[PatientResamples] = None
    if set(by_method) - {"t"}:
        drawn = resamples_for(groups.n_patients, n_resamples=n_resamples, seed=seed, resamples=resamples)
    for method, columns in by_method.items():
        subset = groups.columns(columns)
        if method == "t":
            low[columns], high[columns] = t_bounds(subset, level)
        elif method == "bootstrap_t":
            low[columns], high[columns] = bootstrap_t_bounds(subset, drawn, level)
        else:
            # The bootstrap spread is the plug-in (divide-by-N) one: widen it by sqrt(N / (N - 1)) about the
            # estimate, Hesterberg's "expanded" bootstrap (The American Statistician 69:371-386, 2015).
            n = subset.column_patients
            expansion = np.sqrt(n / (n - 1.0))
            boot = subset.mean + expansion * (bootstrap_means(subset, drawn) - subset.mean)
            jackknife = np.where(subset.sizes > 0, jackknife_means(subset), np.nan)
            low[columns], high[columns] = bca_bounds(boot, subset.mean, jackknife, level)
    return tuple(
        Interval(
            float(estimate[j]),
            float(low[j]),
            float(high[j]),
            level,
            methods[j],
            int(counts[j]),
            None if methods[j] == "t" else drawn.n_resamples,
            None if methods[j] == "t" else drawn.seed,
        )
        for j in range(n_columns)
    )


def median_intervals(
    values: np.ndarray,
    *,
    patient_ids: Optional[Sequence] = None,
    level: float = DEFAULT_LEVEL,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    resamples: Optional[PatientResamples] = None,
    allow_missing: bool = False,
) -> tuple[Interval, ...]:
    """Percentile-bootstrap interval for the median over rows, per column, resampling whole patients."""
    level = check_level(level)
    groups = group_by_patient(values, patient_ids, allow_missing=allow_missing)
    intervals: list[Optional[Interval]] = [None] * groups.sums.shape[1]
    tail = (1.0 - level) / 2.0
    for patients, columns in availability_patterns(groups):
        subset = _patient_subset(groups, patients, columns)
        drawn = resamples_for(
            subset.n_patients,
            n_resamples=n_resamples,
            seed=seed,
            resamples=resamples if patients.size == groups.n_patients else None,
        )
        estimate = np.nanmedian(subset.values, axis=0)
        low, high = np.quantile(bootstrap_medians(subset, drawn), [tail, 1.0 - tail], axis=0)
        for index, column in enumerate(columns):
            intervals[column] = Interval(
                float(estimate[index]),
                float(low[index]),
                float(high[index]),
                level,
                "percentile",
                subset.n_patients,
                drawn.n_resamples,
                drawn.seed,
            )
    return tuple(intervals)  # type: ignore[arg-type]


def rate_interval(count: int, total: int, *, level: float = DEFAULT_LEVEL) -> Interval:
    """Wilson score interval for a rate such as a failure rate: ``count`` events out of ``total`` trials.

    The bounds are clipped to [0, estimate] and [estimate, 1]: at a rate of 0 or 1 statsmodels returns a
    bound a rounding error past the estimate (5.55e-17 for 0 of 18), which is 0 (or 1) exactly.
    """
    level = check_level(level)
    if total < 1 or not 0 <= count <= total or int(count) != count or int(total) != total:
        raise StatsInputError(
            f"a rate needs whole counts with 0 <= count <= total and total >= 1, got {count}/{total}"
        )
    estimate = count / total
    low, high = proportion_confint(int(count), int(total), alpha=1.0 - level, method="wilson")
    low, high = min(max(float(low), 0.0), estimate), max(min(float(high), 1.0), estimate)
    return Interval(estimate, low, high, level, "wilson", int(total))


def rate_intervals(counts: np.ndarray, totals: np.ndarray, *, level: float = DEFAULT_LEVEL) -> list[Interval]:
    """``rate_interval`` for arrays of counts and totals in one statsmodels call (same clipping)."""
    level = check_level(level)
    counts = np.asarray(counts, dtype=np.int64)
    totals = np.asarray(totals, dtype=np.int64)
    if counts.shape != totals.shape or (totals < 1).any() or (counts < 0).any() or (counts > totals).any():
        raise StatsInputError("rates need whole counts with 0 <= count <= total and total >= 1")
    if counts.size == 0:
        return []
    estimates = counts / totals
    low, high = proportion_confint(counts, totals, alpha=1.0 - level, method="wilson")
    low = np.minimum(np.maximum(low, 0.0), estimates)
    high = np.maximum(np.minimum(high, 1.0), estimates)
    return [
        Interval(float(e), float(lo), float(hi), level, "wilson", int(n))
        for e, lo, hi, n in zip(estimates, low, high, totals)
    ]


def resamples_for(
    n_patients: int, *, n_resamples: int, seed: int, resamples: Optional[PatientResamples]
) -> PatientResamples:
    """The given resamples (checked against the patient count) or fresh ones from ``seed``."""
    if resamples is None:
        return resample_patients(n_patients, n_resamples=n_resamples, seed=seed)
    resamples.check_patients(n_patients)
    return resamples


def availability_patterns(groups: PatientGroups) -> list[tuple[np.ndarray, list[int]]]:
    """(patient indices, columns) for each distinct set of patients that columns have values for."""
    patterns: dict[bytes, tuple[np.ndarray, list[int]]] = {}
    present = groups.sizes > 0
    for column in range(present.shape[1]):
        key = np.packbits(present[:, column]).tobytes()
        patterns.setdefault(key, (np.flatnonzero(present[:, column]), []))[1].append(column)
    return list(patterns.values())


def _patient_subset(groups: PatientGroups, patients: np.ndarray, columns: list[int]) -> PatientGroups:
    """The given columns over only the given patients (renumbered), with their rows."""
    keep_rows = np.isin(groups.row_patient, patients)
    renumber = np.full(groups.n_patients, -1)
    renumber[patients] = np.arange(patients.size)
    return PatientGroups(
        groups.values[np.ix_(keep_rows, columns)],
        renumber[groups.row_patient[keep_rows]],
        tuple(groups.patients[p] for p in patients),
        groups.sums[np.ix_(patients, columns)],
        groups.sizes[np.ix_(patients, columns)],
    )
