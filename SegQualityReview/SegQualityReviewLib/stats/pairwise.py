"""Paired model comparisons within one (structure, metric) family: difference CI, permutation, Wilcoxon, Holm, TOST."""

from __future__ import annotations

import itertools
from typing import Optional, Sequence

import numpy as np
from scipy import stats
from statsmodels.stats.weightstats import ttost_paired

from .intervals import DEFAULT_LEVEL, SMALL_N_THRESHOLD, grouped_mean_intervals
from .records import Equivalence, PairwiseComparison
from .resampling import DEFAULT_RESAMPLES, DEFAULT_SEED, PatientResamples, sign_flips
from .validation import PatientGroups, StatsInputError, check_level, check_model_names, group_by_patient


def compare_models(
    values: np.ndarray,
    *,
    model_names: Sequence[str],
    higher_is_better: bool = True,
    level: float = DEFAULT_LEVEL,
    equivalence_margin: Optional[float] = None,
    patient_ids: Optional[Sequence] = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    resamples: Optional[PatientResamples] = None,
    small_n_threshold: int = SMALL_N_THRESHOLD,
) -> tuple[PairwiseComparison, ...]:
    """Every pair of columns of ``values`` (n_rows, n_models) compared, Holm-adjusted as one family.

    Pairs come in column order (a before b). The difference CI follows the ``mean_intervals`` rule on the
    shared patient resamples; the sign-flip permutation p flips whole patients (exact when 2^N <= B);
    Wilcoxon signed-rank, TOST (when ``equivalence_margin`` is given) use patient-level mean differences.
    Significance is ``p_permutation_holm < 1 - level``.
    """
    level = check_level(level)
    groups = group_by_patient(values, patient_ids, column_names=model_names)
    names = check_model_names(model_names, groups.values.shape[1])
    if equivalence_margin is not None and not equivalence_margin > 0:
        raise StatsInputError(f"equivalence_margin must be a positive number, got {equivalence_margin}")
    pairs = list(itertools.combinations(range(len(names)), 2))
    differences = grouped_differences(groups, pairs)
    intervals = grouped_mean_intervals(
        differences,
        level=level,
        n_resamples=n_resamples,
        seed=seed,
        resamples=resamples,
        small_n_threshold=small_n_threshold,
    )
    resample_count, resample_seed = n_resamples, seed
    if resamples is not None:
        resamples.check_patients(groups.n_patients)
        resample_count, resample_seed = resamples.n_resamples, resamples.seed
    p_permutation, n_permutations, exact = sign_flip_p_values(
        differences, n_resamples=resample_count, seed=resample_seed
    )
    patient_differences = differences.patient_means
    p_wilcoxon = np.array([wilcoxon_p_value(patient_differences[:, k]) for k in range(len(pairs))])
    alpha = 1.0 - level
    p_permutation_holm = holm(p_permutation)
    p_wilcoxon_holm = holm(p_wilcoxon)
    comparisons = []
    for k, (a, b) in enumerate(pairs):
        significant = bool(p_permutation_holm[k] < alpha)
        mean_difference = intervals[k].estimate
        better = None
        if significant and mean_difference != 0:
            better = names[a] if (mean_difference > 0) == higher_is_better else names[b]
        equivalence = (
            None
            if equivalence_margin is None
            else tost(
                groups.patient_means[:, a], groups.patient_means[:, b], margin=equivalence_margin, alpha=alpha
            )
        )
        if equivalence is not None and equivalence.equivalent:
            verdict = "equivalent"
        elif better is not None:
            verdict = "a_better" if better == names[a] else "b_better"
        else:
            verdict = "not_separable"
        comparisons.append(
            PairwiseComparison(
                model_a=names[a],
                model_b=names[b],
                difference=intervals[k],
                p_permutation=float(p_permutation[k]),
                p_permutation_holm=float(p_permutation_holm[k]),
                p_wilcoxon=float(p_wilcoxon[k]),
                p_wilcoxon_holm=float(p_wilcoxon_holm[k]),
                significant=significant,
                better=better,
                equivalence=equivalence,
                verdict=verdict,
                n_permutations=n_permutations,
                permutation_exact=exact,
            )
        )
    return tuple(comparisons)


