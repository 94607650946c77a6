"""Does per-case selection by predicted quality beat the best single model? Dice on two real cases.

Cases (../shared/data, no manual ground truth on either, so each is scored against a pseudo-reference):
- BraTS ``brats_toolkit/TCGA-DU-7294``: 5 BraTS-2020 algorithms (``pred_*``), images FLAIR (primary),
  T1, T1c, T2; pseudo-reference ``fusion_mav`` (the BraTS-Toolkit majority vote OF these 5 models,
  so it favours whichever model sits closest to the consensus).
- TotalSegmentator ``totalsegmentator/ct_sm``: ``pred_total_fast_v2``, ``pred_total_fast_bodyseg_v2``,
  ``pred_total_v2_nnunetv2.1_2023-10`` (its own, older rib ids) and ``pred_total_v2_roi_subset_liver``
  (declares the liver only); pseudo-reference ``pred_total_v2`` (the full-resolution model), never a
  candidate.

For each case and ``--modes``, the selection runs as ``segquality select`` does
(``select_by_predicted_quality``, the other candidates as agreement) and ``score_selection`` gives the
mean Dice over the structures the pseudo-reference holds: selection, every single model, the oracle
(per structure the truly best candidate) and a random pick (the exact expectation of a uniform choice
among the candidates declaring the structure). Prints one table per case and mode, with the share of
the best-single-to-oracle gap the selection closes.

Run: ``.venv/bin/python benchmarks/bench_selection.py [--modes classical default] [--cases brats ct_sm]
[--device cpu] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

SHARED_DATA = Path(
    os.environ.get("SEGQUALITY_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)


def brats_case():
    from SegQualityReviewLib.io import read_structures, read_volume

    folder = SHARED_DATA / "brats_toolkit" / "TCGA-DU-7294"
    labels = SHARED_DATA / "labelmaps" / "brats_2017_2020.json"
    volume = read_volume(folder / "image_flair.nii.gz")
    channels = {seq: read_volume(folder / f"image_{seq.lower()}.nii.gz") for seq in ("T1", "T1c", "T2")}

    def read(path):
        return read_structures(path, label_map=labels, reference=volume.geometry, reference_name=str(path))

    candidates = {
        p.name[len("pred_") : -len(".nii.gz")]: read(p) for p in sorted(folder.glob("pred_*.nii.gz"))
    }
    return dict(volume=volume, channels=channels, sequence="FLAIR", candidates=candidates,
                reference=read(folder / "fusion_mav.nii.gz"))  # fmt: skip


def ct_sm_case():
    from SegQualityReviewLib.io import LabelMap, read_structures, read_volume

    folder = SHARED_DATA / "totalsegmentator" / "ct_sm"
    maps = SHARED_DATA / "labelmaps"
    volume = read_volume(folder / "image.nii.gz")
    v2, old_ribs = (
        maps / "totalsegmentator_total_v2.json",
        maps / "totalsegmentator_total_v2_before_2024-03-14.json",
    )
    liver_only = LabelMap(names_by_value={5: "liver"}, source="liver-only")

    def read(name, label_map):
        path = folder / f"{name}.nii.gz"
        return read_structures(path, label_map=label_map, reference=volume.geometry, reference_name=str(path))

    candidates = {
        "total_fast_v2": read("pred_total_fast_v2", v2),
        "total_fast_bodyseg_v2": read("pred_total_fast_bodyseg_v2", v2),
        "total_v2_2023-10": read("pred_total_v2_nnunetv2.1_2023-10", old_ribs),
        "roi_subset_liver": read("pred_total_v2_roi_subset_liver", liver_only),
    }
    return dict(volume=volume, channels={}, sequence="CT", candidates=candidates,
                reference=read("pred_total_v2", v2))  # fmt: skip


CASES = {"brats": brats_case, "ct_sm": ct_sm_case}


def run_case(name: str, mode: str, *, device: str, cache_folder: Path) -> dict:
    from SegQualityReviewLib.quality.selection import select_by_predicted_quality
    from SegQualityReviewLib.quality.selection_scores import score_selection

    case = CASES[name]()
    started = time.perf_counter()
    selection = select_by_predicted_quality(
        case["volume"], case["candidates"], channels=case["channels"], sequence=case["sequence"],
        mode=mode, device=device, cache_folder=cache_folder / name,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    scores = score_selection(selection, case["candidates"], case["reference"], device=device)
    picked_oracle = sum(abs(s.selection_dice - s.oracle_dice) < 1e-9 for s in scores.structures)
    gap = scores.oracle_mean_dice - scores.best_single_mean_dice
    records = {r.structure: r for r in selection.structures}
    # Baselines on the same structures: the chosen candidate's own Dice before the label image resolves
    # overlaps, and a choice by agreement alone (the candidate agreeing best with the others).
    unassembled = [s.dice_by_model[s.chosen_model] for s in scores.structures]
    by_agreement = []
    for row in scores.structures:
        filled = [c for c in records[row.structure].candidates if not c.empty] or list(
            records[row.structure].candidates
        )
        best = max(filled, key=lambda c: c.agreement_dice if c.agreement_dice == c.agreement_dice else -1.0)
        by_agreement.append(row.dice_by_model[best.model])
    result = {
        "case": name,
        "mode": mode,
        "seconds": round(seconds, 1),
        "structures_scored": len(scores.structures),
        "selection": scores.selection_mean_dice,
        "best_single_model": scores.best_single_model,
        "best_single": scores.best_single_mean_dice,
        "dice_gain": scores.dice_gain,
        "oracle": scores.oracle_mean_dice,
        "random": scores.random_mean_dice,
        "selection_before_overlaps": sum(unassembled) / len(unassembled),
        "agreement_alone": sum(by_agreement) / len(by_agreement),
        "gap_closed": (scores.dice_gain / gap) if gap >= 0.005 else None,
        "selection_matches_oracle": picked_oracle,
        "mean_dice_by_model": dict(scores.mean_dice_by_model),
        "hallucinated": dict(scores.hallucinated),
        "chosen": {r.structure: r.chosen_model for r in selection.structures},
        "reassigned_voxels": sum(r.reassigned_voxels for r in selection.structures),
    }
    print(f"\n{name}, mode {mode}: {result['seconds']} s, {len(scores.structures)} structures scored")
    print(f"  {'selection':32s} {result['selection']:.4f}")
    for model, value in scores.mean_dice_by_model.items():
        print(f"  {model:32s} {value:.4f}")
    print(f"  {'oracle (per-structure best)':32s} {result['oracle']:.4f}")
    print(f"  {'random pick (expected)':32s} {result['random']:.4f}")
    print(f"  {'selection, before overlaps':32s} {result['selection_before_overlaps']:.4f}")
    print(f"  {'choice by agreement alone':32s} {result['agreement_alone']:.4f}")
    print(f"  Dice gain vs best single ({scores.best_single_model}): {result['dice_gain']:+.4f}; "
          f"vs random {result['selection'] - result['random']:+.4f}; "
          f"gap to oracle closed {_share(result['gap_closed'], gap)}; "
          f"selection = oracle on {picked_oracle}/{len(scores.structures)} structures")  # fmt: skip
    return result


def _share(closed: float, gap: float) -> str:
    """The share of the best-single-to-oracle gap closed; meaningless when the oracle barely beats it."""
    return f"{closed:.0%}" if gap >= 0.005 else f"n/a (oracle only {gap:+.4f} above the best single model)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["classical", "default"])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="write every figure here too")
    args = parser.parse_args()
    if not (SHARED_DATA / "manifest.json").is_file():
        sys.exit(f"real data not found at {SHARED_DATA} (set SEGQUALITY_SHARED_DATA)")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-selection-") as cache:
        for mode in args.modes:
            for name in args.cases:
                results.append(run_case(name, mode, device=args.device, cache_folder=Path(cache)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
