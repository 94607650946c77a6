"""Paired model comparisons within one (structure, metric) family, decided by one pre-specified test.

``family_tests`` computes every pair's raw p-value under the primary test (``permutation``: sign-flip test
of the mean difference; ``wilcoxon``: signed-rank test of the shift) plus the sensitivity analyses (the
other test, TOST). ``FamilyTests.comparisons`` then takes a Holm
decision, made over this family or over all families of a study, and inverts the same primary test at
each pair's Holm level, so every shown interval comes from the procedure that gives the verdict.
``compare_models`` does both for one family.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import scipy
from scipy import stats
from statsmodels.stats.weightstats import ttost_paired

from .intervals import DEFAULT_LEVEL, SMALL_N_THRESHOLD
from .multiplicity import HolmDecision, holm, holm_decision
from .records import Equivalence, Interval, PairwiseComparison, PairwiseSensitivity
from .resampling import DEFAULT_RESAMPLES, DEFAULT_SEED, PatientResamples
from .signed_rank import hodges_lehmann_interval, signed_rank_test
from .signflip import MAX_EXACT_SIGN_VECTORS, SignFlipNull
from .validation import PatientGroups, StatsInputError, check_level, check_model_names, group_by_patient

PRIMARY_TESTS = ("permutation", "wilcoxon")
# scipy.stats.wilcoxon's name for the normal approximation: "approx" up to scipy 1.14 (Slicer 5.6 and 5.10
# ship 1.11.3 and 1.13.1, whose wilcoxon refuses "asymptotic"), "asymptotic" from 1.15 (scipy gh-21567),
# where "approx" is deprecated. The Slicer 5.10 tier caught the earlier 1.13 threshold.
NORMAL_APPROXIMATION = (
    "asymptotic" if tuple(int(part) for part in scipy.__version__.split(".")[:2]) >= (1, 15) else "approx"
)
INVERSION_METHODS = {"permutation": "sign_flip_inversion", "wilcoxon": "signed_rank_inversion"}


@dataclass(frozen=True, eq=False)
class FamilyTests:
    """Every pair of one family tested by the primary test, awaiting the multiplicity decision."""

    names: tuple[str, ...]
    pairs: tuple[tuple[int, int], ...]
    test: str
    level: float
    higher_is_better: bool
    equivalence_margin: Optional[float]
    differences: PatientGroups
    p_values: np.ndarray
    exact: bool
    n_sign_vectors: int
    mc_errors: Optional[np.ndarray]
    null: SignFlipNull
    seed: int
    p_permutation: np.ndarray
    p_wilcoxon: Optional[np.ndarray]
    tost: tuple[Optional[Equivalence], ...]

    @property
    def smallest_p(self) -> float:
        """The smallest p-value the primary test can give here: 2 / 2^N for exact sign flips (the observed
        vector and its mirror), 1 / (B + 1) for sampled ones, 2 / 2^n for the exact signed-rank test."""
        if self.test == "wilcoxon":
            n = int((self.differences.sizes > 0).sum(axis=0).max())
            return 2.0 / 2.0**n if n <= 50 else 0.0
        if self.exact:
            return 2.0 / self.n_sign_vectors
        return 1.0 / (self.n_sign_vectors + 1.0)

    def comparisons(self, decision: HolmDecision, *, multiplicity: str) -> tuple[PairwiseComparison, ...]:
        """The comparisons under ``decision`` (Holm over ``multiplicity``, this family's pairs in order)."""
        estimates, lows, highs = self._inverted(decision.interval_alphas)
        p_permutation_holm = holm(self.p_permutation)
        p_wilcoxon_holm = None if self.p_wilcoxon is None else holm(self.p_wilcoxon)
        pair_patients = (self.differences.sizes > 0).sum(axis=0)
        comparisons = []
        for k, (a, b) in enumerate(self.pairs):
            low, high = float(lows[k]), float(highs[k])
            significant = bool(decision.rejected[k])
            margin = self.equivalence_margin
            better = None
            if margin is not None and -margin < low and high < margin:
                verdict = "equivalent"
            elif significant:
                a_larger = low > 0.0
                better = self.names[a] if a_larger == self.higher_is_better else self.names[b]
                verdict = "a_better" if better == self.names[a] else "b_better"
            else:
                verdict = "not_separable"
            comparisons.append(
                PairwiseComparison(
                    model_a=self.names[a],
                    model_b=self.names[b],
                    n=int(pair_patients[k]),
                    test=self.test,
                    difference=Interval(
                        float(estimates[k]),
                        low,
                        high,
                        float(1.0 - decision.interval_alphas[k]),
                        INVERSION_METHODS[self.test],
                        int(pair_patients[k]),
                        self.n_sign_vectors if self.test == "permutation" else None,
                        self.seed if self.test == "permutation" and not self.exact else None,
                    ),
                    p_value=float(self.p_values[k]),
                    p_adjusted=float(decision.adjusted[k]),
                    multiplicity=multiplicity,
                    n_tests=decision.n_tests,
                    p_mc_error=None if self.mc_errors is None else float(self.mc_errors[k]),
                    exact=self.exact if self.test == "permutation" else pair_patients[k] <= 50,
                    significant=significant,
                    better=better,
                    equivalence_margin=margin,
                    verdict=verdict,
                    sensitivity=None
                    if p_wilcoxon_holm is None or self.p_wilcoxon is None
                    else PairwiseSensitivity(
                        p_permutation=float(self.p_permutation[k]),
                        p_permutation_holm=float(p_permutation_holm[k]),
                        p_wilcoxon=float(self.p_wilcoxon[k]),
                        p_wilcoxon_holm=float(p_wilcoxon_holm[k]),
                        tost=self.tost[k],
                    ),
                )
            )
        return tuple(comparisons)

    def _inverted(self, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Estimates and inverted-test bounds per pair at per-pair ``alphas``."""
        if self.test == "permutation":
            low, high = self.null.bounds(alphas)
            return self.differences.mean, low, high
        patient_differences = self.differences.patient_means
        results = [
            hodges_lehmann_interval(patient_differences[:, k], float(alphas[k]))
            for k in range(len(self.pairs))
        ]
        return tuple(np.array(column, dtype=np.float64) for column in zip(*results))  # type: ignore[return-value]


def family_tests(
    values: np.ndarray,
    *,
    model_names: Sequence[str],
    higher_is_better: bool = True,
    level: float = DEFAULT_LEVEL,
    test: str = "permutation",
    equivalence_margin: Optional[float] = None,
    patient_ids: Optional[Sequence] = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    resamples: Optional[PatientResamples] = None,
    small_n_threshold: int = SMALL_N_THRESHOLD,
    skewed: bool = False,
    allow_missing: bool = False,
    keep_intervals: bool = True,
    max_exact: int = MAX_EXACT_SIGN_VECTORS,
    sensitivity: bool = True,
) -> FamilyTests:
    """Test every pair of columns of ``values`` (n_rows, n_models), in column order (a before b).

    Each pair uses the rows where both columns have a value (NaN is missing with ``allow_missing``); the
    sign-flip test flips whole patients, exactly when 2^N <= ``max_exact`` sign vectors, else with
    ``n_resamples`` random ones. Wilcoxon (primary or sensitivity) and TOST use patient-level differences.
    ``sensitivity=False`` skips the sensitivity analyses (a description that needs only the interval).
    """
    level = check_level(level)
    if test not in PRIMARY_TESTS:
        raise StatsInputError(f"primary test '{test}': expected one of {', '.join(PRIMARY_TESTS)}")
    groups = group_by_patient(values, patient_ids, column_names=model_names, allow_missing=allow_missing)
    names = check_model_names(model_names, groups.values.shape[1])
    if equivalence_margin is not None and not equivalence_margin > 0:
        raise StatsInputError(f"equivalence_margin must be a positive number, got {equivalence_margin}")
    if resamples is not None:
        resamples.check_patients(groups.n_patients)
        n_resamples, seed = resamples.n_resamples, resamples.seed
    pairs = tuple(itertools.combinations(range(len(names)), 2))
    first, second = [a for a, _ in pairs], [b for _, b in pairs]
    differences = groups.with_values(groups.values[:, first] - groups.values[:, second])
    null = SignFlipNull(
        differences.sums,
        differences.sizes,
        n_resamples=n_resamples,
        seed=seed,
        max_exact=max_exact,
        keep_intervals=keep_intervals,
    )
    permutation = null.test()
    patient_differences = differences.patient_means
    p_wilcoxon = wilcoxon_p_values(patient_differences) if sensitivity else None
    if test == "permutation":
        p_values, mc_errors = permutation.p_values, permutation.mc_errors
    else:
        p_values, mc_errors = np.array([signed_rank_test(column) for column in patient_differences.T]), None
    alpha = 1.0 - level
    patient_means = groups.patient_means
    tost_results = tuple(
        None
        if equivalence_margin is None or not sensitivity
        else tost(patient_means[:, a], patient_means[:, b], margin=equivalence_margin, alpha=alpha)
        for a, b in pairs
    )
    return FamilyTests(
        names=names,
        pairs=pairs,
        test=test,
        level=level,
        higher_is_better=bool(higher_is_better),
        equivalence_margin=None if equivalence_margin is None else float(equivalence_margin),
        differences=differences,
        p_values=np.asarray(p_values, dtype=np.float64),
        exact=permutation.exact,
        n_sign_vectors=permutation.n_sign_vectors,
        mc_errors=mc_errors,
        null=null,
        seed=int(seed),
        p_permutation=permutation.p_values,
        p_wilcoxon=p_wilcoxon,
        tost=tost_results,
    )


def compare_models(
    values: np.ndarray,
    *,
    model_names: Sequence[str],
    higher_is_better: bool = True,
    level: float = DEFAULT_LEVEL,
    test: str = "permutation",
    equivalence_margin: Optional[float] = None,
    patient_ids: Optional[Sequence] = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    resamples: Optional[PatientResamples] = None,
    small_n_threshold: int = SMALL_N_THRESHOLD,
    skewed: bool = False,
    allow_missing: bool = False,
    sensitivity: bool = True,
) -> tuple[PairwiseComparison, ...]:
    """Every pair of columns compared by ``test``, Holm-adjusted within this family (see ``family_tests``).

    A pair is significant when its p-value is at most its Holm level; its interval is the primary test
    inverted at that level, so it excludes 0 exactly then.
    """
    tests = family_tests(
        values,
        model_names=model_names,
        higher_is_better=higher_is_better,
        level=level,
        test=test,
        equivalence_margin=equivalence_margin,
        patient_ids=patient_ids,
        n_resamples=n_resamples,
        seed=seed,
        resamples=resamples,
        small_n_threshold=small_n_threshold,
        skewed=skewed,
        allow_missing=allow_missing,
        sensitivity=sensitivity,
    )
    decision = holm_decision(tests.p_values, alpha=1.0 - tests.level)
    return tests.comparisons(decision, multiplicity="holm within the structure-metric family")


def wilcoxon_p_values(patient_differences: np.ndarray, *, alternative: str = "two-sided") -> np.ndarray:
    """scipy Wilcoxon signed-rank p per column (zeros dropped; NaN rows left out), vectorised where possible.

    scipy's defaults (exact up to 50 patients, the normal approximation above), except that a column with
    ties or zeros always uses the normal approximation: scipy from 1.13 does so above 13 patients and runs a
    permutation test below (half a second per column), scipy 1.11 (Slicer 5.6) an exact test it warns is
    wrong with ties; this way every version gives the same numbers (a sensitivity view). 1.0 where
    every difference is zero (nothing to test), NaN where fewer than 2 patients remain.
    """
    p_values = np.full(patient_differences.shape[1], np.nan)
    complete = np.isfinite(patient_differences).all(axis=0) & np.any(patient_differences != 0, axis=0)
    if complete.any():
        columns = np.flatnonzero(complete)
        tied = np.array([_has_ties_or_zeros(patient_differences[:, k]) for k in columns], dtype=bool)
        for subset, method in (
            (columns[~tied], "auto"),
            (columns[tied], NORMAL_APPROXIMATION),
        ):
            if subset.size:
                p_values[subset] = stats.wilcoxon(
                    patient_differences[:, subset], axis=0, alternative=alternative, method=method
                ).pvalue
    for k in np.flatnonzero(~complete):
        column = patient_differences[np.isfinite(patient_differences[:, k]), k]
        if column.size and not np.any(column != 0):
            p_values[k] = 1.0
        elif column.size >= 2:
            method = NORMAL_APPROXIMATION if _has_ties_or_zeros(column) else "auto"
            p_values[k] = float(stats.wilcoxon(column, alternative=alternative, method=method).pvalue)
    return p_values


def _has_ties_or_zeros(differences: np.ndarray) -> bool:
    magnitudes = np.abs(differences)
    return bool((magnitudes == 0).any() or np.unique(magnitudes).size < magnitudes.size)


def tost(first: np.ndarray, second: np.ndarray, *, margin: float, alpha: float) -> Optional[Equivalence]:
    """Paired TOST of ``first`` - ``second`` within ``±margin`` (statsmodels ``ttost_paired``), NaN pairs out."""
    present = np.isfinite(first) & np.isfinite(second)
    first, second = first[present], second[present]
    if first.size < 2:
        return None
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
