"""Ranking models without references: every case x model scored by the ground-truth-free estimator.

Each cell runs ``quality.estimate_quality`` on the case's image and one model's prediction, with the other
models' predictions of the same case as agreement (the estimator's strongest signal where several models
exist). The leaderboard is then the stats package's analysis of one metric, the predicted Dice averaged
over the structures every model declares, clustered by patient, so its intervals, verdicts and rank
intervals follow the same rules as the reference-based leaderboard. Where references exist, the predicted
ranking is set against the true one (Kendall tau over the models) and the predicted Dice against the true
Dice of the same cells.

It is a ranking by an estimate: models that agree with each other score higher than a lone model that is
right. The report and results.json say so beside the numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from .. import stats
from ..errors import SegQualityError
from ..io import normalize_structure_name
from .cases import files_by_case, read_case_structures, read_case_table
from .errors import BatchConfigError

RANKED_BY = (
    "predicted Dice from the ground-truth-free quality estimator (no reference used): an estimate, "
    "in which models that agree with each other score higher"
)
# A missing or unreadable prediction predicts Dice 0 on every structure the other models declare.
MISSING_PREDICTED_DICE = 0.0
PREDICTED_COLUMNS = (
    "case_id",
    "patient_id",
    "model",
    "structure",
    "predicted_dice",
    "interval_low",
    "interval_high",
    "flagged",
    "status",
    "note",
)


@dataclass(frozen=True)
class EstimateTask:
    """One (case, model) cell to estimate: the image, the prediction, and the other models' predictions."""

    case_id: str
    patient_id: str
    model: str
    image_path: Path
    pred_path: Path | None
    pred_label_map: Path | None
    others: tuple[tuple[Path, Path | None], ...]
    mode: str
    threshold: float


@dataclass(frozen=True)
class EstimateCell:
    """The structure rows of one cell, and why it has none of its own (missing or unreadable), if so."""

    case_id: str
    patient_id: str
    model: str
    rows: tuple[dict[str, Any], ...]
    note: str = ""


@dataclass(frozen=True)
class ImageCase:
    """A case of a reference-free comparison: its image and each model's prediction (None: missing)."""

    case_id: str
    patient_id: str
    image_path: Path
    prediction_paths: Mapping[str, Path | None]


def match_image_cases(
    image_dir: Path, predictions: Mapping[str, Path], *, cases_csv: Path | None = None
) -> tuple[list[ImageCase], dict[str, list[str]]]:
    """Cases by id from the image folder (or the case table), and per model the files matching no case."""
    images = files_by_case(image_dir, role="image")
    if not images:
        raise BatchConfigError(f"{image_dir}: the image folder holds no image files")
    by_model = {
        name: files_by_case(folder, role=f"'{name}' prediction") for name, folder in predictions.items()
    }
    if cases_csv is not None:
        table = read_case_table(cases_csv)
        absent = [case_id for case_id in table["case_id"] if case_id not in images]
        if absent:
            raise BatchConfigError(f"{cases_csv}: case '{absent[0]}' has no image in {image_dir}")
        rows = list(zip(table["case_id"], table["patient_id"]))
    else:
        rows = [(case_id, case_id) for case_id in images]
    cases = [
        ImageCase(case_id, patient_id, images[case_id], {n: f.get(case_id) for n, f in by_model.items()})
        for case_id, patient_id in rows
    ]
    known = {case.case_id for case in cases}
    unmatched = {name: sorted(set(files) - known) for name, files in by_model.items()}
    return cases, {name: ids for name, ids in unmatched.items() if ids}


