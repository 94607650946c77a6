"""The overall leaderboard: one score per case and model across structures, ranked like a family.

Overall score of a case for a model = the mean of the primary metric (the first analysed metric) over the
leaderboard structures that have a value in that case for that model (after the same exclusion and
worst-value rules as the families). Leaderboard structures are those every ranked model segments. Each
structure weighs the same in every case, whatever its size: a macro average, as challenges report it.
The case scores then get the family treatment: the primary statistic's interval per model, the bootstrap
ranking with P(rank 1), rank intervals and tied leaders (rank interval contains 1).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import pandas as pd

from .. import stats
from .config import AnalysisSettings
from .families import METRIC_UNITS, family_rows
from .resolve import supported_models
from .value_ranges import ValueRange, clip_interval


def overall_leaderboard(
    table: pd.DataFrame,
    *,
    models: list[str],
    ranked_models: list[str],
    structures: list[str],
    settings: AnalysisSettings,
    value_range: Optional[ValueRange],
) -> dict[str, Any]:
    """The leaderboard record of results.json (``analysis.leaderboard``)."""
    metric = settings.metrics[0]
    higher_is_better = settings.higher_is_better(metric)
    rows = table[table["metric"] == metric]
    by_structure = dict(tuple(rows.groupby("structure", sort=False)))
    used = [
        structure
        for structure in structures
        if structure in by_structure
        and set(ranked_models) <= set(supported_models(by_structure[structure], structure, models))
    ]
    leaderboard: dict[str, Any] = {
        "metric": metric,
        "unit": METRIC_UNITS.get(metric, ""),
        "higher_is_better": higher_is_better,
        "statistic": settings.statistic,
        "structures": used,
        "definition": (
            f"per case, the mean {metric} over the {len(used)} structures every ranked model segments, "
            "each structure weighing the same; cells without a value (both empty, not evaluable) left out"
        ),
        "n_cases": 0,
        "n_patients": 0,
        "estimates": [],
        "ranking": None,
        "note": "",
    }
    if not used or len(ranked_models) < 1:
        leaderboard["note"] = "no structure is segmented by every ranked model: no overall leaderboard"
        return leaderboard
    scored = pd.concat(
        [
            by_structure[structure].assign(
                value=family_rows(by_structure[structure], higher_is_better=higher_is_better)
            )
            for structure in used
        ]
    )
    case_scores = scored.groupby(["case_id", "model"], sort=False)["value"].mean().unstack("model")
    case_scores = case_scores.reindex(columns=ranked_models)
    if settings.missing.alignment == "complete_cases":
        case_scores = case_scores.dropna(how="any")
    else:
        case_scores = case_scores.dropna(how="all")
    patients = rows.drop_duplicates("case_id").set_index("case_id")["patient_id"]
    patient_ids = patients.reindex(case_scores.index).to_numpy()
    values = case_scores.to_numpy(dtype=float)
    leaderboard["n_cases"] = len(case_scores)
    leaderboard["n_patients"] = int(pd.Series(patient_ids).nunique())
    enough = leaderboard["n_patients"] >= 2 and all(
        pd.Series(patient_ids[np.isfinite(values[:, j])]).nunique() >= 2 for j in range(values.shape[1])
    )
    if not enough:
        leaderboard["note"] = (
            f"{leaderboard['n_patients']} patient(s): the overall scores have no intervals or ranks"
        )
        leaderboard["estimates"] = [
            {
                "model": model,
                "score": {"estimate": _mean(values[:, j]), "low": None, "high": None, "method": "none"},
            }
            for j, model in enumerate(ranked_models)
        ]
        return leaderboard
    options = {
        "patient_ids": patient_ids,
        "level": settings.confidence_level,
        "resamples": stats.resample_patients(
            leaderboard["n_patients"], n_resamples=settings.n_resamples, seed=settings.seed
        ),
        "allow_missing": True,
    }
    if settings.statistic == "mean":
        intervals = stats.mean_intervals(values, skewed=settings.skewed(metric), **options)
    else:
        intervals = stats.median_intervals(values, **options)
    leaderboard["estimates"] = [
        {"model": model, "score": clip_interval(interval.as_dict(), value_range)}
        for model, interval in zip(ranked_models, intervals)
    ]
    if len(ranked_models) >= 2:
        leaderboard["ranking"] = stats.rank_models(
            values,
            model_names=ranked_models,
            higher_is_better=higher_is_better,
            statistic=settings.statistic,
            **options,
        ).as_dict()
    return leaderboard


def _mean(column: np.ndarray) -> Optional[float]:
    present = column[np.isfinite(column)]
    return float(present.mean()) if present.size else None
