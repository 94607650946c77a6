"""``segquality segment``: run one segmenter on one image in a separate process and write a label image."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputFileError
from ..io.outputs import check_output_path
from ..segmenters.box_prompts import (
    DEFAULT_MARGIN_PX,
    DEFAULT_PROPAGATION,
    MODALITY_CHOICES,
    PROPAGATION_CHOICES,
    MedSAMPrompt,
    VoxelBox,
    parse_ras_corners,
)


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
        "--model-config",
        type=Path,
        help="YAML for torch/nnunet models; label-map JSON for masks:; a prompt file for medsam",
    )
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--out", required=True, type=Path, help="output label image, e.g. S.nii.gz")
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds before the run is stopped (3600)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    _add_medsam_options(parser)
    parser.set_defaults(run=run)


def _add_medsam_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "medsam prompt",
        "One box prompt for --model medsam; OUT's .medsam.json then records the box used on each slice.",
    )
    group.add_argument(
        "--box",
        metavar="I0,J0,K0,I1,J1,K1",
        help="3D box of inclusive voxel indices in ITK order (i column, j row, k slice; from 0)",
    )
    group.add_argument(
        "--box-ras",
        metavar="R0,A0,S0,R1,A1,S1",
        help="3D box by two opposite corners in mm, RAS world coordinates as Slicer shows them (LPS with x, y "
        "negated); covers the voxels whose centres lie inside. Write --box-ras=-12.5,... for a leading minus",
    )
    group.add_argument(
        "--boxes-from", type=Path, metavar="SEG", help="prompt each slice with SEG's box of --structure"
    )
    group.add_argument(
        "--boxes-labels",
        type=Path,
        metavar="JSON",
        help="label map of --boxes-from (default: SEG's .labels.json)",
    )
    group.add_argument(
        "--structure", metavar="NAME", help="the structure's name (output; with --boxes-from also the input)"
    )
    group.add_argument(
        "--propagation",
        choices=PROPAGATION_CHOICES,
        help=f"3D boxes: the same box on every slice, or grown from the middle slice ({DEFAULT_PROPAGATION})",
    )
    group.add_argument(
        "--box-margin",
        type=int,
        metavar="PX",
        help=f"pixels added around each propagated or segment box ({DEFAULT_MARGIN_PX})",
    )
    group.add_argument(
        "--modality", choices=MODALITY_CHOICES, help="intensity mapping: CT window, MR percentiles (auto)"
    )


def _medsam_prompt(args: argparse.Namespace) -> MedSAMPrompt | None:
    """The prompt the medsam options describe, or None when none is given."""
    options = (args.box, args.box_ras, args.boxes_from, args.boxes_labels, args.structure)
    options += (args.propagation, args.box_margin, args.modality)
    if all(option is None for option in options):
        return None
    return MedSAMPrompt(
        box=None if args.box is None else VoxelBox.parse(args.box),
        box_ras=None if args.box_ras is None else parse_ras_corners(args.box_ras),
        boxes_from=args.boxes_from,
        boxes_labels=args.boxes_labels,
        structure=args.structure,
        propagation=args.propagation or DEFAULT_PROPAGATION,
        margin_px=DEFAULT_MARGIN_PX if args.box_margin is None else args.box_margin,
        modality=args.modality or "auto",
    )


def run(args: argparse.Namespace) -> int:
    from ..process.progress_lines import ProcessEvent, format_progress
    from ..process.segment_job import RECORD_ENDING, SegmentationJob, SegmentationRequest
    from ..segmenters.output import label_map_path_for, sidecar_path_for

    if not args.image.exists():
        raise InputFileError(f"{args.image}: file not found")
    inputs = [("--image", args.image), ("--model-config", args.model_config)]
    if args.model.startswith("masks:"):
        inputs.append(("--model", Path(args.model[len("masks:") :])))
    inputs += [("--boxes-from", args.boxes_from), ("--boxes-labels", args.boxes_labels)]
    check_output_path(args.out, option="--out", inputs=inputs)
    check_output_path(label_map_path_for(args.out), option="--out's label map", inputs=inputs)
    check_output_path(
        sidecar_path_for(args.out, RECORD_ENDING), option="--out's MedSAM record", inputs=inputs
    )
    request = SegmentationRequest(
        image=args.image,
        model=args.model,
        out=args.out,
        model_config=args.model_config,
        device=args.device,
        prompt=_medsam_prompt(args),
    )

    def show(event: ProcessEvent) -> None:
        if args.quiet or event.kind == "error":
            return
        text = format_progress(event.fraction, event.message) if event.kind == "progress" else event.message
        print(text, file=sys.stderr, flush=True)

    out = SegmentationJob(request).run(timeout_s=args.timeout, on_event=show)
    print(out)
    return 0
