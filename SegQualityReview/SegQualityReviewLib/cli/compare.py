"""``segquality compare``: score every case x model x structure and compare the models (report + results)."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from ..batch.config import (
    AnalysisSettings,
    CompareConfig,
    ModelSource,
    ScoringSettings,
    load_config,
    model_cards_from_flags,
    parse_name_value,
)
from ..batch.errors import BatchConfigError
from ..batch.executors import ExecutorSettings
from ..batch.predicted_settings import (
    ESTIMATOR_MODES,
    PREDICTED_FILE,
    REPORT_FILE,
    RESULTS_FILE,
    PredictedQualitySettings,
)
from ..errors import SegQualityError
from .arguments import fraction, positive_integer, positive_number


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare models on many cases: cases.csv, results.json and report.html",
        description=(
            "Score every case x model x structure with the metric core (parallel, cached under OUT/.cache so "
            "an interrupted run resumes), then compare the models: intervals, paired tests, ranking, "
            "failure modes, slices by metadata and power. Files are matched by case id (the file name "
            "without its suffix). Give a YAML config or the flags."
        ),
    )
    parser.add_argument("--config", type=Path, help="YAML comparison config (see docs/batch.md)")
    parser.add_argument("--gt-dir", type=Path, help="folder of reference label images, one per case")
    parser.add_argument("--gt-labels", type=Path, help="label map JSON of the references")
    parser.add_argument(
        "--pred", action="append", default=[], metavar="NAME=DIR", help="a model's prediction folder (repeat)"
    )
    parser.add_argument(
        "--pred-labels", action="append", default=[], metavar="NAME=JSON", help="a model's label map (repeat)"
    )
    parser.add_argument(
        "--images", type=Path, help="folder of images by case id, for the worst-case thumbnails"
    )
    parser.add_argument("--cases", type=Path, help="case table CSV: case_id, patient_id and metadata columns")
    parser.add_argument(
        "--nsd-tolerance", type=positive_number, default=None, metavar="MM", help="NSD tolerance (default 2)"
    )
    parser.add_argument("--surface", choices=("surfel", "voxel"), default=None, help="surface definition")
    parser.add_argument("--hd95", choices=("max", "pooled"), default=None, help="HD95 definition")
    geometry = parser.add_mutually_exclusive_group()
    geometry.add_argument(
        "--resample-pred", action="store_true", help="resample predictions onto the reference grid (nearest)"
    )
    geometry.add_argument(
        "--trust-gt-geometry",
        action="store_true",
        help="predictions on the reference's voxel matrix with a wrong header: copy the reference geometry",
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default=None,
        help="metric device (default auto: cuda if present)",
    )
    add_analysis_arguments(parser)
    quality = parser.add_argument_group(
        "ranking by predicted quality (the ground-truth-free estimator; docs/batch.md, 'Without references')"
    )
    quality.add_argument(
        "--predicted-quality",
        action="store_true",
        help="also rank the models by predicted Dice (needs --images), set against the true ranking "
        "(Kendall tau); without --gt-dir and --config it is the only ranking: compare without references",
    )
    quality.add_argument(
        "--estimator-mode",
        choices=ESTIMATOR_MODES,
        default="default",
        help="estimator mode of --predicted-quality (default: default; classical: no LiteMedSAM, fastest)",
    )
    parser.add_argument(
        "--workers",
        type=positive_integer,
        default=os.cpu_count() or 1,
        help="worker processes (default: CPUs)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="score the cells on a Dask cluster: a running scheduler's address (tcp://host:8786), or "
        "'local' for a LocalCluster of --workers processes; overrides the config's executor.scheduler "
        "(docs/batch.md, 'Running on a cluster')",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument(
        "--progress-lines",
        action="store_true",
        help="instead of the bar, print 'PROGRESS <fraction> <message>' lines (and 'ERROR <message>') on "
        "stdout for a GUI or script to parse",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.set_defaults(run=run)


def add_analysis_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by compare and analyze; unset ones keep the config's (or the default) value."""
    parser.add_argument(
        "--model-card", action="append", default=[], metavar="NAME=YAML", help="a model's card (repeat)"
    )
    parser.add_argument("--dataset-name", help="evaluated dataset, e.g. BraTS/2021/val (for contamination)")
    parser.add_argument("--metrics", help="comma-separated metrics to analyse (default dice,nsd,hd95)")
    parser.add_argument("--lower-is-better", help="comma-separated metrics where lower is better")
    parser.add_argument("--n-resamples", type=positive_integer, help="bootstrap resamples B (default 10000)")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument("--level", type=fraction, help="confidence level (default 0.95)")
    parser.add_argument("--worst-k", type=positive_integer, help="worst cases listed per model (default 5)")
    parser.add_argument(
        "--equivalence-margin",
        action="append",
        default=[],
        metavar="METRIC=MARGIN",
        help="equivalence margin for a metric, e.g. dice=0.02: a pair whose interval lies inside it is "
        "equivalent (repeat)",
    )
    primary = parser.add_argument_group(
        "primary analysis (pre-specified: it alone decides rankings and verdicts; docs/statistics.md)"
    )
    primary.add_argument(
        "--statistic", choices=("mean", "median"), help="aggregate that ranks (default mean)"
    )
    primary.add_argument(
        "--primary-test",
        choices=("permutation", "wilcoxon"),
        help="paired test of the verdicts (default permutation)",
    )
    primary.add_argument(
        "--multiplicity",
        choices=("family", "all"),
        help="Holm within each structure-metric family (default) or across all families",
    )
    primary.add_argument(
        "--missing-blank",
        choices=("refuse", "not_evaluable", "failed"),
        help="what a row without value and status means (default refuse: such a table is an error)",
    )
    primary.add_argument(
        "--alignment",
        choices=("complete_cases", "per_pair"),
        help="cases every model has (default) or, per model and pair, the cases it has",
    )


