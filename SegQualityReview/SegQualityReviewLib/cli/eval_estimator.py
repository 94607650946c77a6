"""``segquality eval-estimator``: accuracy of estimator weights on patients they never saw."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.outputs import check_output_path
from .arguments import fraction
from .train_estimator import add_case_source


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval-estimator",
        help="evaluate a quality estimator against true Dice on patients it never saw",
        description=(
            "Score the 'evaluation' patients of the cases (never trained on) with the weights, as a "
            "user would: MAE, Pearson, Spearman, AUROC for Dice < threshold, flag precision and recall, "
            "coverage of the 90% interval, pooled with patient-bootstrap intervals and per patient, per signal set, "
            "beside the figures stored in the weights. --cross-validate also repeats the weights' "
            "leave-one-patient-out evaluation with their stored training options (the model card's "
            "main table; slow: it retrains a head and a fusion per patient). Writes evaluation.json."
        ),
    )
    add_case_source(parser)
    parser.add_argument("--weights", type=Path, help="estimator weights (.safetensors); default: shipped")
    parser.add_argument("--report", required=True, type=Path, help="folder for evaluation.json and plots")
    parser.add_argument("--threshold", type=fraction, default=0.7)
    parser.add_argument(
        "--cross-validate", action="store_true", help="repeat the leave-one-patient-out evaluation (slow)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..quality.cases import cases_from
    from ..quality.reporting import print_summary
    from ..quality.weights import load_bundle
    from ..quality.weights_evaluation import evaluate_weights

    inputs = [("--weights", args.weights), ("--cases", args.cases), ("--shared-data", args.shared_data)]
    check_output_path(args.report, option="--report", inputs=inputs, folder=True)
    torch.set_num_threads(args.threads)
    cases = cases_from(shared_data=args.shared_data, case_file=args.cases)
    report = evaluate_weights(
        load_bundle(args.weights),
        cases,
        cache_folder=args.cache_folder,
        report_folder=args.report,
        threshold=args.threshold,
        cross_validate=args.cross_validate,
        shared_data=args.shared_data,
    )
    print_summary(report)
    return 0
