"""The analysis of a long score table: every number of results.json, computed by the stats package.

Order matters and is fixed: resolve the missing-data policy and the model cards (``resolve``), run the
label-mapping spot-check (``spot_checks``), then per (structure, metric) family the pre-specified primary
analysis (``families``), the multiplicity decision over the configured scope, the overall leaderboard
(``leaderboard``), subgroups (``subgroups``), failure modes and worst cases. Contaminated models are
estimated beside the others but kept out of ranking, pairwise tests and power. Interval ends are clipped to
the metric's natural range (``value_ranges``), with the values before clipping recorded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import stats
from .config import AnalysisSettings
from .errors import ScoreTableError
from .families import METRIC_UNITS, PendingFamily, analyze_family, finish_pairwise
from .leaderboard import overall_leaderboard
from .long_table import EXCLUDED_STATUSES, FAILURE_MODES, IMPUTED_STATUSES
from .model_cards import contamination_decisions
from .resolve import resolve_table
from .scoring import FAILED, MISSING_PRED
from .spot_checks import label_mapping_checks
from .subgroups import subgroup_analysis
from .value_ranges import table_value_ranges

MULTIPLICITY_LABELS = {
    "family": "holm within the structure-metric family",
    "all": "holm across every family of the study",
}


def analyze_table(
    table: pd.DataFrame, settings: AnalysisSettings, *, source: str = "the score table"
) -> dict[str, Any]:
    """All statistics of a checked long table (``long_table.check_long_table``) as a JSON-ready dict."""
    present = _unique(table["metric"])
    absent = [metric for metric in settings.metrics if metric not in set(present)]
    if absent:
        raise ScoreTableError(
            f"metric '{absent[0]}' is not in the score table (it holds {', '.join(present)})"
        )
    resolved = resolve_table(table, missing=settings.missing, cards=settings.cards_by_model, source=source)
    table = resolved.table
    models = _unique(table["model"])
    structures = _unique(table["structure"])
    decisions = contamination_decisions(models, settings.cards_by_model, dataset_name=settings.dataset_name)
    excluded = {decision.model for decision in decisions if decision.contaminated}
    ranked_models = [model for model in models if model not in excluded]
    cells = table.drop_duplicates(subset=["case_id", "model", "structure"])
    value_ranges = table_value_ranges(table, settings.metrics)
    spot_checks = label_mapping_checks(table, models=models)
    by_family = dict(tuple(table.groupby(["structure", "metric"], sort=False)))
    pending = [
        analyze_family(
            by_family[(structure, metric)],
            structure=structure,
            metric=metric,
            models=models,
            excluded=excluded,
            settings=settings,
            value_range=value_ranges[metric],
        )
        for structure in structures
        for metric in settings.metrics
        if (structure, metric) in by_family
    ]
    families = _decide_pairwise(pending, settings)
    alpha = round(1.0 - settings.confidence_level, 12)
    return {
        "n_cases": int(table["case_id"].nunique()),
        "n_patients": int(table["patient_id"].nunique()),
        "models": models,
        "ranked_models": ranked_models,
        "structures": structures,
        "metrics": list(settings.metrics),
        "metrics_not_analysed": [metric for metric in present if metric not in settings.metrics],
        "metric_units": {metric: METRIC_UNITS.get(metric, "") for metric in settings.metrics},
        "primary": {
            "statistic": settings.statistic,
            "test": settings.primary_test,
            "multiplicity": settings.multiplicity,
            "multiplicity_label": MULTIPLICITY_LABELS[settings.multiplicity],
            "alpha": alpha,
            "level": settings.confidence_level,
            "equivalence_margins": dict(settings.equivalence_margins),
            "alignment": settings.missing.alignment,
            "skewed_metrics": [metric for metric in settings.metrics if settings.skewed(metric)],
        },
        "value_ranges": {
            metric: None if bounds is None else list(bounds) for metric, bounds in value_ranges.items()
        },
        "contamination": [
            {"model": d.model, "contaminated": d.contaminated, "reason": d.reason} for d in decisions
        ],
        "missing_data": resolved.counts,
        "spot_checks": spot_checks,
        "status_counts": _status_counts(cells, models),
        "imputation": _imputation_counts(cells, models, structures),
        "leaderboard": overall_leaderboard(
            table,
            models=models,
            ranked_models=ranked_models,
            structures=structures,
            settings=settings,
            value_range=value_ranges[settings.metrics[0]],
        ),
        "families": families,
        "failure_modes": _failure_modes(cells, models, structures, level=settings.confidence_level),
        "subgroups": subgroup_analysis(
            table, families=families, settings=settings, value_ranges=value_ranges
        ),
        "worst_cases": _worst_cases(table, models=models, settings=settings),
    }


def _decide_pairwise(pending: list[PendingFamily], settings: AnalysisSettings) -> list[dict[str, Any]]:
    """Holm over each family or over all of them (``settings.multiplicity``), then every family's pairs."""
    alpha = 1.0 - settings.confidence_level
    label = MULTIPLICITY_LABELS[settings.multiplicity]
    tested = [entry for entry in pending if entry.tests is not None]
    decisions: dict[int, stats.HolmDecision] = {}
    if settings.multiplicity == "family":
        decisions = {id(entry): stats.holm_decision(entry.tests.p_values, alpha=alpha) for entry in tested}
    elif tested:
        joint = stats.holm_decision(np.concatenate([entry.tests.p_values for entry in tested]), alpha=alpha)
        start = 0
        for entry in tested:
            stop = start + entry.tests.p_values.size
            decisions[id(entry)] = stats.HolmDecision(
                adjusted=joint.adjusted[start:stop],
                rejected=joint.rejected[start:stop],
                interval_alphas=joint.interval_alphas[start:stop],
                n_tests=joint.n_tests,
            )
            start = stop
    families = []
    for entry in pending:
        if id(entry) not in decisions:
            families.append(entry.family)
            continue
        decision = decisions[id(entry)]
        family = finish_pairwise(entry, decision, multiplicity=label)
        threshold = alpha / decision.n_tests
        if entry.tests.smallest_p > threshold:
            # Said where it applies: no pair can be called different, whatever the data, at this resolution.
            remedy = (
                f"more patients, or n_resamples of at least {int(np.ceil(decision.n_tests / alpha))}"
                if entry.tests.test == "permutation" and not entry.tests.exact
                else "more patients"
            )
            family["resolution_note"] = (
                f"the smallest p-value the primary test can reach here is {entry.tests.smallest_p:.2g}, above "
                f"Holm's first threshold {alpha:g}/{decision.n_tests} = {threshold:.2g}: no pair can be called "
                f"different ({remedy})"
            )
        families.append(family)
    return families


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
    # Cells with nothing to measure by nature, or for a structure the model does not segment, are no trials.
    cells = cells[~cells["status"].isin(("not_evaluable", "not_supported"))]
    flags = pd.DataFrame(
        {
            "model": cells["model"],
            "structure": cells["structure"],
            "failed": (cells["failure_mode"] != "") | cells["status"].isin((FAILED, MISSING_PRED)),
            **{mode: cells["failure_mode"] == mode for mode in FAILURE_MODES},
        }
    )
    columns = ["failed", *FAILURE_MODES]
    pooled = flags.groupby("model", sort=False)[columns].agg(["sum", "count"])
    per_structure = flags.groupby(["structure", "model"], sort=False)[columns].agg(["sum", "count"])
    keys = [(None, model) for model in models if model in pooled.index] + [
        (structure, model)
        for structure in structures
        for model in models
        if (structure, model) in per_structure.index
    ]
    if not keys:
        return []
    counts = np.array(
        [
            (pooled.loc[model] if structure is None else per_structure.loc[(structure, model)])
            .xs("sum", level=1)
            .to_numpy(dtype=np.int64)
            for structure, model in keys
        ]
    )
    totals = np.array(
        [
            int(pooled.loc[model, ("failed", "count")])
            if structure is None
            else int(per_structure.loc[(structure, model), ("failed", "count")])
            for structure, model in keys
        ]
    )
    rates = stats.rate_intervals(counts.ravel(), np.repeat(totals, len(columns)), level=level)
    entries = []
    for index, (structure, model) in enumerate(keys):
        mine = rates[index * len(columns) : (index + 1) * len(columns)]
        entries.append(
            {
                "structure": structure,
                "model": model,
                "cells": int(totals[index]),
                "failure_rate": mine[0].as_dict(),
                "modes": {mode: rate.as_dict() for mode, rate in zip(FAILURE_MODES, mine[1:])},
            }
        )
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
