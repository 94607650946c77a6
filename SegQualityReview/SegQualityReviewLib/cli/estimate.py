"""``segquality estimate``: predicted Dice per structure without a reference, with flags and worst slices."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from contextlib import contextmanager
from pathlib import Path

from ..errors import SegQualityError
from ..io.outputs import check_output_path
from .arguments import fraction


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="predict each structure's Dice without a reference (flag structures to review)",
        description=(
            "Estimate the Dice of every structure of a segmentation with the trained quality estimator "
            "(no ground truth needed): classical QC, a ViT head on LiteMedSAM's image encoder, the MedSAM "
            "second opinion and agreement with --other-seg, fused. Writes one CSV row per declared "
            "structure: structure, status (ok, or empty_pred / both_empty / not_evaluable for an empty "
            "one), predicted_dice, interval_low, interval_high (split-conformal, 90%), flagged "
            "(predicted < threshold), worst_slice (z index to review first), signal_set and each "
            "signal's own value; the per-slice scores go to a JSON side file. Modes: default (24 "
            "encoded slices; MedSAM for the structures closest to the threshold, 120 boxes), thorough "
            "(96 slices, MedSAM for every structure; slower), classical (no LiteMedSAM, as on Python 3.9)."
        ),
    )
    add_image_arguments(parser)
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
    add_estimator_arguments(parser)
    parser.add_argument("--out", required=True, type=Path, help="CSV to write, one row per structure")
    parser.add_argument(
        "--slices-out", type=Path, help="per-slice scores JSON (default: next to --out, suffix .slices.json)"
    )
    add_progress_arguments(parser)
    parser.set_defaults(run=run)


def add_image_arguments(parser: argparse.ArgumentParser) -> None:
    """--image, --sequence and --channel: the case's images, as estimate and select read them."""
    parser.add_argument("--image", required=True, type=Path, help="intensity image (file or DICOM folder)")
    parser.add_argument(
        "--sequence",
        choices=("CT", "FLAIR", "T1", "T1c", "T2", "MR"),
        help="what --image is (default: CT or MR from --modality)",
    )
    parser.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="SEQUENCE=PATH",
        help="another image of the case on the same grid, e.g. T1c=t1c.nii.gz (repeatable; every MR "
        "sequence is encoded)",
    )


def add_estimator_arguments(parser: argparse.ArgumentParser) -> None:
    """--weights, --modality, --device, --mode and --threads of the quality estimator."""
    parser.add_argument("--weights", type=Path, help="estimator weights (.safetensors); default: shipped")
    parser.add_argument("--modality", choices=("auto", "CT", "MR"), default="auto")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--mode", choices=("default", "thorough", "classical"), default="default")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice, all cores)")


def add_progress_arguments(parser: argparse.ArgumentParser) -> None:
    """--progress (machine-readable lines) and --no-progress-bar."""
    parser.add_argument(
        "--progress",
        action="store_true",
        help="print 'progress <fraction> <step>' lines instead of the progress bar",
    )
    parser.add_argument("--no-progress-bar", action="store_true", help="no progress bar in a terminal")


def run(args: argparse.Namespace) -> int:
    from ..io import check_finite_volume, read_structure_folder, read_structures, read_volume

    slices_path = args.slices_out or args.out.with_suffix(".slices.json")
    channel_paths = {}
    for text in args.channel:
        sequence, separator, path = text.partition("=")
        if not separator or not path:
            raise EstimateArgumentError(f"--channel '{text}': expected SEQUENCE=PATH, e.g. T1c=t1c.nii.gz")
        channel_paths[sequence] = Path(path)
    inputs = [("--image", args.image), ("--seg", args.seg), ("--labels", args.labels),
              ("--other-labels", args.other_labels), ("--weights", args.weights),
              *(("--other-seg", path) for path in args.other_seg),
              *(("--channel", path) for path in channel_paths.values())]  # fmt: skip
    check_output_path(args.out, option="--out", inputs=inputs)
    check_output_path(slices_path, option="--slices-out", inputs=[*inputs, ("--out", args.out)])
    volume = read_volume(args.image)
    check_finite_volume(volume)
    channels = {}
    for sequence, path in channel_paths.items():
        channels[sequence] = read_volume(path)
        check_finite_volume(channels[sequence])

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

    with _progress(lines=args.progress, bar=not args.no_progress_bar) as report:
        estimates = estimate_quality(
            volume,
            structures,
            threshold=args.threshold,
            weights=args.weights,
            device=args.device,
            other_segmentations=others,
            modality=args.modality,
            progress=report,
            channels=channels,
            sequence=args.sequence,
            mode=args.mode,
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
    empty = sum(e.status != "ok" for e in estimates)
    print(
        f"{len(estimates)} structures ({empty} empty), {flagged} flagged below {args.threshold}: {args.out}",
        file=sys.stderr,
    )
    notes = {e.signal("encoder") for e in estimates if e.signal("encoder")}
    for note in notes:
        print(f"estimate: without the LiteMedSAM signals ({note})", file=sys.stderr)
    return 0


class EstimateArgumentError(SegQualityError):
    """A command-line value of ``estimate`` is malformed."""


@contextmanager
def _progress(*, lines: bool, bar: bool, desc: str = "estimate"):
    """``progress`` lines, a tqdm bar on a terminal, or nothing."""
    if lines:

        def report(fraction: float, step: str) -> None:
            print(f"progress {fraction:.3f} {step}", flush=True)

        yield report
        return
    if not bar or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=1000, desc=desc, unit="", bar_format="{l_bar}{bar}| {elapsed}<{remaining}") as meter:

        def update(fraction: float, step: str) -> None:
            meter.n = int(round(1000 * min(max(fraction, 0.0), 1.0)))
            meter.set_postfix_str(step[:40], refresh=False)
            meter.refresh()

        yield update
