"""Holm's step-down adjustment, with the per-hypothesis level that makes each interval agree with its verdict.

Holm (1979) rejects the i-th smallest of m p-values when every p_(j), j <= i, is at most alpha / (m - j + 1).
With r rejections, a rejected hypothesis at position i is shown with its interval at level
1 - alpha / (m - i + 1) (its p-value is below that alpha, so the interval excludes the null value) and every
other hypothesis at level 1 - alpha / (m - r) (each of their p-values is above it, so the interval holds the
null value): the intervals agree with the verdicts and no narrower level would. These are the levels of the
Holm-compatible intervals of Strassburger & Bretz (2008, Stat Med 27:4914) for the hypotheses Holm keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MULTIPLICITY_SCOPES = ("family", "all")


@dataclass(frozen=True)
class HolmDecision:
    """Holm-adjusted p-values, rejections, and the per-hypothesis alpha of the interval shown with each."""

    adjusted: np.ndarray
    rejected: np.ndarray
    interval_alphas: np.ndarray
    n_tests: int


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


def holm_decision(p_values: np.ndarray, *, alpha: float) -> HolmDecision:
    """Holm at ``alpha`` over a 1-D array of p-values: adjusted p, rejected, and each interval's alpha.

    A hypothesis is rejected when its own p is at most its interval alpha, the comparison the interval
    inversion makes, so the verdict and the interval can never disagree.
    """
    p_values = np.asarray(p_values, dtype=np.float64)
    n_tests = p_values.size
    if n_tests == 0:
        return HolmDecision(p_values, np.zeros(0, dtype=bool), np.zeros(0), 0)
    order = np.argsort(p_values, kind="stable")
    thresholds = alpha / np.arange(n_tests, 0, -1)
    passes = p_values[order] <= thresholds
    n_rejected = int(np.argmin(passes)) if not passes.all() else n_tests
    interval_alphas = np.empty(n_tests)
    interval_alphas[order[:n_rejected]] = thresholds[:n_rejected]
    if n_rejected < n_tests:
        interval_alphas[order[n_rejected:]] = alpha / (n_tests - n_rejected)
    return HolmDecision(
        adjusted=holm(p_values),
        rejected=p_values <= interval_alphas,
        interval_alphas=interval_alphas,
        n_tests=n_tests,
    )


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate) of a 1-D array.

    The numbers of statsmodels ``multipletests(method="fdr_bh")`` (a test checks it), without its
    ``gc.collect()`` per call, which a subgroup analysis of many (structure, metric, model) sets would pay.
    """
    p_values = np.asarray(p_values, dtype=np.float64)
    n_tests = p_values.size
    if n_tests == 0:
        return p_values
    order = np.argsort(p_values, kind="stable")
    scaled = p_values[order] * n_tests / np.arange(1, n_tests + 1)
    adjusted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    result = np.empty(n_tests)
    result[order] = adjusted
    return result
