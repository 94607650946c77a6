"""The computational pieces behind the intervals: resampled means and medians, jackknife, t, BCa, bootstrap-t.

Everything works on ``PatientGroups`` (rows summed per patient, per column) and a shared ``PatientResamples``
matrix, so a resample's mean of every column is one matrix product and all columns stay paired.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from .resampling import PatientResamples
from .validation import PatientGroups


def bootstrap_means(groups: PatientGroups, resamples: PatientResamples) -> np.ndarray:
    """(B, n_columns) mean over the rows of each resample: resampled patient sums over resampled row counts.

    Patients without a value in any column (outside a subgroup, say) add nothing: when they are many, only
    the others' draw counts enter the products.
    """
    counts = resamples.counts
    sums, sizes = groups.sums, groups.sizes
    present = (sizes > 0).any(axis=1)
    if present.mean() < 0.75:
        counts, sums, sizes = counts[:, present], sums[present], sizes[present]
    with np.errstate(divide="ignore", invalid="ignore"):
        return (counts @ sums) / _drawn_sizes(sizes, counts)


def drawn_sizes(groups: PatientGroups, counts: np.ndarray) -> np.ndarray:
    """(B, n_columns) rows drawn per resample."""
    return _drawn_sizes(groups.sizes, counts)


def _drawn_sizes(sizes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """One product per distinct column of ``sizes`` (most columns share their rows)."""
    if sizes.shape[1] == 1:
        return counts @ sizes
    unique, inverse = np.unique(sizes, axis=1, return_inverse=True)
    return (counts @ unique)[:, np.ravel(inverse)]


def jackknife_means(groups: PatientGroups) -> np.ndarray:
    """(n_patients, n_columns) leave-one-patient-out means, for the BCa acceleration."""
    total_sum = groups.sums.sum(axis=0)
    total_size = groups.sizes.sum(axis=0)
    return (total_sum - groups.sums) / (total_size - groups.sizes)


def t_bounds(groups: PatientGroups, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Student t bounds for the mean with the cluster-robust (CR1) standard error and N - 1 degrees of freedom.

    With one row per patient this is exactly the classical s / sqrt(N) interval; with several rows per patient
    it is the sandwich variance of an intercept-only regression clustered by patient (Liang & Zeger 1986).
    """
    n_patients = groups.column_patients
    mean = groups.mean
    half_width = stats.t.ppf(0.5 + level / 2.0, df=n_patients - 1) * cluster_standard_error(groups)
    return mean - half_width, mean + half_width


def cluster_standard_error(groups: PatientGroups) -> np.ndarray:
    """CR1 standard error of each column's mean over its rows (the classical s / sqrt(N) for one row each)."""
    n_patients = groups.column_patients
    residual_sums = groups.sums - groups.sizes * groups.mean
    variance = n_patients / (n_patients - 1) * (residual_sums**2).sum(axis=0) / groups.sizes.sum(axis=0) ** 2
    return np.sqrt(variance)


