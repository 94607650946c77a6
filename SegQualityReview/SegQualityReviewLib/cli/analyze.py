"""``segquality analyze``: the comparison analysis on a long-format score table that came from elsewhere."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..batch.config import DEFAULT_METRICS, AnalysisSettings
from .compare import add_analysis_arguments, analysis_settings


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="compare models from a long-format score table (e.g. a challenge's per-case results)",
        description=(
            "Run the analysis of `segquality compare` on a long table with columns case_id, patient_id, model, "
            "structure, metric, value and optionally status, failure_mode and metadata columns (site, scanner, "
            "...). Writes cases.csv, results.json and report.html (without thumbnails: no images are known)."
        ),
    )
    parser.add_argument("--scores", required=True, type=Path, help="long-format CSV score table")
    add_analysis_arguments(parser)
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..batch.long_table import read_long_table
    from ..batch.pipeline import run_analyze

    base = AnalysisSettings()
    if not args.metrics:
        present = list(
            dict.fromkeys(read_long_table(args.scores, blank=args.missing_blank or "refuse")["metric"])
        )
        # Without --metrics: dice, nsd and hd95 where the table has them, else every metric it holds.
        base = AnalysisSettings(metrics=tuple(m for m in DEFAULT_METRICS if m in present) or tuple(present))
    outputs = run_analyze(args.scores, analysis_settings(args, base), args.out)
    left_out = outputs.results["analysis"]["metrics_not_analysed"]
    if left_out:
        # Said, not dropped silently: the report lists them too.
        print(
            f"note: the table also holds {', '.join(left_out)}, not analysed (--metrics to include)",
            file=sys.stderr,
        )
    print(f"wrote {outputs.scores_path}, {outputs.results_path} and {outputs.report_path}", file=sys.stderr)
    return 0
