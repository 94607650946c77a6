"""``segquality estimate``: predicted Dice per structure without a reference, with flags and worst slices."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from ..io.outputs import check_output_path
from .arguments import fraction


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="predict each structure's Dice without a reference (flag structures to review)",
        description=(
            "Estimate the Dice of every structure of a segmentation with the trained quality estimator "
            "(no ground truth needed). Writes one CSV row per structure: structure, predicted_dice, "
            "interval_low, interval_high (split-conformal, 90%), flagged (predicted < threshold), "
            "worst_slice (z index to review first), and the per-slice scores to a JSON side file."
        ),
    )
    parser.add_argument("--image", required=True, type=Path, help="intensity image (file or DICOM folder)")
    parser.add_argument("--seg", required=True, type=Path, help="label image, .seg.nrrd or mask folder")
    parser.add_argument("--labels", type=Path, help="label map JSON of the segmentation")
    parser.add_argument(
        "--other-seg",
        type=Path,
        action="append",
        default=[],
        help="another model's segmentation of the same image (repeatable): agreement is fused in",
    )
    parser.add_argument("--other-labels", type=Path, help="label map JSON shared by the --other-seg files")
    parser.add_argument(
        "--threshold", type=fraction, default=0.7, help="flag structures predicted below this Dice"
    )
    parser.add_argument("--weights", type=Path, help="estimator weights (.safetensors); default: shipped")
    parser.add_argument("--modality", choices=("auto", "CT", "MR"), default="auto")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice, all cores)")
    parser.add_argument("--out", required=True, type=Path, help="CSV to write, one row per structure")
    parser.add_argument(
        "--slices-out", type=Path, help="per-slice scores JSON (default: next to --out, suffix .slices.json)"
    )
    parser.add_argument(
        "--progress", action="store_true", help="print 'progress <fraction> <structure>' lines"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..io import check_finite_volume, read_structure_folder, read_structures, read_volume

    slices_path = args.slices_out or args.out.with_suffix(".slices.json")
    inputs = [("--image", args.image), ("--seg", args.seg), ("--labels", args.labels),
              ("--other-labels", args.other_labels), ("--weights", args.weights),
              *(("--other-seg", path) for path in args.other_seg)]  # fmt: skip
    check_output_path(args.out, option="--out", inputs=inputs)
    check_output_path(slices_path, option="--slices-out", inputs=[*inputs, ("--out", args.out)])
    volume = read_volume(args.image)
    check_finite_volume(volume)

    def read(path: Path, labels: Path | None):
        if path.is_dir():
            return read_structure_folder(path, reference=volume.geometry)
        return read_structures(
            path, label_map=labels, reference=volume.geometry, reference_name=str(args.image)
        )

    structures = read(args.seg, args.labels)
    others = [read(path, args.other_labels) for path in args.other_seg]
    # torch and the estimator load only once the inputs are known to be good (they take seconds).
    import torch

    from ..quality import estimate_quality

    if args.threads is not None:
        torch.set_num_threads(args.threads)

    def report(fraction: float, name: str) -> None:
        print(f"progress {fraction:.3f} {name}", flush=True)

    estimates = estimate_quality(
        volume,
        structures,
        threshold=args.threshold,
        weights=args.weights,
        device=args.device,
        other_segmentations=others,
        modality=args.modality,
        progress=report if args.progress else None,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=list(estimates[0].as_row()) if estimates else ["structure"]
        )
        writer.writeheader()
        for estimate in estimates:
            writer.writerow(estimate.as_row())
    side = {
        e.structure: [{"slice": z, "predicted_dice": round(p, 4)} for z, p in e.slice_scores]
        for e in estimates
    }
    slices_path.write_text(json.dumps(side, indent=1), encoding="utf-8")
    flagged = sum(e.flagged for e in estimates)
    print(
        f"{len(estimates)} structures, {flagged} flagged below {args.threshold}: {args.out}", file=sys.stderr
    )
    return 0
