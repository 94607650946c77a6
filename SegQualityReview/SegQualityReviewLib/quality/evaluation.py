"""Accuracy of predicted Dice against true Dice, pooled with patient-bootstrap intervals and per patient.

Every report carries the true-Dice distribution beside the scores, since a correlation on a set that is
mostly good (or mostly bad) says little. Intervals resample patients, not masks (a cluster bootstrap):
masks of one patient are not independent, and the patient is what a new user brings.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import stats

BOOTSTRAP_RESAMPLES = 2000
POINT_METRICS = (
    "mae",
    "pearson",
    "spearman",
    "auroc_below_threshold",
    "flag_precision",
    "flag_recall",
    "coverage",
)


def scores(
    true: np.ndarray,
    predicted: np.ndarray,
    *,
    threshold: float = 0.7,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
) -> dict:
    """MAE, Pearson, Spearman, AUROC(Dice < threshold), flag precision and recall (predicted below the
    threshold), interval coverage and mean width, and the true-Dice distribution."""
    true = np.asarray(true, float)
    predicted = np.asarray(predicted, float)
    report: dict = {"n": int(true.size)}
    if true.size:
        report["true_dice"] = {
            "mean": _round(true.mean()),
            "sd": _round(true.std(ddof=1)) if true.size > 1 else None,
            "share_below_threshold": _round((true < threshold).mean()),
        }
    report.update(_metrics(true, predicted, threshold, low, high))
    if true.size:
        report["mean_predicted"] = _round(predicted.mean())
    return {k: (_round(v) if isinstance(v, float) else v) for k, v in report.items()}


def _metrics(true, predicted, threshold, low=None, high=None) -> dict:
    values: dict = dict.fromkeys(POINT_METRICS)
    if true.size < 3:
        return values
    bad = true < threshold
    flagged = predicted < threshold
    values["mae"] = float(np.abs(true - predicted).mean())
    if np.ptp(predicted) > 0 and np.ptp(true) > 0:
        values["pearson"] = float(stats.pearsonr(true, predicted).statistic)
        values["spearman"] = float(stats.spearmanr(true, predicted).statistic)
    if 0 < bad.sum() < bad.size:
        values["auroc_below_threshold"] = auroc(bad, -predicted)
    values["flag_precision"] = float(bad[flagged].mean()) if flagged.any() else None
    values["flag_recall"] = float(flagged[bad].mean()) if bad.any() else None
    values["share_flagged"] = float(flagged.mean())
    if low is not None and high is not None:
        values["coverage"] = float(((true >= low - 1e-9) & (true <= high + 1e-9)).mean())
        values["mean_interval_width"] = float((np.asarray(high) - np.asarray(low)).mean())
    return values


def auroc(positive: np.ndarray, score: np.ndarray) -> float:
    """Probability that a positive scores above a negative (ties count half): Mann-Whitney U / (n1 n0)."""
    u = stats.mannwhitneyu(score[positive], score[~positive], alternative="two-sided").statistic
    return float(u / (positive.sum() * (~positive).sum()))


def cluster_bootstrap(
    true: np.ndarray,
    predicted: np.ndarray,
    patients: Sequence[str],
    *,
    threshold: float = 0.7,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Percentile intervals of the pooled metrics over patient resamples (masks of a drawn patient all
    enter, a patient drawn twice enters twice); ``None`` with fewer than two patients."""
    patients = np.asarray(patients, dtype=object)
    names = list(dict.fromkeys(patients.tolist()))
    if len(names) < 2:
        return dict.fromkeys(POINT_METRICS)
    members = [np.flatnonzero(patients == name) for name in names]
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {m: [] for m in POINT_METRICS}
    for _ in range(resamples):
        index = np.concatenate([members[i] for i in rng.integers(len(names), size=len(names))])
        values = _metrics(
            true[index],
            predicted[index],
            threshold,
            None if low is None else low[index],
            None if high is None else high[index],
        )
        for name in POINT_METRICS:
            if values.get(name) is not None and math.isfinite(values[name]):
                draws[name].append(values[name])
    tail = (1.0 - level) / 2.0 * 100.0
    return {
        name: [_round(np.percentile(d, tail)), _round(np.percentile(d, 100.0 - tail))]
        if len(d) >= 20
        else None
        for name, d in draws.items()
    }


def pooled_and_per_patient(
    true: np.ndarray,
    predicted: np.ndarray,
    patients: Sequence[str],
    *,
    threshold: float = 0.7,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
    bootstrap: bool = True,
) -> dict:
    """``pooled`` scores (with ``interval_95`` from the patient bootstrap) and ``per_patient`` scores."""
    true, predicted = np.asarray(true, float), np.asarray(predicted, float)
    patients = np.asarray(patients, dtype=object)
    pooled = scores(true, predicted, threshold=threshold, low=low, high=high)
    if bootstrap:
        pooled["interval_95"] = cluster_bootstrap(
            true, predicted, patients, threshold=threshold, low=low, high=high
        )
    per_patient = {}
    for name in dict.fromkeys(patients.tolist()):
        members = patients == name
        per_patient[name] = scores(
            true[members],
            predicted[members],
            threshold=threshold,
            low=None if low is None else low[members],
            high=None if high is None else high[members],
        )
    return {"pooled": pooled, "per_patient": per_patient}


def save_scatter(true, predicted, path: str | Path, *, title: str) -> Path:
    """A predicted-vs-true scatter as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.scatter(true, predicted, s=8, alpha=0.5)
    axes.plot([0, 1], [0, 1], color="grey", linewidth=1)
    axes.set(xlabel="true Dice", ylabel="predicted Dice", xlim=(0, 1.02), ylim=(0, 1.02), title=title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _round(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return round(value, 4) if math.isfinite(value) else None
