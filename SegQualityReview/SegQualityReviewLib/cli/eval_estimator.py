"""``segquality eval-estimator``: accuracy of an estimator on held-out cases and a held-out segmenter family."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..io.outputs import check_output_path
from .arguments import fraction
from .train_estimator import add_case_source


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval-estimator",
        help="evaluate a quality estimator against true Dice on held-out cases",
        description=(
            "Evaluate estimator weights on the 'test' split and on the 'heldout_family' split of the cases: "
            "MAE, Pearson, Spearman, AURC, AUROC for Dice < threshold, sensitivity at a 10%% flag rate, "
            "Kendall tau of rankings, best-candidate selection gain, beside the true-Dice distribution; "
            "plus the inter-model agreement baseline on real model outputs. Writes evaluation.json and plots."
        ),
    )
    add_case_source(parser)
    parser.add_argument("--weights", type=Path, help="estimator weights (.safetensors); default: shipped")
    parser.add_argument("--report", required=True, type=Path, help="folder for evaluation.json and plots")
    parser.add_argument("--threshold", type=fraction, default=0.7)
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic edits")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 was fastest on 2 cores)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..quality.cases import cases_from
    from ..quality.pipeline import evaluate_estimator
    from ..quality.samples import SampleOptions
    from ..quality.weights import load_bundle

    inputs = [("--weights", args.weights), ("--cases", args.cases), ("--shared-data", args.shared_data)]
    check_output_path(args.report, option="--report", inputs=inputs, folder=True)
    torch.set_num_threads(args.threads)
    cases = cases_from(shared_data=args.shared_data, case_file=args.cases)
    report = evaluate_estimator(
        load_bundle(args.weights),
        cases,
        report_folder=args.report,
        sample_options=SampleOptions(seed=args.seed),
        threshold=args.threshold,
    )
    print(json.dumps({k: v for k, v in report.items() if not isinstance(v, dict)}, sort_keys=True))
    for key, value in report.items():
        if isinstance(value, dict) and "n" in value:
            before = value.get("before_calibration", {})
            print(
                f"{key}: n={value['n']} mae={value.get('mae')} pearson={value.get('pearson')} "
                f"auroc={value.get('auroc_below_threshold')} (before calibration: mae={before.get('mae')} "
                f"pearson={before.get('pearson')})"
            )
    return 0
