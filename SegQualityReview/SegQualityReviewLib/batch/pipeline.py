"""The compare and analyze flows: score (or read) the long table, analyse it, write cases.csv, results.json
and report.html into one output folder.

The output folder is replaced as a whole (``io.outputs.replaced_folder``): everything is written into a
staging folder beside it and swapped in at the end, so it holds either the previous complete run or the
new one, never a mixture or a half-written file. The per-cell score cache lives beside it, in
``.<name>.cache`` (``cache_folder``), so it survives the swap and a killed run resumes from it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..io.outputs import check_output_path, replaced_folder, sibling
from ..report import ReportInputs, write_report
from ..stats import json_ready
from .analysis import analyze_table
from .cache import ScoreCache, file_sha256
from .cases import Case, match_cases
from .config import AnalysisSettings, CompareConfig
from .executors import open_executor
from .long_table import check_long_table, long_table_from_results, read_long_table, write_long_table
from .predicted_ranking import (
    EstimateCell,
    estimate_tasks,
    predicted_leaderboard,
    predicted_table,
    true_dice_of,
)
from .predicted_runs import estimate_all
from .predicted_settings import PREDICTED_FILE, PredictedQualitySettings
from .results import SCORES_FILE, build_results, write_results
from .scoring import ProgressCallback, build_tasks, score_all

RESULTS_FILE = "results.json"
REPORT_FILE = "report.html"
# Everything a plain run writes into its output folder; a folder holding anything else is never replaced.
OUTPUT_FILES = (SCORES_FILE, RESULTS_FILE, REPORT_FILE)
# What a run may find there and replace: also predicted.csv, which --predicted-quality adds.
OWNED_FILES = (*OUTPUT_FILES, PREDICTED_FILE)
# Where versions before the atomic output folder kept the cache (moved beside the folder on first use).
LEGACY_CACHE_FOLDER = ".cache"
# Progress fractions of a compare run: scoring fills [0, SCORING_SHARE], then the analysis and the report.
SCORING_SHARE = 0.75
ANALYSIS_AT = 0.8
REPORT_AT = 0.9


@dataclass(frozen=True)
class RunOutputs:
    """The files one run wrote, and the analysis they hold."""

    out_dir: Path
    scores_path: Path
    results_path: Path
    report_path: Path
    results: dict[str, Any]


def cache_folder(out_dir: str | Path) -> Path:
    """The per-cell score cache of the runs into ``out_dir``: ``.<name>.cache`` beside it."""
    return sibling(Path(out_dir), "cache")


def run_compare(
    config: CompareConfig,
    out_dir: str | Path,
    *,
    progress: bool = True,
    on_progress: ProgressCallback | None = None,
    title: str = "",
    description: str = "",
    predicted_quality: PredictedQualitySettings | None = None,
) -> RunOutputs:
    """Score every case x model x structure (cached beside OUT), analyse, and write the outputs.

    ``progress`` shows a tqdm bar on stderr; ``on_progress(fraction, message)`` is called as cells finish
    (fractions up to 0.75), before the analysis and the report, and with 1.0 at the end. ``out_dir`` must
    not hold any input, and may hold only what an earlier run wrote (it is replaced as a whole).
    ``predicted_quality`` also ranks the models by the ground-truth-free estimator (every case needs an
    image) and sets that ranking against the true one: predicted.csv and results.json's
    ``predicted_quality``.
    """
    out_dir = Path(out_dir)
    check_output_path(out_dir, option="output folder", inputs=config.input_paths(), folder=True)
    cache = ScoreCache(_cache_for(out_dir))
    with replaced_folder(out_dir, owned_names=OWNED_FILES) as staging:
        cases, unmatched = match_cases(config)
        tasks, file_hashes = build_tasks(config, cases)

        # With predicted quality, the metric cells fill the first half of the scoring share, the
        # estimated cells the second.
        share = SCORING_SHARE / 2 if predicted_quality is not None else SCORING_SHARE

        def scoring_progress(fraction: float, message: str) -> None:
            if on_progress is not None:
                on_progress(share * fraction, message)

        def estimating_progress(fraction: float, message: str) -> None:
            if on_progress is not None:
                on_progress(share * (1.0 + fraction), message)

        estimates = (
            estimate_tasks(
                cases,
                {model.name: model.label_map for model in config.models},
                mode=predicted_quality.mode,
                threshold=predicted_quality.threshold,
            )
            if predicted_quality is not None
            else []
        )
        with open_executor(config.executor, workers=config.workers) as executor:
            results = score_all(
                tasks,
                cache,
                executor=executor,
                progress=progress,
                on_progress=scoring_progress,
            )
            predicted_cells = (
                estimate_all(
                    estimates,
                    cache,
                    executor=executor,
                    progress=progress,
                    on_progress=estimating_progress,
                )
                if estimates
                else None
            )
        table = check_long_table(long_table_from_results(results, cases), source="the scored cells")
        notes = {
            "imputed_cells": [
                {"case_id": r.case_id, "model": r.model, "note": r.note} for r in results if r.note
            ],
            "unmatched_predictions": unmatched,
        }
        results_content = _analyse_and_write(
            table,
            config.analysis,
            staging,
            config=config.as_dict(),
            file_hashes=file_hashes,
            notes=notes,
            cases=cases,
            config_obj=config,
            title=title,
            description=description,
            on_progress=on_progress,
            predicted=(predicted_cells, predicted_quality) if predicted_cells is not None else None,
        )
    _done(on_progress)
    return _outputs(out_dir, results_content)


def run_analyze(
    scores_path: str | Path,
    settings: AnalysisSettings,
    out_dir: str | Path,
    *,
    title: str = "",
    description: str = "",
) -> RunOutputs:
    """Analyse a long-format table from elsewhere (the same analysis as compare, no thumbnails)."""
    scores_path = Path(scores_path)
    out_dir = Path(out_dir)
    check_output_path(out_dir, option="output folder", inputs=[("score table", scores_path)], folder=True)
    table = read_long_table(scores_path, blank=settings.missing.blank)
    config = {"scores": str(scores_path), "analysis": settings.as_dict()}
    with replaced_folder(out_dir, owned_names=OWNED_FILES) as staging:
        results_content = _analyse_and_write(
            table,
            settings,
            staging,
            config=config,
            file_hashes={str(scores_path): file_sha256(scores_path)},
            notes={"imputed_cells": [], "unmatched_predictions": {}},
            cases=None,
            config_obj=None,
            title=title,
            description=description,
        )
    return _outputs(out_dir, results_content)


def _analyse_and_write(
    table: pd.DataFrame,
    settings: AnalysisSettings,
    out_dir: Path,
    *,
    config: dict[str, Any],
    file_hashes: dict[str, str],
    notes: dict[str, Any],
    cases: list[Case] | None,
    config_obj: CompareConfig | None,
    title: str,
    description: str,
    on_progress: ProgressCallback | None = None,
    predicted: tuple[list[EstimateCell], PredictedQualitySettings] | None = None,
) -> dict[str, Any]:
    """Write the outputs into ``out_dir`` (the staging folder); the results.json content."""
    report_progress = on_progress or (lambda fraction, message: None)
    scores_path = out_dir / SCORES_FILE
    write_long_table(table, scores_path)
    # Analyse the table as written, so reanalyze starts from exactly the same numbers.
    written = read_long_table(scores_path, blank=settings.missing.blank)
    report_progress(ANALYSIS_AT, "analysing")
    analysis = analyze_table(written, settings, source=str(scores_path))
    results = build_results(
        config=config,
        settings=settings,
        analysis=analysis,
        scores_path=scores_path,
        file_hashes=file_hashes,
        run_notes=notes,
    )
    if predicted is not None:
        cells, predicted_settings = predicted
        estimated = predicted_table(cells)
        estimated.to_csv(out_dir / PREDICTED_FILE, index=False)
        results["predicted_quality"] = json_ready(
            predicted_leaderboard(
                estimated,
                models=analysis["models"],
                level=settings.confidence_level,
                seed=settings.seed,
                estimator=predicted_settings.as_dict(),
                true_dice=true_dice_of(written),
            )
        )
    write_results(results, out_dir / RESULTS_FILE)
    report_progress(REPORT_AT, "writing the report")
    write_report(
        ReportInputs(
            table=written,
            results=results,
            cases=cases,
            config=config_obj,
            title=title,
            description=description,
        ),
        out_dir / REPORT_FILE,
    )
    return results


def _outputs(out_dir: Path, results: dict[str, Any]) -> RunOutputs:
    return RunOutputs(out_dir, out_dir / SCORES_FILE, out_dir / RESULTS_FILE, out_dir / REPORT_FILE, results)


def _done(on_progress: ProgressCallback | None) -> None:
    # "done" only once the new outputs are in place.
    if on_progress is not None:
        on_progress(1.0, "done")


def _cache_for(out_dir: Path) -> Path:
    """The cache folder beside ``out_dir``, taking over the one an older version kept inside it."""
    cache = cache_folder(out_dir)
    legacy = out_dir / LEGACY_CACHE_FOLDER
    if legacy.is_dir() and not cache.exists():
        os.rename(legacy, cache)
    return cache