def analysis_settings(args: argparse.Namespace, base: AnalysisSettings) -> AnalysisSettings:
    """``base`` with every analysis option given on the command line applied."""
    changes = {}
    if args.model_card:
        changes["model_cards"] = base.model_cards + model_cards_from_flags(args.model_card)
    if args.dataset_name is not None:
        changes["dataset_name"] = args.dataset_name
    if args.metrics:
        changes["metrics"] = _names(args.metrics)
    if args.equivalence_margin:
        margins = dict(base.equivalence_margins)
        for value in args.equivalence_margin:
            metric, margin = parse_name_value(value, option="--equivalence-margin")
            try:
                margins[metric] = float(margin)
            except ValueError:
                raise BatchConfigError(
                    f"--equivalence-margin '{value}': the margin is not a number"
                ) from None
        changes["equivalence_margins"] = margins
    if args.lower_is_better:
        changes["lower_is_better"] = _names(args.lower_is_better)
    for option, field in (
        ("n_resamples", "n_resamples"),
        ("seed", "seed"),
        ("level", "confidence_level"),
        ("worst_k", "worst_k"),
        ("statistic", "statistic"),
        ("primary_test", "primary_test"),
        ("multiplicity", "multiplicity"),
    ):
        if getattr(args, option) is not None:
            changes[field] = getattr(args, option)
    missing = {
        key: getattr(args, option)
        for option, key in (("missing_blank", "blank"), ("alignment", "alignment"))
        if getattr(args, option) is not None
    }
    if missing:
        changes["missing"] = replace(base.missing, **missing)
    return replace(base, **changes)


