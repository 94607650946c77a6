"""Speed of the metric core against DeepMind surface-distance, MONAI and our previous code, in one run.

Cases: ellipsoid pairs at 128^3, 256^3 and 512x512x256 voxels (x, y, z) with spacing (0.8, 0.8, 2.5) mm,
and the real multi-label TotalSegmentator ``ct`` case (v1 fast against v1 total, structures both declare
and fill). Each method computes Dice, HD95, NSD at 2 mm and ASSD: ours in ``surfel`` mode against
surface-distance (its definitions), ours in ``voxel`` mode against MONAI (its definitions).

Every method runs in its own spawned child that stays up for the whole case; after one untimed warm-up
call the children are timed in turns, one call each per round, so the machine's load falls on every method
alike. Seconds are the median of ``--repeats`` rounds, with the spread (min-max) printed; memory is the
peak resident memory above what the child held before its first call (Linux ``VmHWM``). Ratios are
medians of the other method over ours; the last column is the largest relative difference of the four
values from the peer's (or from the previous code's).

``--previous DIR`` adds our metric core at another commit: DIR holds its ``SegQualityReviewLib``, e.g.
``git archive 1ad3c25 SegQualityReview | tar -x -C /tmp/previous`` and ``--previous
/tmp/previous/SegQualityReview``.

Run: ``.venv/bin/python benchmarks/bench_metrics.py [--cases 128 256 512 total] [--repeats 5]
[--previous DIR]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

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
    from SegQualityReviewLib.io import read_structures

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


def our_core(case: Case, surface: str) -> Values:
    from SegQualityReviewLib.metrics import score_masks

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


def surface_distance_peer(case: Case, surface: str) -> Values:
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


def monai_peer(case: Case, surface: str) -> Values:
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


METHODS: dict[str, Callable[[Case, str], Values]] = {
    "ours": our_core,
    "previous": our_core,
    "surface-distance": surface_distance_peer,
    "MONAI": monai_peer,
}


def _serve(method: str, surface: str, case: Case, code_dir: str | None, connection) -> None:
    """Child process: import the method's code, answer one warm-up call, then one timed call per request."""
    if code_dir is not None:
        sys.path.insert(0, code_dir)
    function = METHODS[method]
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS mark to the current RSS
    start_kb = _status_kb("VmRSS")
    connection.send(function(case, surface))
    while connection.recv() == "run":
        began = time.perf_counter()
        function(case, surface)
        connection.send(time.perf_counter() - began)
    connection.send((_status_kb("VmHWM") - start_kb) / 1024.0)


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


@dataclass(frozen=True)
class Measured:
    seconds: list[float]
    peak_mb: float
    values: Values

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def measure_together(
    methods: list[tuple[str, str, str | None]], case: Case, repeats: int
) -> dict[tuple[str, str], Measured]:
    """Time (method, surface, code folder) entries in turns, each in its own spawned child.

    Spawned, not forked: torch's and SimpleITK's thread pools run ~40x slower in a forked child.
    """
    context = multiprocessing.get_context("spawn")
    children = {}
    for method, surface, code_dir in methods:
        parent_end, child_end = context.Pipe()
        process = context.Process(target=_serve, args=(method, surface, case, code_dir, child_end))
        process.start()
        children[(method, surface)] = (process, parent_end, parent_end.recv())
    seconds: dict[tuple[str, str], list[float]] = {key: [] for key in children}
    for _ in range(repeats):
        for key, (_, connection, _) in children.items():
            connection.send("run")
            seconds[key].append(connection.recv())
    measured = {}
    for key, (process, connection, values) in children.items():
        connection.send("stop")
        measured[key] = Measured(seconds[key], connection.recv(), values)
        process.join()
    return measured


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
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--previous", type=Path, help="folder holding SegQualityReviewLib at another commit")
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {multiprocessing.cpu_count()} CPUs, torch "
        f"{torch.__version__}, cuda available: {torch.cuda.is_available()}"
    )
    print(f"command: {' '.join([Path(sys.executable).name] + sys.argv)}")
    print(f"seconds: median of {args.repeats} rounds (min-max); ratio: the method's median / ours")
    print(
        f"{'case':<30}{'method':<24}{'seconds':>9}{'spread':>17}{'peak MB':>9}{'ours x':>8}{'max rel diff':>14}"
    )
    previous = None if args.previous is None else str(args.previous.resolve())
    for name in args.cases:
        case = totalsegmentator_case() if name == "total" else ellipsoid_case(ELLIPSOID_SHAPES[name])
        entries = []
        for surface, peer in (("surfel", "surface-distance"), ("voxel", "MONAI")):
            entries += [("ours", surface, None), (peer, surface, None)]
            if previous is not None:
                entries.append(("previous", surface, previous))
        measured = measure_together(entries, case, args.repeats)
        for method, surface, _ in entries:
            result = measured[(method, surface)]
            ours = measured[("ours", surface)]
            label = f"{method} {surface}" if method in ("ours", "previous") else f"{method} ({surface})"
            ratio = f"{result.median / ours.median:>7.1f}x" if method != "ours" else f"{'':>8}"
            difference = (
                f"{largest_relative_difference(ours.values, result.values):>14.1e}"
                if method != "ours"
                else ""
            )
            spread = f"{min(result.seconds):.3f}-{max(result.seconds):.3f}"
            print(
                f"{case.label:<30}{label:<24}{result.median:>9.3f}{spread:>17}{result.peak_mb:>9.0f}{ratio}"
                f"{difference}"
            )


if __name__ == "__main__":
    main()
