"""One (structure, metric) family: its case x model values and the pre-specified primary analysis on them.

The rows of a family are cases; a cell without a value (``both_empty``, ``not_evaluable``,
``not_supported``) is missing there. ``failed``/``missing_pred`` cells without a value take the worst value
observed in the family. With ``complete_cases`` alignment the family keeps the cases where every ranked
model has a value; with ``per_pair`` it keeps every case, and each model (and each pair) uses its own.
Models whose every cell of the structure is ``not_supported`` do not compete on it. Contaminated models are
estimated beside the others but kept out of ranking, tests and power.

The pairwise verdicts need a Holm decision that may span every family (``multiplicity: all``), so a family
is analysed in two steps: ``analyze_family`` does everything else and returns the pending tests, and
``finish_pairwise`` turns them into comparisons once the decision is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import pandas as pd

from .. import stats
from .config import AnalysisSettings
from .long_table import EXCLUDED_STATUSES, UNMEASURED_STATUSES
from .resolve import supported_models
from .value_ranges import ValueRange, clip_interval, difference_range

# Units of the metric core's metrics, for every header and axis of the report.
METRIC_UNITS = {
    "hd": "mm",
    "hd95": "mm",
    "assd": "mm",
    "masd": "mm",
    "volume_pred_ml": "ml",
    "volume_gt_ml": "ml",
    "volume_diff_ml": "ml",
}


@dataclass(frozen=True)
class PendingFamily:
    """A family analysed but for its pairwise verdicts, which wait for the multiplicity decision."""

    family: dict[str, Any]
    tests: Optional[stats.FamilyTests]
    value_range: Optional[ValueRange]


def family_rows(rows: pd.DataFrame, *, higher_is_better: bool) -> pd.Series:
    """The values of one family's rows with the exclusion and worst-value rules applied (NaN = missing)."""
    values = rows["value"].where(~rows["status"].isin(EXCLUDED_STATUSES))
    unmeasured = rows["status"].isin(UNMEASURED_STATUSES) & values.isna()
    if unmeasured.any():
        finite = values[np.isfinite(values)]
        if len(finite):
            values = values.where(~unmeasured, finite.min() if higher_is_better else finite.max())
    return values


