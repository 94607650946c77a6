"""``segquality reanalyze``: recompute results.json from its cases.csv and fail when any number moved."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .arguments import non_negative_number

# Differences listed on stderr before the count of the rest.
_SHOWN = 20


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "reanalyze",
        help="recompute an analysis from OUT/cases.csv and check it against OUT/results.json",
        description=(
            "Recompute the analysis recorded in results.json from the cases.csv beside it, with the recorded "
            "settings (seed, B, metrics, model cards). Exits 0 when every number agrees within tolerance, "
            "1 when any differs (each listed on stderr)."
        ),
    )
    parser.add_argument("results", type=Path, help="results.json written by compare, analyze or demo")
    parser.add_argument(
        "--tolerance",
        type=non_negative_number,
        default=1e-9,
        help="relative tolerance per number (default 1e-9)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..batch.results import check_results

    checked = check_results(args.results, rel_tolerance=args.tolerance)
    if checked.absent_files:
        shown = ", ".join(checked.absent_files[:3]) + (" ..." if len(checked.absent_files) > 3 else "")
        print(
            f"{args.results}: note: {len(checked.absent_files)} recorded input file(s) are not here, so their "
            f"hashes were not checked: {shown}",
            file=sys.stderr,
        )
    differences = checked.differences
    if not differences:
        print(
            f"{args.results}: every number reproduced within relative tolerance {args.tolerance:g}, and the "
            "config hash, file hashes and imputation notes agree",
            file=sys.stderr,
        )
        return 0
    for difference in differences[:_SHOWN]:
        print(
            f"{difference.path}: recorded {difference.recorded!r}, recomputed {difference.recomputed!r}",
            file=sys.stderr,
        )
    if len(differences) > _SHOWN:
        print(f"... and {len(differences) - _SHOWN} more", file=sys.stderr)
    print(f"{args.results}: {len(differences)} entry(ies) differ", file=sys.stderr)
    return 1
