"""The analysis of a long score table: every number of results.json, computed by the stats package.

Per (structure, metric) family, the rows are the cases every model has a value for (both_empty cells
have none; they count toward detection instead). Failed or missing cells without a value take the
worst value observed in the family (a table from elsewhere may leave them blank). Contaminated models
are estimated beside the others but kept out of ranking, pairwise tests and power. Interval ends are
clipped to the metric's natural range (``value_ranges``), with the values before clipping recorded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import stats
from .config import AnalysisSettings
from .errors import ScoreTableError
from .long_table import (
    EXCLUDED_STATUSES,
    FAILURE_MODES,
    IMPUTED_STATUSES,
    UNMEASURED_STATUSES,
    metadata_columns,
)
from .model_cards import contamination_decisions
from .scoring import FAILED, MISSING_PRED
from .value_ranges import ValueRange, clip_interval, difference_range, table_value_ranges

# Metadata columns with more distinct values than this are identifiers, not slices.
MAX_SLICE_VALUES = 12


def analyze_table(table: pd.DataFrame, settings: AnalysisSettings) -> dict[str, Any]:
    """All statistics of a checked long table (``long_table.check_long_table``) as a JSON-ready dict."""
    absent = [metric for metric in settings.metrics if metric not in set(table["metric"])]
    if absent:
        raise ScoreTableError(
            f"metric '{absent[0]}' is not in the score table (it holds {', '.join(_unique(table['metric']))})"
        )
    models = _unique(table["model"])
    structures = _unique(table["structure"])
    decisions = contamination_decisions(models, settings.cards_by_model, dataset_name=settings.dataset_name)
    excluded = {decision.model for decision in decisions if decision.contaminated}
    cells = table.drop_duplicates(subset=["case_id", "model", "structure"])
    value_ranges = table_value_ranges(table, settings.metrics)
    families = [
        _analyze_family(
            table,
            structure,
            metric,
            models=models,
            excluded=excluded,
            settings=settings,
            value_range=value_ranges[metric],
        )
        for structure in structures
        for metric in settings.metrics
    ]
    return {
        "n_cases": int(table["case_id"].nunique()),
        "n_patients": int(table["patient_id"].nunique()),
        "models": models,
        "ranked_models": [model for model in models if model not in excluded],
        "structures": structures,
        "metrics": list(settings.metrics),
        "value_ranges": {
            metric: None if bounds is None else list(bounds) for metric, bounds in value_ranges.items()
        },
        "contamination": [
            {"model": d.model, "contaminated": d.contaminated, "reason": d.reason} for d in decisions
        ],
        "status_counts": _status_counts(cells, models),
        "imputation": _imputation_counts(cells, models, structures),
        "families": families,
        "failure_modes": _failure_modes(cells, models, structures, level=settings.confidence_level),
        "slices": _slices(
            table, models=models, structures=structures, settings=settings, value_ranges=value_ranges
        ),
        "worst_cases": _worst_cases(table, models=models, settings=settings),
    }


def family_values(
    table: pd.DataFrame, structure: str, metric: str, *, models: list[str], higher_is_better: bool
) -> pd.DataFrame:
    """The (case x model) value table of one family with policy imputation and exclusions applied.

    Columns are ``models`` plus ``patient_id``; rows are cases where every model has a value.
    """
    rows = table[(table["structure"] == structure) & (table["metric"] == metric)]
    values = rows["value"].where(~rows["status"].isin(EXCLUDED_STATUSES))
    unmeasured = rows["status"].isin(UNMEASURED_STATUSES) & values.isna()
    if unmeasured.any():
        finite = values[np.isfinite(values)]
        worst = finite.min() if higher_is_better else finite.max()
        values = values.where(~unmeasured, worst)
    wide = rows.assign(value=values).pivot(index="case_id", columns="model", values="value")
    wide = wide.reindex(columns=models).dropna(how="any")
    patients = rows.drop_duplicates("case_id").set_index("case_id")["patient_id"]
    return wide.assign(patient_id=patients.reindex(wide.index).to_numpy())


def _analyze_family(
    table: pd.DataFrame,
    structure: str,
    metric: str,
    *,
    models: list[str],
    excluded: set[str],
    settings: AnalysisSettings,
    value_range: ValueRange | None,
) -> dict[str, Any]:
    higher_is_better = settings.higher_is_better(metric)
    wide = family_values(table, structure, metric, models=models, higher_is_better=higher_is_better)
    n_cases_total = int(
        table.loc[(table["structure"] == structure) & (table["metric"] == metric), "case_id"].nunique()
    )
    family: dict[str, Any] = {
        "structure": structure,
        "metric": metric,
        "higher_is_better": higher_is_better,
        "n_cases": len(wide),
        "n_patients": int(wide["patient_id"].nunique()),
        "n_cases_without_value": n_cases_total - len(wide),
        "estimates": [],
        "ranking": None,
        "sensitivity": None,
        "pairwise": [],
        "power": None,
        "note": "",
    }
    values = wide[models].to_numpy(dtype=float)
    patient_ids = wide["patient_id"].to_numpy()
    if family["n_patients"] < 2:
        family["note"] = (
            f"{family['n_patients']} patient(s) with values: descriptive only, no intervals or tests"
        )
        for index, model in enumerate(models):
            column = values[:, index]
            family["estimates"].append(
                {
                    "model": model,
                    "contaminated": model in excluded,
                    "mean": _bare(float(column.mean()) if len(column) else None, settings, len(column)),
                    "median": _bare(float(np.median(column)) if len(column) else None, settings, len(column)),
                }
            )
        return family
    # One patient resample matrix for every statistic of the family, so all of them are paired.
    resamples = stats.resample_patients(
        family["n_patients"], n_resamples=settings.n_resamples, seed=settings.seed
    )
    options = {"patient_ids": patient_ids, "level": settings.confidence_level, "resamples": resamples}
    means = stats.mean_intervals(values, **options)
    medians = stats.median_intervals(values, **options)
    for index, model in enumerate(models):
        family["estimates"].append(
            {
                "model": model,
                "contaminated": model in excluded,
                "mean": clip_interval(means[index].as_dict(), value_range),
                "median": clip_interval(medians[index].as_dict(), value_range),
            }
        )
    ranked = [model for model in models if model not in excluded]
    if len(ranked) < 2:
        family["note"] = f"{len(ranked)} uncontaminated model(s): no ranking or tests"
        return family
    ranked_values = wide[ranked].to_numpy(dtype=float)
    direction = {"model_names": ranked, "higher_is_better": higher_is_better}
    family["ranking"] = stats.rank_models(ranked_values, **direction, **options).as_dict()
    family["sensitivity"] = stats.ranking_sensitivity(
        ranked_values, **direction, level=settings.confidence_level, patient_ids=patient_ids
    ).as_dict()
    comparisons = stats.compare_models(
        ranked_values, **direction, equivalence_margin=settings.equivalence_margin(metric), **options
    )
    family["pairwise"] = [
        {**pair, "difference": clip_interval(pair["difference"], difference_range(value_range))}
        for pair in (comparison.as_dict() for comparison in comparisons)
    ]
    try:
        family["power"] = stats.leading_pair_power(
            ranked_values,
            **direction,
            alpha=round(1.0 - settings.confidence_level, 12),
            patient_ids=patient_ids,
        ).as_dict()
    except (stats.StatsInputError, ValueError) as error:
        # Kept visible: the rest of the family stands, the report says why power is missing.
        family["note"] = f"power analysis not available: {error}"
    return family


def _bare(estimate: float | None, settings: AnalysisSettings, n: int) -> dict[str, Any]:
    """A point estimate without an interval, shaped like a clipped ``stats.Interval.as_dict()``."""
    return {
        "estimate": estimate,
        "low": None,
        "high": None,
        "level": settings.confidence_level,
        "method": "none",
        "n": n,
        "clipped": {},
    }


def _status_counts(cells: pd.DataFrame, models: list[str]) -> dict[str, dict[str, int]]:
    counts = cells.groupby(["model", "status"]).size()
    return {
        model: {status: int(n) for status, n in counts[model].items()} if model in counts else {}
        for model in models
    }


def _imputation_counts(cells: pd.DataFrame, models: list[str], structures: list[str]) -> dict[str, Any]:
    """Per model (and per model x structure): cells whose values are policy values, not measurements."""
    imputed = cells["status"].isin(IMPUTED_STATUSES)
    per_model = {}
    for model in models:
        mine = cells["model"] == model
        by_structure = {
            structure: int((imputed & mine & (cells["structure"] == structure)).sum())
            for structure in structures
        }
        per_model[model] = {
            "imputed_cells": int((imputed & mine).sum()),
            "cells": int(mine.sum()),
            "by_status": {
                status: int((mine & (cells["status"] == status)).sum()) for status in IMPUTED_STATUSES
            },
            "by_structure": by_structure,
        }
    return per_model


def _failure_modes(
    cells: pd.DataFrame, models: list[str], structures: list[str], *, level: float
) -> list[dict[str, Any]]:
    """Failure and failure-mode rates with Wilson intervals, per model over all structures and per structure."""
    failed = (cells["failure_mode"] != "") | cells["status"].isin((FAILED, MISSING_PRED))
    entries = []
    for structure in [None, *structures]:
        for model in models:
            mine = (cells["model"] == model) & (
                True if structure is None else cells["structure"] == structure
            )
            total = int(mine.sum())
            if total == 0:
                continue
            entries.append(
                {
                    "structure": structure,
                    "model": model,
                    "cells": total,
                    "failure_rate": stats.rate_interval(
                        int((failed & mine).sum()), total, level=level
                    ).as_dict(),
                    "modes": {
                        mode: stats.rate_interval(
                            int((mine & (cells["failure_mode"] == mode)).sum()), total, level=level
                        ).as_dict()
                        for mode in FAILURE_MODES
                    },
                }
            )
    return entries


def _slices(
    table: pd.DataFrame,
    *,
    models: list[str],
    structures: list[str],
    settings: AnalysisSettings,
    value_ranges: dict[str, ValueRange | None],
) -> list[dict[str, Any]]:
    """Per-model mean intervals within each value of every metadata column, per structure and metric."""
    entries = []
    options = {"level": settings.confidence_level, "n_resamples": settings.n_resamples, "seed": settings.seed}
    for column in metadata_columns(table):
        groups = _unique(table[column])
        if not 2 <= len(groups) <= MAX_SLICE_VALUES:
            continue
        for group in groups:
            subset = table[table[column] == group]
            for structure in structures:
                for metric in settings.metrics:
                    wide = family_values(
                        subset,
                        structure,
                        metric,
                        models=models,
                        higher_is_better=settings.higher_is_better(metric),
                    )
                    entry = {
                        "column": column,
                        "value": group,
                        "structure": structure,
                        "metric": metric,
                        "n_cases": len(wide),
                        "n_patients": int(wide["patient_id"].nunique()),
                        "estimates": [],
                    }
                    values = wide[models].to_numpy(dtype=float)
                    if entry["n_patients"] >= 2:
                        means = stats.mean_intervals(
                            values, patient_ids=wide["patient_id"].to_numpy(), **options
                        )
                        entry["estimates"] = [
                            {"model": m, "mean": clip_interval(i.as_dict(), value_ranges[metric])}
                            for m, i in zip(models, means)
                        ]
                    else:
                        entry["estimates"] = [
                            {
                                "model": m,
                                "mean": _bare(
                                    float(values[:, j].mean()) if len(values) else None, settings, len(values)
                                ),
                            }
                            for j, m in enumerate(models)
                        ]
                    entries.append(entry)
    return entries


def _worst_cases(
    table: pd.DataFrame, *, models: list[str], settings: AnalysisSettings
) -> dict[str, list[dict[str, Any]]]:
    """The ``worst_k`` (case, structure) cells per model on the first analysed metric, worst first."""
    metric = settings.metrics[0]
    rows = table[(table["metric"] == metric) & ~table["status"].isin(EXCLUDED_STATUSES)]
    ascending = settings.higher_is_better(metric)
    worst = {}
    for model in models:
        mine = rows[rows["model"] == model].sort_values(
            ["value", "case_id", "structure"],
            ascending=[ascending, True, True],
            na_position="first",
            kind="stable",
        )
        worst[model] = [
            {
                "case_id": row.case_id,
                "patient_id": row.patient_id,
                "structure": row.structure,
                "metric": metric,
                "value": None if pd.isna(row.value) else float(row.value),
                "status": row.status,
                "failure_mode": row.failure_mode,
            }
            for row in mine.head(settings.worst_k).itertuples(index=False)
        ]
    return worst


def _unique(column: pd.Series) -> list[str]:
    return list(dict.fromkeys(column.tolist()))
