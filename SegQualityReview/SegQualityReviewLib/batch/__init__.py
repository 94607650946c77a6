"""Comparing segmentation models on many cases: scoring, analysis, results.json and report.html.

Public API (docs/batch.md, schema in docs/results-schema.md)::

    load_config(yaml_path, *, workers=None) -> CompareConfig
    CompareConfig(gt_dir=, models=(ModelSource(name, prediction_dir, label_map), ...), gt_label_map=,
                  image_dir=, cases_csv=, scoring=ScoringSettings(...), analysis=AnalysisSettings(...), workers=,
                  executor=ExecutorSettings(scheduler="" | "local" | "tcp://host:8786", connect_timeout_s=10))
    AnalysisSettings(..., statistic="mean"|"median", primary_test="permutation"|"wilcoxon",
                     multiplicity="family"|"all", equivalence_margins={metric: m}, skewed_metrics=(...),
                     missing=MissingDataSettings(blank="refuse"|"not_evaluable"|"failed",
                                                 alignment="complete_cases"|"per_pair"))
    run_compare(config, out_dir, *, progress=True, on_progress=None, title="") -> RunOutputs
        # cases.csv, results.json, report.html swapped in whole; cell cache in .<out>.cache beside out
    run_analyze(scores_csv, settings, out_dir, *, title="") -> RunOutputs       # a long table from elsewhere
    reanalyze(results_json, *, rel_tolerance=1e-9) -> list[Difference]          # empty when reproduced
    check_results(results_json, ...) -> Reanalysis(differences, absent_files)   # what reanalyze prints
    read_long_table(csv) -> pandas.DataFrame;  analyze_table(table, settings) -> dict
    ModelCard, contamination_decisions(models, cards, dataset_name=)
    write_phantom_cohort(root, *, n_patients=14, seed=7) -> PhantomCohort      # SYNTHETIC test cohort
    synthetic_score_table(n_models=19, n_cases=743, ...) -> pandas.DataFrame     # SYNTHETIC score table
    run_demo(out_dir, *, shared_data, n_resamples=2000, workers=None) -> list[DemoRun]
    open_executor(settings, *, workers) -> LocalExecutor | DaskExecutor    # executor.run(function, cells)
    write_scale_cohort(root, *, n_cases, n_models=5, n_structures=10) -> ScaleCohort   # SYNTHETIC, for scale

Interval ends are clipped to each metric's natural range (``value_ranges``), the raw ends recorded.
Long table columns: case_id, patient_id, model, structure, metric, value, status, failure_mode, then
metadata columns. Patients are the bootstrap clusters; the statistics come from ``stats``, the page from
``report``. Cases may be files, per-case folders of masks, or ``{case}`` patterns (``case_ids``).
"""

from __future__ import annotations

import importlib
from typing import Any

# Exports by module, imported on first use so `segquality --help` does not load pandas, scipy and matplotlib.
_EXPORTS = {
    "analysis": ("analyze_table",),
    "config": ("AnalysisSettings", "CompareConfig", "ModelSource", "ScoringSettings", "load_config"),
    "missing": ("MissingDataSettings",),
    "synthetic_scores": ("synthetic_score_table",),
    "demo": ("DemoRun", "run_demo"),
    "errors": ("BatchConfigError", "ResultsFileError", "ScoreTableError"),
    "executors": ("CellLostError", "DaskExecutor", "ExecutorSettings", "LocalExecutor", "open_executor"),
    "long_table": ("LONG_COLUMNS", "read_long_table"),
    "model_cards": ("ContaminationDecision", "ModelCard", "contamination_decisions"),
    "phantom": ("PhantomCohort", "write_phantom_cohort"),
    "pipeline": ("RunOutputs", "run_analyze", "run_compare"),
    "results": ("Difference", "Reanalysis", "check_results", "reanalyze"),
    "scale_cohort": ("ScaleCohort", "write_scale_cohort"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)


__all__ = [
    "LONG_COLUMNS",
    "AnalysisSettings",
    "MissingDataSettings",
    "BatchConfigError",
    "CellLostError",
    "CompareConfig",
    "ContaminationDecision",
    "DaskExecutor",
    "DemoRun",
    "Difference",
    "ExecutorSettings",
    "LocalExecutor",
    "ModelCard",
    "ModelSource",
    "PhantomCohort",
    "Reanalysis",
    "ResultsFileError",
    "RunOutputs",
    "ScaleCohort",
    "ScoreTableError",
    "ScoringSettings",
    "analyze_table",
    "check_results",
    "contamination_decisions",
    "load_config",
    "open_executor",
    "read_long_table",
    "reanalyze",
    "run_analyze",
    "run_compare",
    "run_demo",
    "synthetic_score_table",
    "write_phantom_cohort",
    "write_scale_cohort",
]
