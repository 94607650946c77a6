"""Running the predicted-quality cells of a comparison, and the reference-free comparison itself.

The cells go through the comparison's executor (local pool or Dask) and the per-cell cache beside the
output folder, like the metric cells: a cell is keyed by the sha256 of its image, prediction, the other
predictions it is compared with, the label maps, the estimator's weights and options, and the package
version. ``run_reference_free`` is ``compare`` without references: it writes predicted.csv,
results.json (``mode: reference_free``) and report.html, whose first lines say that the ranking is an
estimate.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from .. import __version__
from ..io.outputs import check_output_path, replaced_folder
from ..stats import json_ready
from .cache import ScoreCache, file_sha256
from .cached_cells import run_cached
from .executors import CellExecutor, ExecutorSettings, open_executor
from .predicted_ranking import (
    EstimateCell,
    EstimateTask,
    estimate_cell,
    estimate_tasks,
    match_image_cases,
    predicted_leaderboard,
    predicted_table,
)
from .predicted_settings import PREDICTED_FILE, REPORT_FILE, RESULTS_FILE, PredictedQualitySettings
from .results import package_versions
from .scoring import ProgressCallback

REFERENCE_FREE_SCHEMA = "segquality-predicted-ranking/1"


def estimate_all(
    tasks: Sequence[EstimateTask],
    cache: ScoreCache,
    *,
    executor: CellExecutor | None = None,
    progress: bool = True,
    on_progress: ProgressCallback | None = None,
) -> list[EstimateCell]:
    """Every cell not already cached, on ``executor``, in task order; each result cached as it arrives."""
    hashes: dict[str, str] = {}
    return run_cached(
        estimate_cell,
        tasks,
        [_cell_key(task, hashes) for task in tasks],
        cache,
        stored=lambda cell: {"rows": list(cell.rows), "note": cell.note},
        restored=lambda task, cached: EstimateCell(
            task.case_id, task.patient_id, task.model, tuple(cached["rows"]), cached.get("note", "")
        ),
        label=_describe,
        activity="estimating quality",
        verb="estimated",
        executor=executor,
        progress=progress,
        on_progress=on_progress,
    )


def run_reference_free(
    *,
    image_dir: Path,
    predictions: Mapping[str, Path],
    label_maps: Mapping[str, Path | None],
    out_dir: Path,
    cache_dir: Path,
    cases_csv: Path | None = None,
    settings: PredictedQualitySettings | None = None,
    level: float = 0.95,
    seed: int = 0,
    workers: int = 1,
    executor: ExecutorSettings | None = None,
    progress: bool = True,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Rank the models by predicted quality over the cases of ``image_dir``; the results.json content."""
    from ..report.predicted import write_predicted_report

    settings = settings or PredictedQualitySettings()
    inputs = [("images", image_dir)] + [(f"'{name}' predictions", path) for name, path in predictions.items()]
    inputs += [(f"'{name}' label map", path) for name, path in label_maps.items() if path is not None]
    if cases_csv is not None:
        inputs.append(("case table", cases_csv))
    check_output_path(out_dir, option="output folder", inputs=inputs, folder=True)
    cases, unmatched = match_image_cases(image_dir, predictions, cases_csv=cases_csv)
    tasks = estimate_tasks(cases, label_maps, mode=settings.mode, threshold=settings.threshold)
    models = list(predictions)
    with replaced_folder(out_dir, owned_names=(PREDICTED_FILE, RESULTS_FILE, REPORT_FILE)) as staging:
        with open_executor(executor or ExecutorSettings(), workers=workers) as running:
            cells = estimate_all(
                tasks, ScoreCache(cache_dir), executor=running, progress=progress, on_progress=on_progress
            )
        table = predicted_table(cells)
        table.to_csv(staging / PREDICTED_FILE, index=False)
        results = json_ready(
            {
                "schema": REFERENCE_FREE_SCHEMA,
                "mode": "reference_free",
                "config": {
                    "image_dir": str(image_dir),
                    "cases_csv": None if cases_csv is None else str(cases_csv),
                    "models": [
                        {"name": name, "prediction_dir": str(path), "label_map": _text(label_maps.get(name))}
                        for name, path in predictions.items()
                    ],
                    "estimator": settings.as_dict(),
                },
                "confidence_level": level,
                "seed": seed,
                "versions": package_versions(),
                "predicted_file": PREDICTED_FILE,
                "predicted_sha256": file_sha256(staging / PREDICTED_FILE),
                "run_notes": {
                    "cells_without_estimate": [
                        {"case_id": c.case_id, "model": c.model, "note": c.note} for c in cells if c.note
                    ],
                    "unmatched_predictions": unmatched,
                },
                "predicted_quality": predicted_leaderboard(
                    table, models=models, level=level, seed=seed, estimator=settings.as_dict()
                ),
            }
        )
        (staging / RESULTS_FILE).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        write_predicted_report(results, staging / REPORT_FILE)
    if on_progress is not None:
        on_progress(1.0, "done")
    return results


def _cell_key(task: EstimateTask, hashes: dict[str, str]) -> str:
    """The cache key of one cell; ``hashes`` keeps each file's sha256, since every model reads one image."""
    from ..quality.weights import DEFAULT_WEIGHTS

    def sha(path: Path | None) -> str | None:
        if path is None:
            return None
        if str(path) not in hashes:
            hashes[str(path)] = file_sha256(path)
        return hashes[str(path)]

    content = {
        "kind": "predicted_quality",
        "image": sha(task.image_path),
        "pred": sha(task.pred_path),
        "pred_label_map": sha(task.pred_label_map),
        "others": [[sha(path), sha(labels)] for path, labels in task.others],
        "weights": sha(Path(DEFAULT_WEIGHTS)),
        "mode": task.mode,
        "threshold": task.threshold,
        "version": __version__,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()


def _describe(task: EstimateTask) -> str:
    return f"case '{task.case_id}', model '{task.model}' (predicted quality)"


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)
