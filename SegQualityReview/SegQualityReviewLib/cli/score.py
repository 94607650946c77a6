"""``segquality score``: every metric for every structure of one prediction against its reference."""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

from ..io import read_structure_folder, read_structures
from ..io.outputs import atomic_file, check_output_path
from .arguments import positive_number


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score a prediction against a reference, one CSV row per structure",
        description=(
            "Score a predicted segmentation against a reference segmentation. Structures are matched by "
            "name through the label maps (id -> name JSON); without label maps every non-zero value is a "
            "structure named label_<id>. A folder of binary masks (one file per structure) works on either side."
        ),
    )
    parser.add_argument(
        "--pred", required=True, type=Path, help="predicted label image, .seg.nrrd or mask folder"
    )
    parser.add_argument(
        "--gt", required=True, type=Path, help="reference label image, .seg.nrrd or mask folder"
    )
    parser.add_argument("--pred-labels", type=Path, help="label map JSON of the prediction")
    parser.add_argument("--gt-labels", type=Path, help="label map JSON of the reference")
    parser.add_argument(
        "--nsd-tolerance",
        type=positive_number,
        default=2.0,
        metavar="MM",
        help="NSD tolerance in mm (default 2)",
    )
    parser.add_argument(
        "--surface",
        choices=("surfel", "voxel"),
        default="surfel",
        help="surface definition: surfel = area-weighted surface elements (DeepMind, default), "
        "voxel = boundary voxels (MONAI, Metrics Reloaded)",
    )
    parser.add_argument(
        "--hd95",
        choices=("max", "pooled"),
        default="max",
        help="HD95: max of the two directed 95th percentiles (default) or of the pooled distances (MedPy)",
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    geometry = parser.add_mutually_exclusive_group()
    geometry.add_argument(
        "--resample-pred",
        action="store_true",
        help="resample the prediction onto the reference grid (nearest neighbour) instead of refusing a mismatch",
    )
    geometry.add_argument(
        "--trust-gt-geometry",
        action="store_true",
        help="the prediction's header is wrong: on the same voxel matrix, give it the reference's spacing, "
        "origin and direction",
    )
    parser.add_argument("--out", required=True, type=Path, help="CSV to write, one row per structure")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output_path(
        args.out,
        option="--out",
        inputs=[("--pred", args.pred), ("--gt", args.gt), ("--pred-labels", args.pred_labels),
                ("--gt-labels", args.gt_labels)],
    )  # fmt: skip
    from ..metrics import StructureScore, score_structure_sets

    gt = _read(args.gt, labels=args.gt_labels)
    pred = _read(
        args.pred,
        labels=args.pred_labels,
        reference=gt.geometry,
        reference_name=str(args.gt),
        resample=args.resample_pred,
        trust_reference_geometry=args.trust_gt_geometry,
    )
    scores = score_structure_sets(
        pred,
        gt,
        nsd_tolerance_mm=args.nsd_tolerance,
        surface=args.surface,
        hd95=args.hd95,
        device=args.device,
    )
    columns = [field for field in StructureScore.__dataclass_fields__]
    with atomic_file(args.out, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for score in scores:
            writer.writerow({key: _cell(value) for key, value in score.as_row().items()})
    _print_summary(scores)
    for note in _label_map_notes(pred, gt, scores):
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {len(scores)} structures to {args.out}", file=sys.stderr)
    return 0


def _read(path: Path, *, labels: Path | None, **reference):
    if path.is_dir():
        reference.pop("resample", None)
        return read_structure_folder(path, **reference)
    return read_structures(path, label_map=labels, **reference)


def _label_map_notes(pred, gt, scores) -> list[str]:
    """What the user should know about how structures were named, when a label map was left out."""
    notes = []
    empty = [s.structure for s in scores if s.status == "empty_pred"]
    if pred.implicit_labels and empty:
        notes.append(
            f"the prediction has no label map, so it declares every label value: {len(empty)} reference "
            f"structure(s) it holds no voxel of ({', '.join(empty[:5])}{' ...' if len(empty) > 5 else ''}) "
            "are scored empty_pred (Dice 0)"
        )
    matched = [s for s in scores if s.status != "not_supported"]
    if not matched and pred.implicit_labels != gt.implicit_labels:
        side = "--pred-labels" if pred.implicit_labels else "--gt-labels"
        notes.append(
            f"no structure matched by name: one side is named label_<value> for want of a label map; give {side}"
        )
    return notes


def _cell(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return value


def _print_summary(scores) -> None:
    print(f"{'structure':<32} {'status':<13} {'dice':>6} {'hd95':>8} {'nsd':>6}")
    for score in scores:
        print(
            f"{score.structure[:32]:<32} {score.status:<13} {_short(score.dice):>6} "
            f"{_short(score.hd95, 1):>8} {_short(score.nsd):>6}"
        )


def _short(value: float, digits: int = 3) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"
