"""``segquality select``: of several models' segmentations of one case, keep per structure the one the
estimator predicts best (no reference needed); with ``--reference``, measure what that gained."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from ..errors import SegQualityError
from ..io.labelmaps import normalize_structure_name
from ..io.outputs import atomic_file, check_output_path
from .estimate import _progress, add_estimator_arguments, add_image_arguments, add_progress_arguments


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "select",
        help="keep per structure the model predicted best (ground-truth-free selection)",
        description=(
            "Estimate every candidate segmentation's Dice per structure with the quality estimator, "
            "using the other candidates as agreement, and keep per structure the candidate predicted "
            "best (ties: the first given; an empty mask only when every candidate is empty). Writes "
            "the selected label image (--out), its label map (<out>.labels.json) and a CSV "
            "(<out>.selection.csv: structure, chosen model, each candidate's predicted Dice). Where "
            "two chosen masks overlap, the voxel goes to the structure predicted better. With "
            "--reference, every candidate and the selection are scored and the mean Dice of the "
            "selection against the best single model (the Dice gain) is printed and written to "
            "<out>.reference.json."
        ),
    )
    add_image_arguments(parser)
    parser.add_argument(
        "--seg",
        action="append",
        default=[],
        required=True,
        metavar="NAME=PATH",
        help="a candidate: model name and its label image, .seg.nrrd or mask folder (at least two)",
    )
    parser.add_argument("--labels", type=Path, help="label map JSON shared by the --seg files")
    parser.add_argument(
        "--seg-labels",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="label map JSON of one candidate, overriding --labels (repeatable)",
    )
    parser.add_argument("--reference", type=Path, help="reference segmentation: score what selection gained")
    parser.add_argument("--reference-labels", type=Path, help="label map JSON of --reference")
    add_estimator_arguments(parser)
    parser.add_argument("--out", required=True, type=Path, help="selected label image, e.g. selected.nii.gz")
    add_progress_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..io import check_finite_volume, read_volume
    from ..quality.files import read_segmentation
    from ..segmenters.output import label_map_path_for, sidecar_path_for

    channel_paths = _pairs(args.channel, option="--channel", example="T1c=t1c.nii.gz")
    seg_paths = _pairs(args.seg, option="--seg", example="fast=pred_fast.nii.gz")
    label_paths = _pairs(args.seg_labels, option="--seg-labels", example="fast=labels.json")
    if len(seg_paths) < 2:
        raise SelectArgumentError(f"--seg: give at least two candidates (NAME=PATH), got {len(seg_paths)}")
    for name in label_paths:
        if name not in seg_paths:
            raise SelectArgumentError(f"--seg-labels {name}: no --seg is named '{name}'")
    if args.reference_labels is not None and args.reference is None:
        raise SelectArgumentError("--reference-labels needs --reference")
    label_json = label_map_path_for(args.out)
    table_path = sidecar_path_for(args.out, ".selection.csv")
    reference_json = sidecar_path_for(args.out, ".reference.json")
    inputs = [("--image", args.image), ("--labels", args.labels), ("--reference", args.reference),
              ("--reference-labels", args.reference_labels), ("--weights", args.weights),
              *(("--seg", path) for path in seg_paths.values()),
              *(("--seg-labels", path) for path in label_paths.values()),
              *(("--channel", path) for path in channel_paths.values())]  # fmt: skip
    for path in (args.out, label_json, table_path, *([reference_json] if args.reference else [])):
        check_output_path(path, option="--out", inputs=inputs)
    volume = read_volume(args.image)
    check_finite_volume(volume)
    channels = {}
    for sequence, path in channel_paths.items():
        channels[sequence] = read_volume(path)
        check_finite_volume(channels[sequence])
    candidates = {
        name: read_segmentation(
            path,
            label_map=label_paths.get(name, args.labels),
            reference=volume.geometry,
            reference_name=str(args.image),
        )
        for name, path in seg_paths.items()
    }
    reference = None
    if args.reference is not None:
        reference = read_segmentation(
            args.reference,
            label_map=args.reference_labels,
            reference=volume.geometry,
            reference_name=str(args.image),
        )
    # torch and the estimator load only once the inputs are known to be good (they take seconds).
    import torch

    from ..quality.selection import select_by_predicted_quality
    from ..segmenters.output import write_segmentation

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    with _progress(lines=args.progress, bar=not args.no_progress_bar, desc="select") as report:
        selection = select_by_predicted_quality(
            volume,
            candidates,
            channels=channels,
            sequence=args.sequence,
            mode=args.mode,
            progress=report,
            weights=args.weights,
            device=args.device,
            modality=args.modality,
        )
    write_segmentation(selection.segmentation, args.out)
    with atomic_file(table_path, newline="") as handle:
        rows = selection.rows()
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["structure", "chosen_model"])
        writer.writeheader()
        writer.writerows(rows)
    counts = {}
    for record in selection.structures:
        counts[record.chosen_model] = counts.get(record.chosen_model, 0) + 1
    chosen = ", ".join(f"{model} {count}" for model, count in counts.items())
    print(f"{len(selection.structures)} structures selected ({chosen}): {args.out}", file=sys.stderr)
    if reference is not None:
        from ..quality.selection_scores import score_selection

        scores = score_selection(selection, candidates, reference, device=args.device)
        with atomic_file(reference_json) as handle:
            json.dump(scores.as_dict(), handle, indent=1)
            handle.write("\n")
        print(
            f"mean Dice over {len(scores.structures)} reference structures: selection "
            f"{scores.selection_mean_dice:.4f}, best single model {scores.best_single_model} "
            f"{scores.best_single_mean_dice:.4f}, Dice gain {scores.dice_gain:+.4f} (oracle "
            f"{scores.oracle_mean_dice:.4f}, random pick {scores.random_mean_dice:.4f}): {reference_json}"
        )
    return 0


class SelectArgumentError(SegQualityError):
    """A command-line value of ``select`` is malformed."""


def _pairs(texts, *, option: str, example: str) -> dict[str, Path]:
    """``NAME=PATH`` values as a dict; a missing ``=``, an empty side or a repeated name is an error."""
    found: dict[str, Path] = {}
    keys: dict[str, str] = {}
    for text in texts:
        name, separator, path = text.partition("=")
        if not separator or not name.strip() or not path:
            raise SelectArgumentError(f"{option} '{text}': expected NAME=PATH, e.g. {example}")
        first = keys.setdefault(normalize_structure_name(name), name)
        if first in found:
            raise SelectArgumentError(
                f"{option} {name}: the name '{first}' is given twice (once case, spaces, hyphens and "
                "underscores are ignored); give each a different name"
            )
        found[name] = Path(path)
    return found
