"""``segquality train-estimator``: build samples, cross-validate, train and save the quality estimator."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..io.outputs import check_output_path
from .arguments import fraction, positive_integer


def default_cache_folder() -> Path:
    """Where sample tables and embeddings are kept between runs (``$XDG_CACHE_HOME/segquality/estimator``)."""
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "segquality" / "estimator"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train-estimator",
        help="train the ground-truth-free quality estimator on labelled cases",
        description=(
            "Build every case's candidates and signals (LiteMedSAM embeddings and answers are cached in "
            "--cache-folder), evaluate leave one patient out (ViT head, fusion, calibration and conformal "
            "interval all fitted without the held-out patient) beside the baselines and each signal "
            "alone, then fit the shipped estimator on every 'train' patient and score the 'evaluation' "
            "patients with it. Writes the weights (--out) with the figures in their metadata, and "
            "evaluation.json and plots (--report)."
        ),
    )
    add_case_source(parser)
    parser.add_argument(
        "--out", type=Path, help="weights file to write (.safetensors); omit to only evaluate"
    )
    parser.add_argument("--report", required=True, type=Path, help="folder for evaluation.json and plots")
    add_training_options(parser)
    parser.set_defaults(run=run)


def add_case_source(parser: argparse.ArgumentParser) -> None:
    """--shared-data or --cases, one of them required: where the labelled cases come from."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--shared-data", type=Path, help="the shared data folder (built-in catalogue)")
    source.add_argument("--cases", type=Path, help="JSON case list (see docs/estimator.md)")
    parser.add_argument(
        "--cache-folder",
        type=Path,
        default=default_cache_folder(),
        help="sample tables, embeddings and decoded boxes kept between runs (default: %(default)s)",
    )
    parser.add_argument("--threads", type=positive_integer, default=1, help="torch CPU threads (default 1)")


def add_training_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--learner", choices=("trees", "linear"), default="trees", help="fusion learner")
    parser.add_argument("--head-epochs", type=positive_integer, default=40)
    parser.add_argument(
        "--fuse-head",
        action="store_true",
        help="also fuse the learned ViT head's own Dice (left out by default: it lowered the "
        "leave-one-patient-out Pearson; see docs/estimator.md)",
    )
    parser.add_argument("--edits-per-structure", type=positive_integer, default=4)
    parser.add_argument(
        "--alpha", type=fraction, default=0.1, help="1 - interval coverage (default 0.1: 90%%)"
    )
    parser.add_argument("--seed", type=int, default=0)


def training_options(args: argparse.Namespace):
    from ..quality.candidates import CandidateOptions
    from ..quality.fusion_fit import NOT_FUSED, FusionOptions
    from ..quality.head_training import HeadTrainingOptions
    from ..quality.pipeline import TrainingOptions

    return TrainingOptions(
        candidates=CandidateOptions(edits_per_structure=args.edits_per_structure, seed=args.seed),
        head=HeadTrainingOptions(epochs=args.head_epochs, seed=args.seed),
        fusion=FusionOptions(
            learner=args.learner, seed=args.seed, exclude=() if args.fuse_head else NOT_FUSED
        ),
        alpha=args.alpha,
    )


def run(args: argparse.Namespace) -> int:
    import torch

    from ..quality.cases import cases_from
    from ..quality.pipeline import train_and_evaluate
    from ..quality.reporting import print_summary

    inputs = [("--cases", args.cases), ("--shared-data", args.shared_data)]
    if args.out is not None:
        check_output_path(args.out, option="--out", inputs=inputs)
    check_output_path(args.report, option="--report", inputs=inputs, folder=True)
    torch.set_num_threads(args.threads)
    cases = cases_from(shared_data=args.shared_data, case_file=args.cases)
    report = train_and_evaluate(
        cases,
        cache_folder=args.cache_folder,
        out_weights=args.out,
        report_folder=args.report,
        options=training_options(args),
        shared_data=args.shared_data,
    )
    print_summary(report)
    return 0