def estimate_tasks(
    cases: Sequence[Any],
    label_maps: Mapping[str, Path | None],
    *,
    mode: str = "default",
    threshold: float = 0.7,
) -> list[EstimateTask]:
    """One task per case x model; ``cases`` need ``case_id``, ``patient_id``, ``image_path`` and
    ``prediction_paths`` (an ``ImageCase`` or a compare ``Case`` with an image)."""
    tasks = []
    for case in cases:
        if case.image_path is None:
            raise BatchConfigError(
                f"case '{case.case_id}' has no image: predicted quality needs --images with every case"
            )
        for model, path in case.prediction_paths.items():
            others = tuple(
                (other_path, label_maps.get(other))
                for other, other_path in case.prediction_paths.items()
                if other != model and other_path is not None
            )
            tasks.append(
                EstimateTask(
                    case_id=case.case_id,
                    patient_id=case.patient_id,
                    model=model,
                    image_path=case.image_path,
                    pred_path=path,
                    pred_label_map=label_maps.get(model),
                    others=others,
                    mode=mode,
                    threshold=threshold,
                )
            )
    return tasks


def estimate_cell(task: EstimateTask) -> EstimateCell:
    """Predicted quality of one cell. An unreadable image raises: no model of that case can be estimated."""
    from ..io import read_volume
    from ..quality import estimate_quality

    volume = read_volume(task.image_path)
    if task.pred_path is None:
        return EstimateCell(task.case_id, task.patient_id, task.model, (), "no prediction file")
    try:
        structures = read_case_structures(
            task.pred_path, label_map=task.pred_label_map, reference=volume.geometry
        )
    except SegQualityError as error:
        return EstimateCell(task.case_id, task.patient_id, task.model, (), str(error))
    others = []
    for path, labels in task.others:
        # An unreadable other prediction adds no agreement here; its own cell reports why it failed.
        try:
            others.append(read_case_structures(path, label_map=labels, reference=volume.geometry))
        except SegQualityError:
            continue
    estimates = estimate_quality(
        volume,
        structures,
        other_segmentations=others,
        mode=task.mode,
        threshold=task.threshold,
        device="cpu",
    )
    rows = tuple(
        {
            "structure": estimate.structure,
            "predicted_dice": _finite(estimate.predicted_dice),
            "interval_low": _finite(estimate.interval_low),
            "interval_high": _finite(estimate.interval_high),
            "flagged": bool(estimate.flagged),
            "status": estimate.status,
            "note": "",
        }
        for estimate in estimates
    )
    return EstimateCell(task.case_id, task.patient_id, task.model, rows)


def predicted_table(cells: Sequence[EstimateCell]) -> pd.DataFrame:
    """One row per case x model x structure; a cell without rows gets Dice 0 on every structure another
    model of its case declares, with its note, so a missing prediction is never dropped."""
    declared: dict[str, list[str]] = {}
    for cell in cells:
        names = declared.setdefault(cell.case_id, [])
        names.extend(row["structure"] for row in cell.rows if row["structure"] not in names)
    records = []
    for cell in cells:
        rows = cell.rows or tuple(
            {
                "structure": name,
                "predicted_dice": MISSING_PREDICTED_DICE,
                "interval_low": math.nan,
                "interval_high": math.nan,
                "flagged": True,
                "status": "missing_pred" if cell.note == "no prediction file" else "failed",
                "note": cell.note,
            }
            for name in declared.get(cell.case_id, [])
        )
        for row in rows:
            records.append(
                {"case_id": cell.case_id, "patient_id": cell.patient_id, "model": cell.model, **row}
            )
    return pd.DataFrame.from_records(records, columns=list(PREDICTED_COLUMNS))


