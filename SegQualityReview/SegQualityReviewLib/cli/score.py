"""``segquality score``: every metric for every structure of one prediction against its reference."""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

from ..errors import InputFileError
from ..io import read_structure_folder, read_structures


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
        "--nsd-tolerance", type=float, default=2.0, metavar="MM", help="NSD tolerance in mm (default 2)"
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
    parser.add_argument(
        "--resample-pred",
        action="store_true",
        help="resample the prediction onto the reference grid (nearest neighbour) instead of refusing a mismatch",
    )
    parser.add_argument("--out", required=True, type=Path, help="CSV to write, one row per structure")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..metrics import StructureScore, score_structure_sets

    gt = _read(args.gt, labels=args.gt_labels)
    pred = _read(
        args.pred,
        labels=args.pred_labels,
        reference=gt.geometry,
        reference_name=str(args.gt),
        resample=args.resample_pred,
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
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for score in scores:
                writer.writerow({key: _cell(value) for key, value in score.as_row().items()})
    except OSError as error:
        raise InputFileError(f"{args.out}: cannot write the scores ({error.strerror})") from None
    _print_summary(scores)
    print(f"wrote {len(scores)} structures to {args.out}", file=sys.stderr)
    return 0


def _read(path: Path, *, labels: Path | None, **reference):
    if path.is_dir():
        return read_structure_folder(path, reference=reference.get("reference"))
    return read_structures(path, label_map=labels, **reference)


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
