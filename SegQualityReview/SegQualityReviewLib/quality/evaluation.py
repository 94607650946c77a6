"""Accuracy of predicted Dice against true Dice: error, correlation, flagging, ranking and selection.

Every report carries the true-Dice distribution beside the scores, since a high correlation on a set
that is mostly good (or mostly bad) says little.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class ScoredCandidate:
    """One candidate's true Dice and an estimator's prediction; ``group`` joins rivals for one structure."""

    case_id: str
    structure: str
    source: str
    family: str
    true_dice: float
    predicted_dice: float

    @property
    def group(self) -> tuple[str, str]:
        return (self.case_id, self.structure)


def evaluate(
    candidates: Sequence[ScoredCandidate], *, threshold: float = 0.7, flag_rate: float = 0.1
) -> dict:
    """MAE, Pearson, Spearman, AURC, AUROC(Dice < threshold), sensitivity at ``flag_rate``, Kendall tau of
    rankings within each structure, best-candidate selection gain, and the true-Dice distribution."""
    true = np.array([c.true_dice for c in candidates], dtype=float)
    predicted = np.array([c.predicted_dice for c in candidates], dtype=float)
    report = {
        "n": int(true.size),
        "true_dice": {
            "mean": _round(true.mean()) if true.size else None,
            "sd": _round(true.std(ddof=1)) if true.size > 1 else None,
            "share_below_threshold": _round((true < threshold).mean()) if true.size else None,
        },
    }
    if true.size < 3:
        return report
    bad = true < threshold
    report.update(
        mae=_round(np.abs(true - predicted).mean()),
        pearson=_round(stats.pearsonr(true, predicted).statistic) if np.ptp(predicted) > 0 else None,
        spearman=_round(stats.spearmanr(true, predicted).statistic) if np.ptp(predicted) > 0 else None,
        aurc=_round(aurc(true, predicted)),
        auroc_below_threshold=_round(auroc(bad, -predicted)) if 0 < bad.sum() < bad.size else None,
        sensitivity_at_flag_rate=_round(sensitivity_at_flag_rate(bad, predicted, rate=flag_rate))
        if bad.any()
        else None,
        flag_rate=flag_rate,
        threshold=threshold,
        flagged_below_threshold=_flagging(bad, predicted < threshold),
    )
    report.update(ranking_and_selection(candidates))
    return report


def aurc(true_dice: np.ndarray, predicted_dice: np.ndarray) -> float:
    """Area under the risk-coverage curve, risk = 1 - Dice, accepting the most confident cases first."""
    risk = 1.0 - true_dice[np.argsort(-predicted_dice, kind="stable")]
    return float((np.cumsum(risk) / np.arange(1, risk.size + 1)).mean())


def auroc(positive: np.ndarray, score: np.ndarray) -> float:
    """Probability that a positive scores above a negative (ties count half): Mann-Whitney U / (n1 n0)."""
    u = stats.mannwhitneyu(score[positive], score[~positive], alternative="two-sided").statistic
    return float(u / (positive.sum() * (~positive).sum()))


def sensitivity_at_flag_rate(bad: np.ndarray, predicted_dice: np.ndarray, *, rate: float) -> float:
    """Share of truly bad candidates among the ``rate`` fraction with the lowest predicted Dice."""
    flagged = np.argsort(predicted_dice, kind="stable")[: max(1, int(round(rate * predicted_dice.size)))]
    return float(bad[flagged].sum() / bad.sum())


def _flagging(bad: np.ndarray, flagged: np.ndarray) -> dict:
    """How ``flagged`` (predicted Dice below the threshold) matches truly bad candidates."""
    return {
        "share_flagged": _round(flagged.mean()),
        "precision": _round(bad[flagged].mean()) if flagged.any() else None,
        "recall": _round(flagged[bad].mean()) if bad.any() else None,
    }


def ranking_and_selection(candidates: Sequence[ScoredCandidate]) -> dict:
    """Within each (case, structure) with 3+ candidates: Kendall tau between predicted and true order, and
    the Dice gained by taking the predicted best over a random pick, against the oracle's gain."""
    groups: dict[tuple[str, str], list[ScoredCandidate]] = defaultdict(list)
    for candidate in candidates:
        groups[candidate.group].append(candidate)
    taus, gains, oracle_gains = [], [], []
    for members in groups.values():
        if len(members) < 3:
            continue
        true = np.array([m.true_dice for m in members])
        predicted = np.array([m.predicted_dice for m in members])
        if np.ptp(true) > 0 and np.ptp(predicted) > 0:
            taus.append(stats.kendalltau(true, predicted).statistic)
        gains.append(true[np.argmax(predicted)] - true.mean())
        oracle_gains.append(true.max() - true.mean())
    return {
        "groups_ranked": len(gains),
        "kendall_tau_mean": _round(np.mean(taus)) if taus else None,
        "selection_gain_mean": _round(np.mean(gains)) if gains else None,
        "oracle_selection_gain_mean": _round(np.mean(oracle_gains)) if oracle_gains else None,
    }


def save_plots(
    candidates: Sequence[ScoredCandidate], folder: str | Path, *, prefix: str, title: str
) -> list[Path]:
    """A predicted-vs-true scatter and a risk-coverage plot as PNG files; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    true = np.array([c.true_dice for c in candidates])
    predicted = np.array([c.predicted_dice for c in candidates])
    scatter_path, coverage_path = folder / f"{prefix}_scatter.png", folder / f"{prefix}_risk_coverage.png"
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.scatter(true, predicted, s=8, alpha=0.5)
    axes.plot([0, 1], [0, 1], color="grey", linewidth=1)
    axes.set(xlabel="true Dice", ylabel="predicted Dice", xlim=(0, 1.02), ylim=(0, 1.02), title=title)
    figure.tight_layout()
    figure.savefig(scatter_path, dpi=110)
    plt.close(figure)
    order = np.argsort(-predicted, kind="stable")
    risk = np.cumsum(1.0 - true[order]) / np.arange(1, true.size + 1)
    oracle = np.cumsum(np.sort(1.0 - true)) / np.arange(1, true.size + 1)
    coverage = np.arange(1, true.size + 1) / max(1, true.size)
    figure, axes = plt.subplots(figsize=(4.5, 3.5))
    axes.plot(coverage, risk, label="estimator")
    axes.plot(coverage, oracle, label="oracle", linestyle="--")
    axes.set(xlabel="coverage (share accepted)", ylabel="risk (mean 1 - Dice)", title=title)
    axes.legend()
    figure.tight_layout()
    figure.savefig(coverage_path, dpi=110)
    plt.close(figure)
    return [scatter_path, coverage_path]


def _round(value: float) -> float:
    return round(float(value), 4)