def analyze_family(
    rows: pd.DataFrame,
    *,
    structure: str,
    metric: str,
    models: list[str],
    excluded: set[str],
    settings: AnalysisSettings,
    value_range: Optional[ValueRange],
) -> PendingFamily:
    """Everything of one family but the pairwise verdicts: estimates, ranking, sensitivity, power."""
    higher_is_better = settings.higher_is_better(metric)
    skewed = settings.skewed(metric)
    alignment = settings.missing.alignment
    supported = supported_models(rows, structure, models)
    competitors = [model for model in supported if model not in excluded]
    values = rows.assign(value=family_rows(rows, higher_is_better=higher_is_better))
    wide = values.pivot(index="case_id", columns="model", values="value").reindex(columns=supported)
    wide = wide.dropna(how="all")
    competitors = [model for model in competitors if wide[model].notna().any()]
    n_cases_any = len(wide)
    if alignment == "complete_cases" and competitors:
        wide = wide.dropna(subset=competitors, how="any")
    patients = rows.drop_duplicates("case_id").set_index("case_id")["patient_id"]
    patient_ids = patients.reindex(wide.index).to_numpy()
    family: dict[str, Any] = {
        "structure": structure,
        "metric": metric,
        "unit": METRIC_UNITS.get(metric, ""),
        "higher_is_better": higher_is_better,
        "skewed": skewed,
        "alignment": alignment,
        "models": supported,
        "competitors": competitors,
        "not_supported": [model for model in models if model not in supported],
        "n_cases": len(wide),
        "n_patients": int(pd.Series(patient_ids).nunique()),
        "n_cases_without_value": int(rows["case_id"].nunique() - len(wide)),
        "n_cases_dropped_by_alignment": int(n_cases_any - len(wide)),
        "estimates": [],
        "ranking": None,
        "sensitivity": None,
        "pairwise": [],
        "power": None,
        "note": "",
        "resolution_note": "",
    }
    table = wide.to_numpy(dtype=float)
    patients_with_values = {
        model: int(pd.Series(patient_ids[np.isfinite(table[:, j])]).nunique())
        for j, model in enumerate(supported)
    }
    measurable = [j for j, model in enumerate(supported) if patients_with_values[model] >= 2]
    if family["n_patients"] < 2 or not measurable:
        family["note"] = _descriptive_note(family["n_patients"])
        family["estimates"] = [
            _bare_estimates(
                model, table[:, j], contaminated=model in excluded, level=settings.confidence_level
            )
            for j, model in enumerate(supported)
            if patients_with_values[model]
        ]
        return PendingFamily(family, None, value_range)
    resamples = stats.resample_patients(
        family["n_patients"], n_resamples=settings.n_resamples, seed=settings.seed
    )
    options = {
        "patient_ids": patient_ids,
        "level": settings.confidence_level,
        "resamples": resamples,
        "allow_missing": True,
    }
    means = dict(zip(measurable, stats.mean_intervals(table[:, measurable], skewed=skewed, **options)))
    medians = dict(zip(measurable, stats.median_intervals(table[:, measurable], **options)))
    for index, model in enumerate(supported):
        if index not in means:
            if patients_with_values[model]:
                family["estimates"].append(
                    _bare_estimates(
                        model,
                        table[:, index],
                        contaminated=model in excluded,
                        level=settings.confidence_level,
                    )
                )
            continue
        family["estimates"].append(
            {
                "model": model,
                "contaminated": model in excluded,
                "n_cases": int(np.isfinite(table[:, index]).sum()),
                "mean": clip_interval(means[index].as_dict(), value_range),
                "median": clip_interval(medians[index].as_dict(), value_range),
            }
        )
    competitors = [model for model in competitors if patients_with_values[model] >= 2]
    family["competitors"] = competitors
    if len(competitors) < 2:
        family["note"] = (
            f"{len(competitors)} uncontaminated model(s) segment this structure: no ranking or tests"
        )
        return PendingFamily(family, None, value_range)
    ranked = wide[competitors].to_numpy(dtype=float)
    direction = {"model_names": competitors, "higher_is_better": higher_is_better}
    per_pair = alignment == "per_pair"
    family["ranking"] = stats.rank_models(
        ranked, **direction, statistic=settings.statistic, **{**options, "allow_missing": per_pair}
    ).as_dict()
    family["sensitivity"] = stats.ranking_sensitivity(
        ranked,
        **direction,
        level=settings.confidence_level,
        patient_ids=patient_ids,
        primary=settings.statistic,
        allow_missing=per_pair,
    ).as_dict()
    tests = stats.family_tests(
        ranked,
        **direction,
        test=settings.primary_test,
        equivalence_margin=settings.equivalence_margin(metric),
        skewed=skewed,
        keep_intervals=settings.multiplicity == "family",
        **{**options, "allow_missing": per_pair},
    )
    try:
        family["power"] = stats.leading_pair_power(
            ranked,
            **direction,
            alpha=round(1.0 - settings.confidence_level, 12),
            patient_ids=patient_ids,
            allow_missing=per_pair,
        ).as_dict()
    except (stats.StatsInputError, ValueError) as error:
        # Kept visible: the rest of the family stands, the report says why power is missing.
        family["note"] = f"power analysis not available: {error}"
    return PendingFamily(family, tests, value_range)


def finish_pairwise(
    pending: PendingFamily, decision: stats.HolmDecision, *, multiplicity: str
) -> dict[str, Any]:
    """The family with its pairwise comparisons under ``decision``, difference ends clipped to the range."""
    family = pending.family
    if pending.tests is not None:
        comparisons = pending.tests.comparisons(decision, multiplicity=multiplicity)
        width = difference_range(pending.value_range)
        family["pairwise"] = [
            {**pair, "difference": clip_interval(pair["difference"], width)}
            for pair in (comparison.as_dict() for comparison in comparisons)
        ]
    return family


def _descriptive_note(n_patients: int) -> str:
    if n_patients == 1:
        return "1 patient: descriptive only, no intervals, ranks or tests"
    return f"{n_patients} patients, or a model with values from fewer than 2: descriptive only, no intervals or tests"


def _bare_estimates(model: str, column: np.ndarray, *, contaminated: bool, level: float) -> dict[str, Any]:
    """Point estimates without intervals, shaped like clipped ``stats.Interval.as_dict()`` records."""
    present = column[np.isfinite(column)]
    n = int(present.size)

    def bare(estimate: Optional[float]) -> dict[str, Any]:
        return {
            "estimate": estimate,
            "low": None,
            "high": None,
            "level": level,
            "method": "none",
            "n": n,
            "clipped": {},
        }

    return {
        "model": model,
        "contaminated": contaminated,
        "n_cases": n,
        "mean": bare(float(present.mean()) if n else None),
        "median": bare(float(np.median(present)) if n else None),
    }
