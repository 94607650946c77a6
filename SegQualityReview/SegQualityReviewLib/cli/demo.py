"""``segquality demo``: the whole comparison flow end to end, on the shared data and a synthetic phantom."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..io.outputs import check_output_path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the end-to-end comparison demo into OUT (opens nothing)",
        description=(
            "Compare models end to end: on a SYNTHETIC CT-like phantom cohort this package generates (always), "
            "and on the real data in ../shared/data when present (BraTS algorithms vs their fusion; "
            "TotalSegmentator variants vs total). Writes OUT/index.html and one report per study."
        ),
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument(
        "--shared-data",
        type=Path,
        help="real-data folder (default $SEGQUALITY_SHARED_DATA or ../shared/data)",
    )
    parser.add_argument("--synthetic-only", action="store_true", help="skip the real-data studies")
    parser.add_argument("--n-resamples", type=int, default=None, help="bootstrap resamples B (default 2000)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: CPUs)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..batch.demo import DEMO_RESAMPLES, default_shared_data, run_demo

    shared_data = None if args.synthetic_only else (args.shared_data or default_shared_data())
    check_output_path(args.out, option="--out", inputs=[("--shared-data", shared_data)], folder=True)
    runs = run_demo(
        args.out,
        shared_data=shared_data,
        n_resamples=args.n_resamples or DEMO_RESAMPLES,
        workers=args.workers,
        progress=not args.no_progress,
    )
    for run_ in runs:
        print(f"{run_.study.name}: {run_.outputs.report_path}")
    print(f"index: {Path(args.out) / 'index.html'}")
    return 0
