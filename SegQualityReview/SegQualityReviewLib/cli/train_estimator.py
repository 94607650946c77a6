"""``segquality train-estimator``: train, calibrate and evaluate a quality estimator on labelled cases."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import InputFileError
from ..io.outputs import check_output_path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train-estimator",
        help="train the ground-truth-free quality estimator on labelled cases",
        description=(
            "Train the slice network on the 'train' split (synthetic edits of references and real model "
            "outputs, Dice targets from the metric core), compute the conformal interval on the "
            "'calibration' split (monotone calibration and interval), save safetensors weights, and "
            "evaluate on 'test' and 'heldout_family'. Cases come from ../shared/data (--shared-data) or a "
            "JSON case list (--cases). --init-weights fine-tunes an existing estimator file instead; with "
            "--epochs 0 it is only recalibrated."
        ),
    )
    add_case_source(parser)
    parser.add_argument("--out", required=True, type=Path, help="weights file to write (.safetensors)")
    parser.add_argument("--report", required=True, type=Path, help="folder for evaluation.json and plots")
    parser.add_argument("--backbone", default="vit_tiny_patch16_224", help="timm model name")
    parser.add_argument(
        "--backbone-options",
        default='{"patch_size": 8, "depth": 4}',
        help="JSON keyword arguments for timm.create_model (default shrinks the ViT)",
    )
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--pretrained", type=Path, help="EfficientNet checkpoint with _blocks-style names")
    start.add_argument(
        "--init-weights",
        type=Path,
        help="estimator weights (.safetensors) to fine-tune; its backbone, mask mode and image size are "
        "used and --backbone, --backbone-options, --mask-mode, --image-size are ignored",
    )
    parser.add_argument("--mask-mode", choices=("channel", "red_blend"), default="channel")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3, help="0 with --init-weights: recalibrate only")
    parser.add_argument(
        "--learning-rate", type=float, default=1e-3, help="peak of the one-cycle schedule (fine-tuning: 1e-4)"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--edits-per-structure", type=int, default=6)
    parser.add_argument(
        "--slices-per-candidate", type=int, default=8, help="training slices per candidate mask"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 was fastest on 2 cores)")
    parser.add_argument(
        "--weights-format",
        choices=("int8", "float16"),
        default="int8",
        help="int8 kernels with per-channel scales (default, about half the size) or all float16",
    )
    parser.set_defaults(run=run)


def add_case_source(parser: argparse.ArgumentParser) -> None:
    """--shared-data or --cases, one of them required: where the labelled cases come from."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--shared-data", type=Path, help="the shared data folder (built-in catalogue and split)"
    )
    source.add_argument("--cases", type=Path, help="JSON case list (see docs/estimator.md)")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..quality.cases import cases_from
    from ..quality.encoding import EncodingConfig
    from ..quality.model import ModelConfig
    from ..quality.pipeline import TrainingSetupError, train_estimator
    from ..quality.samples import SampleOptions
    from ..quality.training import TrainingOptions

    inputs = [("--init-weights", args.init_weights), ("--pretrained", args.pretrained), ("--cases", args.cases),
              ("--shared-data", args.shared_data)]  # fmt: skip
    check_output_path(args.out, option="--out", inputs=inputs)
    check_output_path(args.report, option="--report", inputs=inputs, folder=True)
    torch.set_num_threads(args.threads)
    if args.init_weights is not None and not args.init_weights.is_file():
        raise InputFileError(f"{args.init_weights}: --init-weights file not found")
    if args.epochs < 0 or (args.epochs == 0 and args.init_weights is None):
        raise TrainingSetupError(f"--epochs {args.epochs}: use 1 or more (0 only with --init-weights)")
    cases = cases_from(shared_data=args.shared_data, case_file=args.cases)
    try:
        backbone_options = json.loads(args.backbone_options)
    except json.JSONDecodeError as error:
        raise InputFileError(f"--backbone-options: not valid JSON ({error})") from None
    report = train_estimator(
        cases,
        out_weights=args.out,
        report_folder=args.report,
        quantize=None if args.weights_format == "float16" else "int8",
        model_config=ModelConfig(backbone=args.backbone, backbone_options=backbone_options),
        encoding=EncodingConfig(image_size=args.image_size, mask_mode=args.mask_mode),
        sample_options=SampleOptions(
            edits_per_structure=args.edits_per_structure,
            slices_per_candidate=args.slices_per_candidate,
            seed=args.seed,
        ),
        training_options=TrainingOptions(
            epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed
        ),
        pretrained_checkpoint=args.pretrained,
        init_weights=args.init_weights,
    )
    for split in ("test", "heldout_family"):
        if split in report:
            summary = {k: report[split].get(k) for k in ("n", "mae", "pearson", "auroc_below_threshold")}
            print(f"{split}: {summary}")
    return 0
