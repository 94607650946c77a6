"""The Wilcoxon signed-rank test of a paired shift, and the Hodges-Lehmann interval it inverts to.

For patient-level differences d_1..d_n, the Walsh averages (d_i + d_j) / 2, i <= j, carry the whole test:
the signed-rank statistic W+ at shift delta is the number of Walsh averages above delta (Tukey's identity).
With w+ and w- the averages above and below delta, the two-sided p-value is min(1, 2 P(W >= max(w+, w-)))
under the null distribution of W (exact for n <= ``EXACT_SIGNED_RANK_MAX``, the normal approximation
without tie correction above, as scipy's defaults). The confidence set {delta: p > alpha} is the interval
between two order statistics of the Walsh averages, and the estimate is their median (Hodges & Lehmann
1963), so the verdict at 0 and the interval agree by construction. Without zeros and ties the p-value is
scipy's ``wilcoxon``; a Walsh average equal to delta counts on neither side.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import special

EXACT_SIGNED_RANK_MAX = 50


@lru_cache(maxsize=64)
def _upper_tail(n: int) -> np.ndarray:
    """P(W >= w) for w = 0..n(n+1)/2 under the exact null (each rank's sign a fair coin)."""
    total = n * (n + 1) // 2
    counts = np.zeros(total + 1)
    counts[0] = 1.0
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    probabilities = counts / 2.0**n
    return np.cumsum(probabilities[::-1])[::-1]


def _two_sided_p(statistic: np.ndarray, n: int) -> np.ndarray:
    """min(1, 2 P(W >= statistic)) for an array of integer statistics (the larger of w+ and w-)."""
    statistic = np.asarray(statistic, dtype=np.int64)
    total = n * (n + 1) // 2
    if n <= EXACT_SIGNED_RANK_MAX:
        tail = _upper_tail(n)
        upper = np.where(statistic > total, 0.0, tail[np.clip(statistic, 0, total)])
    else:
        sd = np.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)
        upper = special.ndtr(-(statistic - total / 2.0) / sd)
    return np.minimum(1.0, 2.0 * upper)


def _critical_count(n: int, alpha: float) -> int:
    """The smallest statistic whose two-sided p is <= alpha (n(n+1)/2 + 1 when no statistic reaches it)."""
    total = n * (n + 1) // 2
    candidates = np.arange(total // 2, total + 2)
    rejected = np.flatnonzero(_two_sided_p(candidates, n) <= alpha)
    return int(candidates[rejected[0]]) if rejected.size else total + 1


def walsh_averages(differences: np.ndarray) -> np.ndarray:
    """(d_i + d_j) / 2 for every i <= j of a 1-D array."""
    first, second = np.triu_indices(differences.size)
    return (differences[first] + differences[second]) / 2.0


def signed_rank_test(differences: np.ndarray) -> float:
    """Two-sided signed-rank p-value of "shift = 0" for 1-D patient-level differences (NaN ignored)."""
    differences = differences[np.isfinite(differences)]
    walsh = walsh_averages(differences)
    statistic = max(int((walsh > 0).sum()), int((walsh < 0).sum()))
    return float(_two_sided_p(np.array([statistic]), differences.size)[0])


def hodges_lehmann_interval(differences: np.ndarray, alpha: float) -> tuple[float, float, float]:
    """(estimate, low, high): the Hodges-Lehmann shift and the set of shifts the test keeps at ``alpha``.

    The ends are -inf / +inf when n is too small for any shift to be rejected at that alpha.
    """
    differences = differences[np.isfinite(differences)]
    n = differences.size
    walsh = walsh_averages(differences)
    total = walsh.size
    estimate = float(np.median(walsh))
    critical = _critical_count(n, alpha)
    if critical > total:
        return estimate, -np.inf, np.inf
    # Accepted: fewer than `critical` averages above delta and fewer than `critical` below, i.e.
    # W_(M - c + 1) <= delta <= W_(c) in 1-based order statistics.
    low_index, high_index = total - critical, critical - 1
    ordered = np.partition(walsh, [low_index, high_index])
    return estimate, float(ordered[low_index]), float(ordered[high_index])