def bca_bounds(
    boot: np.ndarray, estimate: np.ndarray, jackknife: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """BCa bounds per column from the bootstrap distribution (B, k), the estimate (k,) and jackknife (N, k).

    Efron (1987), "Better bootstrap confidence intervals", JASA 82:171-185: bias correction z0 from the share
    of resamples below the estimate, acceleration a from the skewness of the jackknife over patients, and the
    percentiles Phi(z0 + (z0 + z) / (1 - a (z0 + z))) of the bootstrap distribution.
    """
    if np.isnan(boot).any() or np.isnan(jackknife).any():
        # Resamples that drew none of a column's patients, or patients without a value in it: per column.
        bounds = [
            _bca_column(
                boot[:, j][np.isfinite(boot[:, j])],
                estimate[j],
                jackknife[:, j][np.isfinite(jackknife[:, j])],
                level,
            )
            for j in range(boot.shape[1])
        ]
        return np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])
    n_resamples = boot.shape[0]
    below = (boot < estimate).sum(axis=0) + (boot <= estimate).sum(axis=0)
    bias = special.ndtri(np.clip(below / (2.0 * n_resamples), 0.5 / n_resamples, 1.0 - 0.5 / n_resamples))
    centred = jackknife.mean(axis=0) - jackknife
    spread = (centred**2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        acceleration = np.where(spread > 0, (centred**3).sum(axis=0) / (6.0 * spread**1.5), 0.0)
    tail = special.ndtri((1.0 - level) / 2.0)
    bounds = []
    for z in (tail, -tail):
        shifted = bias + z
        bounds.append(special.ndtr(bias + shifted / (1.0 - acceleration * shifted)))
    ordered = np.sort(boot, axis=0)
    return column_quantiles(ordered, bounds[0]), column_quantiles(ordered, bounds[1])


def _bca_column(
    boot: np.ndarray, estimate: float, jackknife: np.ndarray, level: float
) -> tuple[float, float]:
    low, high = bca_bounds(boot[:, None], np.array([estimate]), jackknife[:, None], level)
    return float(low[0]), float(high[0])


def column_quantiles(ordered: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Each column's own quantile of sorted (B, k) values, interpolated as ``np.quantile`` (method linear)."""
    positions = np.clip(quantiles, 0.0, 1.0) * (ordered.shape[0] - 1)
    below = np.floor(positions).astype(np.int64)
    above = np.minimum(below + 1, ordered.shape[0] - 1)
    columns = np.arange(ordered.shape[1])
    fraction = positions - below
    return ordered[below, columns] + fraction * (ordered[above, columns] - ordered[below, columns])


def bootstrap_t_bounds(
    groups: PatientGroups, resamples: PatientResamples, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Studentized (bootstrap-t) bounds: the skew of the data's own t statistic sets each tail.

    Each resample gives t* = (mean* - mean) / se*, with the same cluster-robust standard error as the t
    interval computed inside the resample (all sums are matrix products of the draw counts). The bounds are
    mean - t*_(1 - tail) se and mean - t*_(tail) se (Efron & Tibshirani 1993, ch. 12): unlike the symmetric t
    interval, a long right tail (HD95, ASSD) gives a longer upper arm. Resamples whose standard error is
    zero (every draw the same patient) have no t* and are left out.
    """
    counts = resamples.counts
    n_patients = groups.column_patients
    drawn = drawn_sizes(groups, counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        boot_mean = (counts @ groups.sums) / drawn
        # sum over drawn patients of (S_p - n_p m*)^2 = sum c S^2 - 2 m* sum c S n + m*^2 sum c n^2
        squares = (
            counts @ groups.sums**2
            - 2.0 * boot_mean * (counts @ (groups.sums * groups.sizes))
            + boot_mean**2 * (counts @ groups.sizes**2)
        )
        boot_se = np.sqrt(np.clip(n_patients / (n_patients - 1) * squares, 0.0, None)) / drawn
        studentized = (boot_mean - groups.mean) / boot_se
    studentized = np.where(np.isfinite(studentized), studentized, np.nan)
    # A column without spread (every value equal) has no t* at all: its interval is the point itself.
    constant = np.isnan(studentized).all(axis=0)
    studentized[:, constant] = 0.0
    tail = (1.0 - level) / 2.0
    upper_t, lower_t = np.nanquantile(studentized, [1.0 - tail, tail], axis=0)
    standard_error = cluster_standard_error(groups)
    return groups.mean - upper_t * standard_error, groups.mean - lower_t * standard_error


def bootstrap_medians(groups: PatientGroups, resamples: PatientResamples) -> np.ndarray:
    """(B, n_columns) median over the rows of each resample, without materialising the resampled tables.

    Rows are sorted once per column; a resample weights each row by its patient's draw count, and the
    median is the mean of the sorted rows at positions floor((T-1)/2) and floor(T/2) of the T resampled rows.
    Only a window of sorted rows around the middle is accumulated per resample (the rows before it are
    counted by one matrix product for all columns): a resample's median lies beyond 8 standard deviations
    of the draw count from the middle practically never, and those rows are redone over all rows. A
    column's missing rows take no part.
    """
    # Draw counts fit in 16 bits unless a resample can draw 2^15 rows: the cumulative sums, the whole cost
    # here, then move a quarter of the memory of float64.
    small = resamples.n_patients * groups.sizes.max() < 2**15
    counts = resamples.counts.astype(np.int16 if small else np.int32)
    n_columns = groups.values.shape[1]
    orders = []
    for column in range(n_columns):
        present = np.flatnonzero(np.isfinite(groups.values[:, column]))
        orders.append(present[np.argsort(groups.values[present, column], kind="stable")])
    windows = [_median_window(order.size) for order in orders]
    # rows_before[p, j]: rows of patient p that sort before column j's window.
    rows_before = np.zeros((groups.n_patients, n_columns))
    for column, (order, (start, _)) in enumerate(zip(orders, windows)):
        np.add.at(rows_before[:, column], groups.row_patient[order[:start]], 1.0)
    before = resamples.counts @ rows_before
    totals = _drawn_sizes(groups.sizes, resamples.counts).astype(counts.dtype)
    medians = np.empty((resamples.n_resamples, n_columns))
    for column, (order, (start, stop)) in enumerate(zip(orders, windows)):
        total = totals[:, column]
        lower_position = ((total - 1) // 2)[:, None]
        upper_position = (total // 2)[:, None]
        sorted_values = groups.values[order, column]
        offset = before[:, column].astype(counts.dtype)[:, None]
        cumulative = offset + np.cumsum(
            counts[:, groups.row_patient[order[start:stop]]], axis=1, dtype=counts.dtype
        )
        inside = (offset[:, 0] <= lower_position[:, 0]) & (cumulative[:, -1] > upper_position[:, 0])
        lower = start + (cumulative <= lower_position).sum(axis=1)
        upper = start + (cumulative <= upper_position).sum(axis=1)
        outside = np.flatnonzero(~inside)
        if outside.size:
            full = np.cumsum(counts[outside][:, groups.row_patient[order]], axis=1, dtype=counts.dtype)
            lower[outside] = (full <= lower_position[outside]).sum(axis=1)
            upper[outside] = (full <= upper_position[outside]).sum(axis=1)
        lower = np.minimum(lower, order.size - 1)
        upper = np.minimum(upper, order.size - 1)
        medians[:, column] = (sorted_values[lower] + sorted_values[upper]) / 2.0
    return medians


def _median_window(n_rows: int) -> tuple[int, int]:
    """Sorted positions [start, stop) where a resample's median falls unless 8 standard deviations out."""
    half = int(4.0 * np.sqrt(n_rows)) + 2
    if 2 * half >= n_rows:
        return 0, n_rows
    middle = n_rows // 2
    return max(0, middle - half), min(n_rows, middle + half)
