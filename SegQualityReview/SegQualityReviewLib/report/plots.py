"""The report's figures, drawn with matplotlib (Agg) and returned as inline PNG data URIs.

Every user string (model, structure and case names) is drawn as literal text: mathtext is off for all
figures, so a name with two ``$`` is not TeX and ``m$\\notacmd{$x`` cannot crash the report. Colours are
the Okabe-Ito palette and cividis, both readable with colour-blind vision. PNGs are quantised to an
adaptive 256-colour palette, which keeps a 19-model report within its size budget.
"""

from __future__ import annotations

import base64
import io
from typing import Any, Mapping, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

from ..batch.long_table import EXCLUDED_STATUSES, FAILURE_MODES, IMPUTED_STATUSES  # noqa: E402

_DPI = 80
# Okabe & Ito (2008), "Color universal design": distinguishable with every common colour-vision deficiency.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MEASURED_COLOR = "#0072B2"
IMPUTED_COLOR = "#D55E00"
LITERAL_TEXT = {"text.parse_math": False, "text.usetex": False, "font.size": 8}


def figure_uri(figure: plt.Figure) -> str:
    """Encode a figure as a palette ``data:image/png;base64`` URI and close it."""
    buffer = io.BytesIO()
    with plt.rc_context(LITERAL_TEXT):
        figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    plt.close(figure)
    buffer.seek(0)
    image = Image.open(buffer).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    packed = io.BytesIO()
    image.save(packed, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(packed.getvalue()).decode("ascii")


def new_figure(width: float, height: float, **options: Any) -> tuple[plt.Figure, Any]:
    """A figure whose text is literal (no mathtext), for every plot of the report."""
    with plt.rc_context(LITERAL_TEXT):
        return plt.subplots(figsize=(width, height), **options)


def rank_blob_plot(ranking: Mapping[str, Any], *, title: str) -> str:
    """challengeR's blob plot: per model (in rank order) a blob at each rank, area = share of bootstrap
    resamples giving that rank; the observed rank as a cross, the rank interval as a line."""
    entries = ranking["models"]
    n_models = len(entries)
    figure, axis = new_figure(max(4.0, 0.32 * n_models + 1.5), max(2.6, 0.22 * n_models + 1.2))
    with plt.rc_context(LITERAL_TEXT):
        shares = np.array([entry["rank_distribution"] for entry in entries])
        xs, ranks = np.nonzero(shares > 0)
        axis.scatter(xs, ranks + 1, s=400 * shares[xs, ranks], color=MEASURED_COLOR, alpha=0.6, linewidths=0)
        axis.vlines(
            range(n_models),
            [e["rank_low"] for e in entries],
            [e["rank_high"] for e in entries],
            color="#555555",
            linewidth=1,
        )
        axis.scatter(
            range(n_models), [e["rank"] for e in entries], marker="x", color="black", s=20, linewidths=1
        )
        axis.set_xticks(range(n_models), [str(entry["model"]) for entry in entries], rotation=45, ha="right")
        axis.set_yticks(range(1, n_models + 1))
        axis.set_ylim(n_models + 0.7, 0.3)
        axis.set_ylabel("rank (1 = best)")
        axis.set_title(title)
        axis.grid(axis="y", color="#eeeeee", linewidth=0.6)
        figure.tight_layout()
    return figure_uri(figure)


def paired_plot(
    table: pd.DataFrame, *, structure: str, metric: str, first: str, second: str, label: str
) -> Optional[str]:
    """Every case's value for the leading pair, one axis each, with the line of equal values."""
    rows = table[(table["structure"] == structure) & (table["metric"] == metric)]
    rows = rows[~rows["status"].isin(EXCLUDED_STATUSES) & rows["value"].notna()]
    wide = rows.pivot(index="case_id", columns="model", values="value")
    if first not in wide or second not in wide:
        return None
    pair = wide[[first, second]].dropna()
    if pair.empty:
        return None
    imputed_cells = rows[rows["status"].isin(IMPUTED_STATUSES)].groupby("case_id")["model"].agg(set)
    imputed = pair.index.map(lambda case: bool(imputed_cells.get(case, set()) & {first, second}))
    figure, axis = new_figure(3.4, 3.2)
    with plt.rc_context(LITERAL_TEXT):
        x, y = pair[second].to_numpy(), pair[first].to_numpy()
        axis.scatter(
            x[~imputed], y[~imputed], s=9, color=MEASURED_COLOR, alpha=0.6, linewidths=0, label="measured"
        )
        if imputed.any():
            axis.scatter(
                x[imputed], y[imputed], s=14, marker="x", color=IMPUTED_COLOR, label="a value imputed"
            )
        low, high = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        axis.plot([low, high], [low, high], color="#777777", linewidth=0.8, linestyle="--", label="equal")
        axis.set_xlabel(f"{second}: {label}")
        axis.set_ylabel(f"{first}: {label}")
        axis.set_title(f"{structure}: each case, leading pair", fontsize=8)
        axis.legend(fontsize=6, loc="best")
        figure.tight_layout()
    return figure_uri(figure)


def distribution_plot(
    table: pd.DataFrame,
    *,
    structure: str,
    metrics: Sequence[str],
    labels: Mapping[str, str],
    models: Sequence[str],
    capped: Mapping[str, bool],
) -> str:
    """Per metric, a box and strip of every model's cases (models top to bottom in rank order).

    For a distance (``capped``), cells imputed at the cap (an empty or missing prediction: the image
    diagonal) are not drawn on the axis of the measured values, which they would flatten; a narrow panel
    beside it counts them per model instead. For a bounded metric imputed values are crosses in place.
    """
    rows = table[(table["structure"] == structure) & ~table["status"].isin(EXCLUDED_STATUSES)]
    n_models = len(models)
    height = max(1.6, 0.22 * n_models + 0.9)
    ratios: list[float] = []
    for metric in metrics:
        ratios += [4.0, 0.9] if capped[metric] else [4.0]
    figure, axes = new_figure(
        2.9 * len(metrics) + 0.6,
        height,
        ncols=len(ratios),
        squeeze=False,
        gridspec_kw={"width_ratios": ratios},
    )
    jitter = np.random.default_rng(0)
    column = 0
    positions = {model: position for position, model in enumerate(models)}
    with plt.rc_context(LITERAL_TEXT):
        for metric in metrics:
            axis = axes[0][column]
            mine = rows[(rows["metric"] == metric) & rows["value"].notna() & rows["model"].isin(positions)]
            imputed = mine["status"].isin(IMPUTED_STATUSES).to_numpy()
            values = mine["value"].to_numpy(dtype=float)
            y = mine["model"].map(positions).to_numpy(dtype=float)
            boxed = ~imputed if capped[metric] else np.ones(values.size, dtype=bool)
            groups = [values[boxed & (y == position)] for position in range(n_models)]
            shown = [position for position, group in enumerate(groups) if group.size]
            if shown:
                _horizontal_box(axis, [groups[position] for position in shown], shown)
            scatter_y = y + jitter.uniform(-0.2, 0.2, values.size)
            axis.scatter(
                values[~imputed], scatter_y[~imputed], s=4, color=MEASURED_COLOR, alpha=0.45, linewidths=0
            )
            if not capped[metric] and imputed.any():
                axis.scatter(
                    values[imputed], scatter_y[imputed], s=12, marker="x", color=IMPUTED_COLOR, linewidths=0.8
                )
            axis.set_yticks(
                range(n_models), [str(model) for model in models] if column == 0 else [""] * n_models
            )
            axis.set_ylim(n_models - 0.5, -0.5)
            axis.set_xlabel(labels[metric])
            axis.grid(axis="x", color="#eeeeee", linewidth=0.6)
            column += 1
            if capped[metric]:
                side = axes[0][column]
                counts = np.bincount(y[imputed].astype(int), minlength=n_models)
                for position, count in enumerate(counts):
                    if count:
                        side.scatter([0.5], [position], s=14, marker="x", color=IMPUTED_COLOR)
                        side.text(0.75, position, str(count), va="center", fontsize=7)
                side.set_xlim(0, 1.6)
                side.set_ylim(n_models - 0.5, -0.5)
                side.set_xticks([])
                side.set_yticks(range(n_models), [""] * n_models)
                cap = values[imputed]
                cap_text = f"~{np.median(cap):.0f}" if cap.size else "none"
                side.set_xlabel(f"imputed at\nthe cap ({cap_text})", fontsize=6)
                column += 1
        figure.suptitle(f"{structure}: every case (x: imputed value)", fontsize=8)
        figure.tight_layout()
    return figure_uri(figure)


def _horizontal_box(axis, groups: list[np.ndarray], positions: list[int]) -> None:
    """Horizontal boxes without fliers, one call (``orientation`` from matplotlib 3.10, ``vert`` before)."""
    options = {"positions": positions, "widths": 0.6, "showfliers": False, "manage_ticks": False}
    try:
        axis.boxplot(groups, orientation="horizontal", **options)
    except TypeError:
        axis.boxplot(groups, vert=False, **options)


def failure_mode_plot(failure_modes: Sequence[Mapping[str, Any]], *, models: Sequence[str]) -> str:
    """Failure-mode rates over all structures per model, with Wilson intervals."""
    pooled = {entry["model"]: entry for entry in failure_modes if entry["structure"] is None}
    shown = [model for model in models if model in pooled]
    figure, axis = new_figure(max(5.0, 0.45 * len(shown) + 2.5), 3.0)
    width = 0.8 / len(FAILURE_MODES)
    with plt.rc_context(LITERAL_TEXT):
        for offset, mode in enumerate(FAILURE_MODES):
            rates = [pooled[model]["modes"][mode] for model in shown]
            x = np.arange(len(shown)) - 0.4 + width * (offset + 0.5)
            estimates = np.array([rate["estimate"] for rate in rates])
            errors = np.array(
                [
                    [rate["estimate"] - rate["low"] for rate in rates],
                    [rate["high"] - rate["estimate"] for rate in rates],
                ]
            )
            axis.bar(
                x,
                estimates,
                width,
                yerr=errors,
                capsize=1.5,
                label=mode.replace("_", " "),
                color=OKABE_ITO[offset],
            )
        axis.set_xticks(range(len(shown)), [str(model) for model in shown], rotation=40, ha="right")
        axis.set_ylabel("share of case x structure cells")
        axis.set_title("failure modes (95% Wilson intervals)")
        axis.legend(fontsize=6, ncols=3)
        figure.tight_layout()
    return figure_uri(figure)
