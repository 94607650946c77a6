"""``segquality segment``: run one segmenter on one image in a separate process and write a label image."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputFileError
from ..io.outputs import check_output_path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "segment",
        help="segment an image with a model (built-in, TorchScript, nnU-Net, TotalSegmentator, stored masks)",
        description=(
            "Run a segmenter out of process on one image. Writes OUT (a label image on the input's grid) and "
            "OUT's .labels.json (label value -> structure name). Progress lines go to stderr as "
            "'PROGRESS <fraction> <message>'. See `segquality models` for the model names."
        ),
    )
    parser.add_argument("--image", required=True, type=Path, help="CT/MR image file or DICOM folder")
    parser.add_argument("--model", required=True, help="model name (segquality models), or masks:PATH")
    parser.add_argument(
        "--model-config", type=Path, help="YAML for torch/nnunet models; label-map JSON for masks:"
    )
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--out", required=True, type=Path, help="output label image, e.g. S.nii.gz")
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds before the run is stopped (3600)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..process.progress_lines import ProcessEvent, format_progress
    from ..process.segment_job import SegmentationJob, SegmentationRequest
    from ..segmenters.output import label_map_path_for

    if not args.image.exists():
        raise InputFileError(f"{args.image}: file not found")
    inputs = [("--image", args.image), ("--model-config", args.model_config)]
    if args.model.startswith("masks:"):
        inputs.append(("--model", Path(args.model[len("masks:") :])))
    check_output_path(args.out, option="--out", inputs=inputs)
    check_output_path(label_map_path_for(args.out), option="--out's label map", inputs=inputs)
    request = SegmentationRequest(
        image=args.image, model=args.model, out=args.out, model_config=args.model_config, device=args.device
    )

    def show(event: ProcessEvent) -> None:
        if args.quiet or event.kind == "error":
            return
        text = format_progress(event.fraction, event.message) if event.kind == "progress" else event.message
        print(text, file=sys.stderr, flush=True)

    out = SegmentationJob(request).run(timeout_s=args.timeout, on_event=show)
    print(out)
    return 0