def predicted_leaderboard(
    table: pd.DataFrame,
    *,
    models: Sequence[str],
    level: float = stats.DEFAULT_LEVEL,
    seed: int = stats.DEFAULT_SEED,
    estimator: Mapping[str, Any] | None = None,
    true_dice: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The reference-free leaderboard (JSON-ready): the predicted Dice per case, averaged over the
    structures every model declares (a structure no model has voxels of counts for none), analysed like any
    metric, clustered by patient. ``true_dice`` (case_id, model, structure, dice) adds the agreement with
    the reference-based ranking."""
    usable = table[np.isfinite(table["predicted_dice"].astype(float))]
    per_model = [set(usable.loc[usable["model"] == model, "structure"]) for model in models]
    shared = sorted(set.intersection(*per_model)) if per_model else []
    left_out = sorted(set(usable["structure"]) - set(shared))
    kept = usable[usable["structure"].isin(shared)]
    case_means = (
        kept.groupby(["case_id", "patient_id", "model"], sort=False)["predicted_dice"].mean().unstack("model")
    )
    case_means = case_means.reindex(columns=list(models)).dropna()
    result: dict[str, Any] = {
        "ranked_by": RANKED_BY,
        "estimator": dict(estimator or {}),
        "structures": shared,
        "structures_left_out": left_out,
        "models": list(models),
        "n_cases": int(case_means.shape[0]),
        "n_patients": int(case_means.index.get_level_values("patient_id").nunique()),
        "analysis": None,
        "agreement_with_reference": None,
        "note": "",
    }
    if case_means.empty:
        result["note"] = "no case has a predicted Dice from every model on a shared structure"
        return result
    patients = list(case_means.index.get_level_values("patient_id"))
    analysis = stats.analyze_metric(
        case_means.to_numpy(dtype=float),
        model_names=list(models),
        patient_ids=patients,
        level=level,
        seed=seed,
    )
    result["analysis"] = analysis.as_dict()
    if true_dice is not None:
        result["agreement_with_reference"] = reference_agreement(kept, true_dice, models=models)
    return result


def reference_agreement(
    predicted: pd.DataFrame, true_dice: pd.DataFrame, *, models: Sequence[str]
) -> dict[str, Any]:
    """How the predicted ranking and values match the reference-based ones on the same cells: Kendall tau-b
    between the models' mean predicted and mean true Dice, and the pooled Pearson r and MAE over cells."""
    # Structures match by normalised name, as everywhere (a model's label map may spell them otherwise).
    keyed_predicted = predicted.assign(key=predicted["structure"].map(normalize_structure_name))
    keyed_true = true_dice.drop(columns="structure").assign(
        key=true_dice["structure"].map(normalize_structure_name)
    )
    joined = keyed_predicted.merge(keyed_true, on=["case_id", "model", "key"], how="inner")
    joined = joined[np.isfinite(joined["dice"].astype(float))]
    means = joined.groupby("model")[["predicted_dice", "dice"]].mean().reindex(list(models)).dropna()
    outcome: dict[str, Any] = {
        "n_cells": int(len(joined)),
        "predicted_order": list(means["predicted_dice"].sort_values(ascending=False).index),
        "true_order": list(means["dice"].sort_values(ascending=False).index),
        "model_means": {
            model: {"predicted_dice": float(row["predicted_dice"]), "true_dice": float(row["dice"])}
            for model, row in means.iterrows()
        },
        "kendall_tau": None,
        "kendall_p_value": None,
        "pearson_cells": None,
        "mae_cells": None,
    }
    if len(means) >= 2:
        tau = scipy_stats.kendalltau(means["predicted_dice"], means["dice"])
        outcome["kendall_tau"] = _finite(tau.statistic)
        outcome["kendall_p_value"] = _finite(tau.pvalue)
    if len(joined) >= 3:
        predicted_values = joined["predicted_dice"].to_numpy(dtype=float)
        true_values = joined["dice"].to_numpy(dtype=float)
        if np.ptp(predicted_values) > 0 and np.ptp(true_values) > 0:
            outcome["pearson_cells"] = float(scipy_stats.pearsonr(predicted_values, true_values).statistic)
        outcome["mae_cells"] = float(np.mean(np.abs(predicted_values - true_values)))
    return outcome


def true_dice_of(table: pd.DataFrame) -> pd.DataFrame:
    """(case_id, model, structure, dice) from a checked long score table, imputed values included."""
    dice = table[table["metric"] == "dice"]
    return dice[["case_id", "model", "structure", "value"]].rename(columns={"value": "dice"})


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None
