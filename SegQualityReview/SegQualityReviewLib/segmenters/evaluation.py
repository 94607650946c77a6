"""Dice of the classical CT segmenters against TotalSegmentator's outputs on the shared cases, by name.

Run ``python -m SegQualityReviewLib.segmenters.evaluation [DATA_FOLDER]`` (default ``../shared/data``)
to print the table docs/segmenters.md reports. The reference structures are unions of TotalSegmentator
labels (``reference_unions``); a structure neither side has in the field of view is reported as such.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..io import StructureSet, read_structures, read_volume
from .agreement import pairwise_agreement
from .classical import ClassicalCTSegmenter
from .reference_unions import union_mask

# (case, image, TotalSegmentator prediction, its label map, note)
SHARED_CT_CASES = (
    (
        "ct",
        "totalsegmentator/ct/image.nii.gz",
        "totalsegmentator/ct/pred_total_v1.nii.gz",
        "totalsegmentator_total_v1.json",
        "",
    ),
    (
        "ct",
        "totalsegmentator/ct/image.nii.gz",
        "totalsegmentator/ct/pred_total_fast_v2_forcesplit.nii.gz",
        "totalsegmentator_total_v2.json",
        "",
    ),
    (
        "ct_sm",
        "totalsegmentator/ct_sm/image.nii.gz",
        "totalsegmentator/ct_sm/pred_total_v2.nii.gz",
        "totalsegmentator_total_v2.json",
        "30-slice crop of the same scan as ct: not independent",
    ),
    (
        "ct_dicom",
        "totalsegmentator/ct_dicom/dicom",
        "totalsegmentator/ct_dicom/pred_total_v2.nii.gz",
        "totalsegmentator_total_v2.json",
        "bone rule tuned here",
    ),
)


@dataclass(frozen=True)
class ReferenceComparison:
    """Dice of one of our structures against the union of TotalSegmentator's labels of the same name."""

    case: str
    reference: str
    structure: str
    dice: float
    status: str
    ours_ml: float
    reference_ml: float
    seconds: float
    note: str


def compare_with_totalsegmentator(
    ours: StructureSet,
    reference: StructureSet,
    *,
    case: str,
    reference_name: str,
    seconds: float,
    note: str = "",
) -> list[ReferenceComparison]:
    """Per structure of ``ours``: Dice against the TotalSegmentator union (same grid), with both volumes in ml."""
    voxel_ml = ours.geometry.voxel_volume_ml
    unions = {name: union_mask(reference, name) for name in ours.names}
    unions = {name: mask for name, mask in unions.items() if mask is not None}
    reference_set = StructureSet.from_masks(unions, ours.geometry, source=reference_name)
    rows = []
    for record in pairwise_agreement({"ours": ours, "reference": reference_set}):
        rows.append(
            ReferenceComparison(
                case=case,
                reference=reference_name,
                structure=record.structure,
                dice=record.dice,
                status=record.status,
                ours_ml=float(ours.mask(record.structure).sum()) * voxel_ml,
                reference_ml=float(unions[record.structure].sum()) * voxel_ml,
                seconds=seconds,
                note=note,
            )
        )
    return rows


def evaluate_shared_cases(data: Path) -> list[ReferenceComparison]:
    """Run ``classical-ct`` on each shared CT once and compare with each TotalSegmentator output of it."""
    rows: list[ReferenceComparison] = []
    results: dict[str, tuple[StructureSet, float]] = {}
    for case, image, prediction, label_map, note in SHARED_CT_CASES:
        volume = read_volume(data / image)
        if case not in results:
            started = time.perf_counter()
            results[case] = (ClassicalCTSegmenter().run(volume), time.perf_counter() - started)
        ours, seconds = results[case]
        reference = read_structures(
            data / prediction, label_map=data / "labelmaps" / label_map, reference=volume.geometry
        )
        rows += compare_with_totalsegmentator(
            ours, reference, case=case, reference_name=Path(prediction).name, seconds=seconds, note=note
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=Path("../shared/data"))
    args = parser.parse_args(argv)
    print("| case | reference | structure | Dice | ours ml | TS ml | run s | note |")
    print("|---|---|---|---|---|---|---|---|")
    for row in evaluate_shared_cases(args.data):
        dice = "n/a (absent in both)" if row.status == "both_empty" else f"{row.dice:.3f}"
        print(
            f"| {row.case} | {row.reference} | {row.structure} | {dice} | {row.ours_ml:.1f} | "
            f"{row.reference_ml:.1f} | {row.seconds:.1f} | {row.note} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
