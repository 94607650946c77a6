"""Scoring every case x model cell with the metric core on an executor (local processes or Dask), cached.

A missing prediction file or one that cannot be scored is never dropped: the cell is scored as an empty
prediction (the worst-case values of the metric core's empty-mask policy) under status ``missing_pred``
or ``failed``, with the reason kept in the run's notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SegQualityError
from ..io import LabelMap, StructureSet
from .cache import ScoreCache, cell_key, file_sha256
from .cached_cells import ProgressCallback, run_cached
from .cases import Case, read_case_structures
from .config import CompareConfig
from .executors import CellExecutor

MISSING_PRED = "missing_pred"
FAILED = "failed"


@dataclass(frozen=True)
class CellTask:
    """One (case, model) cell to score: the files and the options handed to the metric core."""

    case_id: str
    model: str
    gt_path: Path
    pred_path: Path | None
    gt_label_map: Path | None
    pred_label_map: Path | None
    scoring: tuple[tuple[str, Any], ...]
    key: str


@dataclass(frozen=True)
class CellResult:
    """The structure rows of one cell (``StructureScore.as_row()`` dicts) and why it was imputed, if so."""

    case_id: str
    model: str
    rows: tuple[dict[str, Any], ...]
    note: str = ""


def build_tasks(config: CompareConfig, cases: list[Case]) -> tuple[list[CellTask], dict[str, str]]:
    """One task per case x model, with cache keys, and the sha256 of every input file by path."""
    hashes: dict[str, str] = {}

    def sha(path: Path | None) -> str | None:
        if path is None:
            return None
        if str(path) not in hashes:
            hashes[str(path)] = file_sha256(path)
        return hashes[str(path)]

    scoring = config.scoring.as_dict()
    tasks = []
    for case in cases:
        for model in config.models:
            pred_path = case.prediction_paths[model.name]
            key = cell_key(
                gt_sha=sha(case.gt_path),
                pred_sha=sha(pred_path),
                gt_label_map_sha=sha(config.gt_label_map),
                pred_label_map_sha=sha(model.label_map),
                scoring=scoring,
            )
            tasks.append(
                CellTask(
                    case_id=case.case_id,
                    model=model.name,
                    gt_path=case.gt_path,
                    pred_path=pred_path,
                    gt_label_map=config.gt_label_map,
                    pred_label_map=model.label_map,
                    scoring=tuple(sorted(scoring.items())),
                    key=key,
                )
            )
        if case.image_path is not None:
            sha(case.image_path)
    return tasks, hashes


def score_cell(task: CellTask) -> CellResult:
    """Score one cell. A ground truth that cannot be read raises: without it nothing can be imputed."""
    from ..metrics import score_structure_sets

    options = dict(task.scoring)
    gt = read_case_structures(task.gt_path, label_map=task.gt_label_map)
    metric_options = {
        "nsd_tolerance_mm": options["nsd_tolerance_mm"],
        "surface": options["surface"],
        "hd95": options["hd95"],
        "device": options["device"],
    }
    if task.pred_path is None:
        return _imputed(
            task,
            gt,
            status=MISSING_PRED,
            note=f"no prediction file for case '{task.case_id}'",
            **metric_options,
        )
    try:
        pred = read_case_structures(
            task.pred_path,
            label_map=task.pred_label_map,
            reference=gt.geometry,
            reference_name=str(task.gt_path),
            resample=options["resample_pred"],
            trust_reference_geometry=options.get("trust_gt_geometry", False),
        )
        scores = score_structure_sets(pred, gt, **metric_options)
    except (SegQualityError, RuntimeError, ValueError, MemoryError) as error:
        note = (
            str(error)
            if isinstance(error, SegQualityError)
            else f"{task.pred_path}: {type(error).__name__}: {error}"
        )
        return _imputed(task, gt, status=FAILED, note=note, **metric_options)
    return CellResult(task.case_id, task.model, tuple(score.as_row() for score in scores))


def _imputed(
    task: CellTask, gt: StructureSet, *, status: str, note: str, **metric_options: Any
) -> CellResult:
    """Rows of an empty prediction on the reference grid, relabelled with ``status``."""
    from ..metrics import score_structure_sets

    names = gt.names
    empty = StructureSet.from_label_array(
        np.zeros(gt.geometry.array_shape, dtype=np.uint8),
        gt.geometry,
        label_map=LabelMap(
            names_by_value={index + 1: name for index, name in enumerate(names)}, source="<empty>"
        ),
        source=f"<{status}>",
    )
    rows = []
    for score in score_structure_sets(empty, gt, **metric_options):
        row = score.as_row()
        row["status"] = status
        rows.append(row)
    return CellResult(task.case_id, task.model, tuple(rows), note)


def score_all(
    tasks: list[CellTask],
    cache: ScoreCache,
    *,
    executor: CellExecutor | None = None,
    progress: bool = True,
    on_progress: ProgressCallback | None = None,
) -> list[CellResult]:
    """Score every task not already in the cache on ``executor`` (default: this process), in task order.

    Each result is written to the cache as soon as it arrives, so an interrupted run resumes there, on
    any executor. ``progress`` shows a tqdm bar on stderr; ``on_progress`` gets the fraction of cells
    done after each.
    """
    return run_cached(
        score_cell,
        tasks,
        [task.key for task in tasks],
        cache,
        stored=lambda result: {"rows": list(result.rows), "note": result.note},
        restored=lambda task, cached: CellResult(
            task.case_id, task.model, tuple(cached["rows"]), cached.get("note", "")
        ),
        label=describe_cell,
        activity="scoring cells",
        verb="scored",
        executor=executor,
        progress=progress,
        on_progress=on_progress,
    )


def describe_cell(task: CellTask) -> str:
    """How a cell is named in messages: its case and model."""
    return f"case '{task.case_id}', model '{task.model}'"
