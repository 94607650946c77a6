"""Speed of the metric core against DeepMind surface-distance and MONAI, on the same pairs in one run.

Cases: ellipsoid pairs at 128^3, 256^3 and 512x512x256 voxels (x, y, z) with spacing (0.8, 0.8, 2.5) mm,
and the real multi-label TotalSegmentator ``ct`` case (v1 fast against v1 total, structures both declare
and fill). Each method computes Dice, HD95, NSD at 2 mm and ASSD: ours in ``surfel`` mode against
surface-distance (its definitions), ours in ``voxel`` mode against MONAI (its definitions).

Every measurement runs in a fresh (spawned) child: seconds are the best of ``--repeats``; memory is the peak
resident memory above what the child held at its start (Linux ``VmHWM``). The last column is the
largest relative difference of the four values from the peer's.

Run: ``.venv/bin/python benchmarks/bench_metrics.py [--cases 128 256 512 total] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from SegQualityReviewLib.io import read_structures
from SegQualityReviewLib.metrics import score_masks

SPACING_ZYX = (2.5, 0.8, 0.8)
NSD_TOLERANCE_MM = 2.0
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# (z, y, x) voxels of each ellipsoid case.
ELLIPSOID_SHAPES = {"128": (128, 128, 128), "256": (256, 256, 256), "512": (256, 512, 512)}

Values = dict[str, list[float]]


@dataclass(frozen=True)
class Case:
    """Stacked boolean (N, z, y, x) masks of a prediction and a reference, spacing in mm (z, y, x)."""

    label: str
    pred: np.ndarray
    gt: np.ndarray
    names: list[str]
    spacing: tuple[float, float, float]


def ellipsoid(shape: tuple[int, int, int], centre: tuple[float, ...], radii: tuple[float, ...]) -> np.ndarray:
    """Boolean (z, y, x) ellipsoid, centre and radii in voxels."""
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    return ((z - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2 + (
        (x - centre[2]) / radii[2]
    ) ** 2 <= 1.0


def ellipsoid_case(shape: tuple[int, int, int]) -> Case:
    """A reference ellipsoid and a shifted, reshaped prediction filling about 60-70% of each axis."""
    n0, n1, n2 = shape
    gt = ellipsoid(shape, (n0 / 2, n1 / 2, n2 / 2), (0.35 * n0, 0.35 * n1, 0.30 * n2))
    pred = ellipsoid(shape, (n0 / 2 + 2, n1 / 2 - 6, n2 / 2 + 6), (0.34 * n0, 0.36 * n1, 0.30 * n2))
    label = f"ellipsoids {n2}x{n1}x{n0}"
    return Case(label=label, pred=pred[None], gt=gt[None], names=["ellipsoid"], spacing=SPACING_ZYX)


def totalsegmentator_case() -> Case:
    """Stacked masks of the structures that both TotalSegmentator v1 outputs of the ct case fill."""
    folder = SHARED_DATA / "totalsegmentator" / "ct"
    label_map = SHARED_DATA / "labelmaps" / "totalsegmentator_total_v1.json"
    pred = read_structures(folder / "pred_total_fast_v1.nii.gz", label_map=label_map)
    gt = read_structures(folder / "pred_total_v1.nii.gz", label_map=label_map)
    names = [name for name in gt.names if pred.find(name) and gt.mask(name).any() and pred.mask(name).any()]
    label = f"TotalSeg ct, {len(names)} structures"
    return Case(
        label=label,
        pred=pred.masks(names),
        gt=gt.masks(names),
        names=names,
        spacing=gt.geometry.array_spacing,
    )


def our_core(case: Case, *, surface: str) -> Values:
    scores = score_masks(
        case.pred,
        case.gt,
        spacing=case.spacing,
        names=case.names,
        surface=surface,
        nsd_tolerance_mm=NSD_TOLERANCE_MM,
        device="cpu",
    )
    return {key: [getattr(score, key) for score in scores] for key in ("dice", "hd95", "nsd", "assd")}


def surface_distance_peer(case: Case) -> Values:
    import surface_distance

    values: Values = {"dice": [], "hd95": [], "nsd": [], "assd": []}
    for pred_mask, gt_mask in zip(case.pred, case.gt):
        found = surface_distance.compute_surface_distances(gt_mask, pred_mask, case.spacing)
        gt_area, pred_area = found["surfel_areas_gt"].sum(), found["surfel_areas_pred"].sum()
        gt_mean, pred_mean = surface_distance.compute_average_surface_distance(found)
        values["dice"].append(surface_distance.compute_dice_coefficient(gt_mask, pred_mask))
        values["hd95"].append(surface_distance.compute_robust_hausdorff(found, 95))
        values["nsd"].append(surface_distance.compute_surface_dice_at_tolerance(found, NSD_TOLERANCE_MM))
        values["assd"].append((gt_mean * gt_area + pred_mean * pred_area) / (gt_area + pred_area))
    return values


def monai_peer(case: Case) -> Values:
    from monai.metrics import (
        compute_average_surface_distance,
        compute_dice,
        compute_hausdorff_distance,
        compute_surface_dice,
    )

    y_pred, y = torch.as_tensor(case.pred)[None], torch.as_tensor(case.gt)[None]
    tolerances = [NSD_TOLERANCE_MM] * len(case.names)
    return {
        "dice": compute_dice(y_pred, y)[0].tolist(),
        "hd95": compute_hausdorff_distance(
            y_pred, y, include_background=True, percentile=95, spacing=case.spacing
        )[0].tolist(),
        "nsd": compute_surface_dice(y_pred, y, tolerances, include_background=True, spacing=case.spacing)[
            0
        ].tolist(),
        "assd": compute_average_surface_distance(
            y_pred, y, include_background=True, symmetric=True, spacing=case.spacing
        )[0].tolist(),
    }


def _measure(method: Callable[[Case], Values], case: Case, repeats: int, queue) -> None:
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS mark to the current RSS
    start_kb = _status_kb("VmRSS")
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        values = method(case)
        best = min(best, time.perf_counter() - began)
    queue.put((best, (_status_kb("VmHWM") - start_kb) / 1024.0, values))


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def measure(method: Callable[[Case], Values], case: Case, repeats: int) -> tuple[float, float, Values]:
    """(best seconds, peak extra MB, values) of one method, in a fresh child so memory peaks are its own.

    Spawned, not forked: torch's and SimpleITK's thread pools run ~40x slower in a forked child.
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_measure, args=(method, case, repeats, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def largest_relative_difference(ours_values: Values, peer_values: Values) -> float:
    differences = [
        abs(a - b) / max(abs(b), 1e-12)
        for key in ours_values
        for a, b in zip(ours_values[key], peer_values[key])
        if not (np.isnan(a) and np.isnan(b))
    ]
    return max(differences)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["128", "256", "512", "total"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {multiprocessing.cpu_count()} CPUs, torch "
        f"{torch.__version__} ({torch.get_num_threads()} threads), cuda available: {torch.cuda.is_available()}"
    )
    print(f"command: {' '.join([Path(sys.executable).name] + sys.argv)}")
    header = f"{'case':<30}{'method':<18}{'seconds':>9}{'peak MB':>9}{'speed-up':>10}{'max rel diff':>14}"
    print(header)
    for name in args.cases:
        case = totalsegmentator_case() if name == "total" else ellipsoid_case(ELLIPSOID_SHAPES[name])
        for surface, peer_name, peer in (
            ("surfel", "surface-distance", surface_distance_peer),
            ("voxel", "MONAI", monai_peer),
        ):
            peer_seconds, peer_mb, peer_values = measure(peer, case, args.repeats)
            our_seconds, our_mb, our_values = measure(partial(our_core, surface=surface), case, args.repeats)
            difference = largest_relative_difference(our_values, peer_values)
            print(f"{case.label:<30}{peer_name:<18}{peer_seconds:>9.3f}{peer_mb:>9.0f}")
            print(
                f"{case.label:<30}{'ours ' + surface:<18}{our_seconds:>9.3f}{our_mb:>9.0f}"
                f"{peer_seconds / our_seconds:>9.1f}x{difference:>14.1e}"
            )


if __name__ == "__main__":
    main()