def run(args: argparse.Namespace) -> int:
    from ..batch.pipeline import run_compare
    from ..process.progress_lines import format_error, print_progress

    predicted = PredictedQualitySettings(mode=args.estimator_mode) if args.predicted_quality else None
    progress = not (args.no_progress or args.progress_lines)
    on_progress = print_progress if args.progress_lines else None
    try:
        if predicted is not None and args.config is None and args.gt_dir is None:
            return _run_reference_free(args, predicted, progress=progress, on_progress=on_progress)
        outputs = run_compare(
            _config(args),
            args.out,
            progress=progress,
            on_progress=on_progress,
            predicted_quality=predicted,
        )
    except SegQualityError as error:
        # The line protocol's own error line, which the Slicer module shows; the CLI still prints its own.
        if args.progress_lines:
            print(format_error(str(error)), flush=True)
        raise
    written = [outputs.scores_path, outputs.results_path, outputs.report_path]
    if predicted is not None:
        written.insert(0, outputs.out_dir / PREDICTED_FILE)
    print(f"wrote {', '.join(str(path) for path in written)}", file=sys.stderr)
    return 0


def _run_reference_free(args, settings: PredictedQualitySettings, *, progress: bool, on_progress) -> int:
    """``compare --predicted-quality`` without references: the models ranked by predicted Dice alone."""
    from ..batch.pipeline import cache_folder
    from ..batch.predicted_runs import run_reference_free

    if args.images is None or not args.pred:
        raise BatchConfigError(
            "compare without references (--predicted-quality, no --gt-dir) needs --images and at least "
            "one --pred NAME=DIR"
        )
    models = _model_sources(args)
    analysis = analysis_settings(args, AnalysisSettings())
    run_reference_free(
        image_dir=args.images,
        predictions={model.name: model.prediction_dir for model in models},
        label_maps={model.name: model.label_map for model in models},
        out_dir=args.out,
        cache_dir=cache_folder(args.out),
        cases_csv=args.cases,
        settings=settings,
        level=analysis.confidence_level,
        seed=analysis.seed,
        workers=args.workers,
        executor=ExecutorSettings(scheduler=args.scheduler) if args.scheduler else None,
        progress=progress,
        on_progress=on_progress,
    )
    names = ", ".join(str(args.out / name) for name in (PREDICTED_FILE, RESULTS_FILE, REPORT_FILE))
    print(f"wrote {names} (ranked by predicted quality: no reference used)", file=sys.stderr)
    return 0


def _model_sources(args: argparse.Namespace) -> list[ModelSource]:
    labels = dict(parse_name_value(value, option="--pred-labels") for value in args.pred_labels)
    models = []
    for value in args.pred:
        name, folder = parse_name_value(value, option="--pred")
        models.append(ModelSource(name, Path(folder), Path(labels.pop(name)) if name in labels else None))
    if labels:
        raise BatchConfigError(f"--pred-labels names '{sorted(labels)[0]}', which no --pred gives")
    names = [model.name for model in models]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise BatchConfigError(f"model name '{twice[0]}' is given twice")
    return models


def _config(args: argparse.Namespace) -> CompareConfig:
    if args.config is not None:
        if args.gt_dir or args.pred or args.pred_labels or args.gt_labels or args.images or args.cases:
            raise BatchConfigError(
                "give the files either in --config or as flags (--gt-dir, --pred, ...), not both"
            )
        config = load_config(args.config, workers=args.workers)
    else:
        if args.gt_dir is None or not args.pred:
            raise BatchConfigError("give --config, or --gt-dir and at least one --pred NAME=DIR")
        models = _model_sources(args)
        config = CompareConfig(
            gt_dir=args.gt_dir,
            models=tuple(models),
            gt_label_map=args.gt_labels,
            image_dir=args.images,
            cases_csv=args.cases,
            workers=args.workers,
        )
    scoring = config.scoring
    scoring = ScoringSettings(
        nsd_tolerance_mm=scoring.nsd_tolerance_mm if args.nsd_tolerance is None else args.nsd_tolerance,
        surface=args.surface or scoring.surface,
        hd95=args.hd95 or scoring.hd95,
        resample_pred=scoring.resample_pred or args.resample_pred,
        trust_gt_geometry=scoring.trust_gt_geometry or args.trust_gt_geometry,
        device=args.device or scoring.device,
    )
    executor = config.executor if args.scheduler is None else ExecutorSettings(scheduler=args.scheduler)
    return replace(
        config, scoring=scoring, analysis=analysis_settings(args, config.analysis), executor=executor
    )


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())