def grouped_differences(groups: PatientGroups, pairs: Sequence[tuple[int, int]]) -> PatientGroups:
    """Row-wise differences (column a minus column b) for each pair, with the same patient grouping."""
    first = [a for a, _ in pairs]
    second = [b for _, b in pairs]
    return PatientGroups(
        groups.values[:, first] - groups.values[:, second],
        groups.row_patient,
        groups.patients,
        groups.sums[:, first] - groups.sums[:, second],
        groups.sizes,
    )


def sign_flip_p_values(
    differences: PatientGroups, *, n_resamples: int, seed: int
) -> tuple[np.ndarray, int, bool]:
    """Two-sided sign-flip permutation p-values of the mean difference, flipping whole patients.

    Under the null of exchangeable models each patient's summed difference is symmetric about zero. Random
    flips give p = (1 + #{|T*| >= |T|}) / (B + 1), never zero (Phipson & Smyth 2010); exhaustive flips give
    the exact share. Returns the p-values, the number of sign vectors and whether they were exhaustive.
    """
    signs, exact = sign_flips(differences.n_patients, n_resamples=n_resamples, seed=seed)
    observed = np.abs(differences.sums.sum(axis=0))
    flipped = np.abs(signs @ differences.sums)
    # A relative tolerance keeps the statistic's own sign vector (and mirror images) counted despite rounding.
    tolerance = 1e-9 * np.maximum(np.abs(differences.sums).sum(axis=0), 1e-300)
    at_least = (flipped >= observed - tolerance).sum(axis=0)
    if exact:
        return at_least / signs.shape[0], signs.shape[0], True
    return (at_least + 1.0) / (signs.shape[0] + 1.0), signs.shape[0], False


def wilcoxon_p_value(differences: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value (scipy defaults, zero differences dropped); 1.0 if all are zero."""
    if not np.any(differences != 0):
        return 1.0
    return float(stats.wilcoxon(differences).pvalue)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values along the last axis (each row one family), controlling the FWER.

    The same numbers as statsmodels ``multipletests(method="holm")`` (a test checks it), written out because
    that function runs ``gc.collect()`` on every call (about 70 ms here), which dominates an analysis of many
    (structure, metric) families and rules out vectorised error-rate studies.
    """
    p_values = np.asarray(p_values, dtype=np.float64)
    n_tests = p_values.shape[-1]
    order = np.argsort(p_values, axis=-1, kind="stable")
    ordered = np.take_along_axis(p_values, order, axis=-1) * np.arange(n_tests, 0, -1)
    adjusted = np.minimum(np.maximum.accumulate(ordered, axis=-1), 1.0)
    result = np.empty_like(adjusted)
    np.put_along_axis(result, order, adjusted, axis=-1)
    return result


def tost(first: np.ndarray, second: np.ndarray, *, margin: float, alpha: float) -> Equivalence:
    """Paired TOST of ``first`` - ``second`` within ``±margin`` (statsmodels ``ttost_paired``)."""
    difference = first - second
    n = difference.size
    mean = float(difference.mean())
    sd = float(difference.std(ddof=1))
    level = 1.0 - 2.0 * alpha
    if sd == 0.0:
        # Identical differences: no sampling spread, so equivalence is just whether the difference is inside.
        inside = abs(mean) < margin
        return Equivalence(float(margin), 0.0 if inside else 1.0, mean, mean, level, inside)
    p_value = float(ttost_paired(first, second, -margin, margin)[0])
    half_width = stats.t.ppf(1.0 - alpha, df=n - 1) * sd / np.sqrt(n)
    return Equivalence(float(margin), p_value, mean - half_width, mean + half_width, level, p_value < alpha)
