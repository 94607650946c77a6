"""The report's figures, drawn with matplotlib (Agg) and returned as inline PNG data URIs."""

from __future__ import annotations

import base64
import io
from typing import Any, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .long_table import EXCLUDED_STATUSES, FAILURE_MODES, IMPUTED_STATUSES  # noqa: E402

_DPI = 90


def figure_uri(figure: plt.Figure) -> str:
    """Encode a figure as a ``data:image/png;base64`` URI and close it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def box_strip_plot(
    table: pd.DataFrame, *, structure: str, metrics: Sequence[str], models: Sequence[str]
) -> str:
    """Box plots with every case as a point, per model, one panel per metric; imputed points in red."""
    figure, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.2), squeeze=False)
    rows = table[(table["structure"] == structure) & ~table["status"].isin(EXCLUDED_STATUSES)]
    jitter = np.random.default_rng(0)
    for axis, metric in zip(axes[0], metrics):
        mine = rows[rows["metric"] == metric]
        series = [
            mine.loc[(mine["model"] == model) & mine["value"].notna(), ["value", "status"]]
            for model in models
        ]
        axis.boxplot([s["value"].to_numpy() for s in series], showfliers=False, widths=0.5)
        for position, points in enumerate(series, start=1):
            imputed = points["status"].isin(IMPUTED_STATUSES).to_numpy()
            x = position + jitter.uniform(-0.15, 0.15, len(points))
            axis.scatter(x[~imputed], points["value"].to_numpy()[~imputed], s=10, alpha=0.6, color="tab:blue")
            axis.scatter(x[imputed], points["value"].to_numpy()[imputed], s=14, marker="x", color="tab:red")
        axis.set_xticks(
            range(1, len(models) + 1), [str(m) for m in models], rotation=30, ha="right", fontsize=8
        )
        axis.set_title(metric, fontsize=9)
    figure.suptitle(structure, fontsize=9)
    figure.tight_layout()
    return figure_uri(figure)


def forest_plot(family: Mapping[str, Any]) -> str:
    """Paired mean differences (a - b) with confidence intervals; a star marks Holm-significant pairs."""
    pairs = family["pairwise"]
    figure, axis = plt.subplots(figsize=(5.5, 0.45 * len(pairs) + 1.0))
    for row, pair in enumerate(pairs):
        difference = pair["difference"]
        color = "tab:red" if pair["significant"] else "tab:gray"
        low, high = difference["low"], difference["high"]
        if low is not None and high is not None:
            axis.plot([low, high], [row, row], color=color, linewidth=2)
        axis.plot(difference["estimate"], row, "o", color=color)
    axis.axvline(0.0, color="black", linewidth=0.8)
    labels = [f"{p['model_a']} - {p['model_b']}{' *' if p['significant'] else ''}" for p in pairs]
    axis.set_yticks(range(len(pairs)), labels, fontsize=8)
    axis.invert_yaxis()
    better = "higher" if family["higher_is_better"] else "lower"
    axis.set_xlabel(f"mean paired difference in {family['metric']} ({better} is better)", fontsize=8)
    axis.set_title(f"{family['structure']}: {family['metric']}", fontsize=9)
    figure.tight_layout()
    return figure_uri(figure)


def rank_stability_plot(families: Sequence[Mapping[str, Any]], *, metric: str, models: Sequence[str]) -> str:
    """Per structure, each model's bootstrap rank interval (line), mean rank (blob, area ~ P(rank 1))."""
    ranked = [family for family in families if family["metric"] == metric and family["ranking"]]
    figure, axis = plt.subplots(figsize=(max(4.0, 1.1 * len(ranked) + 1.5), 3.4))
    colors = plt.get_cmap("tab10")
    width = 0.8 / max(1, len(models))
    for column, family in enumerate(ranked):
        for entry in family["ranking"]["models"]:
            index = list(models).index(entry["model"])
            x = column - 0.4 + width * (index + 0.5)
            axis.plot(
                [x, x], [entry["rank_low"], entry["rank_high"]], color=colors(index % 10), linewidth=1.5
            )
            axis.scatter(
                x, entry["mean_rank"], s=20 + 200 * entry["p_first"], color=colors(index % 10), alpha=0.8
            )
    for index, model in enumerate(models):
        axis.scatter([], [], color=colors(index % 10), label=str(model))
    axis.set_xticks(range(len(ranked)), [f["structure"] for f in ranked], rotation=30, ha="right", fontsize=8)
    axis.set_ylabel("rank (1 = best)", fontsize=8)
    axis.invert_yaxis()
    axis.set_title(
        f"rank stability: {metric} (line: rank interval, blob: mean rank, size: P(rank 1))", fontsize=9
    )
    axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.tight_layout()
    return figure_uri(figure)


def failure_mode_plot(failure_modes: Sequence[Mapping[str, Any]], *, models: Sequence[str]) -> str:
    """Failure-mode rates over all structures per model, with Wilson intervals."""
    pooled = {entry["model"]: entry for entry in failure_modes if entry["structure"] is None}
    figure, axis = plt.subplots(figsize=(6.5, 3.2))
    width = 0.8 / len(FAILURE_MODES)
    for offset, mode in enumerate(FAILURE_MODES):
        rates = [pooled[m]["modes"][mode] for m in models]
        x = np.arange(len(models)) - 0.4 + width * (offset + 0.5)
        estimates = np.array([r["estimate"] for r in rates])
        # Wilson bounds at a rate of 0 or 1 can sit a rounding error beyond the estimate.
        errors = np.clip(
            [[r["estimate"] - r["low"] for r in rates], [r["high"] - r["estimate"] for r in rates]], 0, None
        )
        axis.bar(x, estimates, width, yerr=errors, capsize=2, label=mode)
    axis.set_xticks(range(len(models)), [str(m) for m in models], rotation=30, ha="right", fontsize=8)
    axis.set_ylabel("rate over case x structure cells", fontsize=8)
    axis.set_title("failure modes (Wilson intervals)", fontsize=9)
    axis.legend(fontsize=7)
    figure.tight_layout()
    return figure_uri(figure)


def power_plot(families: Sequence[Mapping[str, Any]], *, metric: str) -> str:
    """Per structure: the leading pair's observed difference beside the smallest difference detectable now."""
    powered = [family for family in families if family["metric"] == metric and family["power"]]
    figure, axis = plt.subplots(figsize=(max(4.0, 0.9 * len(powered) + 2.0), 3.0))
    x = np.arange(len(powered))
    observed = [abs(family["power"]["mean_difference"]) for family in powered]
    detectable = [family["power"]["detectable_difference"] or 0.0 for family in powered]
    axis.bar(x - 0.2, observed, 0.4, label="observed |difference| of the leading pair")
    target = powered[0]["power"]["power"] if powered else 0.8
    axis.bar(x + 0.2, detectable, 0.4, label=f"detectable with {target:.0%} power at this N")
    axis.set_xticks(x, [f["structure"] for f in powered], rotation=30, ha="right", fontsize=8)
    axis.set_ylabel(metric, fontsize=8)
    axis.set_title(f"power: {metric}", fontsize=9)
    axis.legend(fontsize=7)
    figure.tight_layout()
    return figure_uri(figure)
