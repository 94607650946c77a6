"""Speed of ``estimate_quality`` on a 100-structure CT against the training-free peer, in one run.

Case: the TotalSegmentator ``ct`` example (122x101x112 voxels, 3 mm) with its v1 ``total`` output, 104
structures. Measured: the estimator at 1 and 2 torch threads, and the peer that needs no network, inter-model
agreement (Dice of each structure against the ``fast`` output, metric core, distances off). Each timing is
the best of ``--repeats`` in this process, weights already loaded. Goal (issue 4): <= 60 s on 2 CPU cores,
<= 5 s on a GPU; the ``goal_ratio`` column is seconds / goal.

Run: ``.venv/bin/python benchmarks/bench_estimator.py [--repeats 2] [--device cpu]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from SegQualityReviewLib.io import read_structures, read_volume
from SegQualityReviewLib.quality import estimate_quality, load_bundle
from SegQualityReviewLib.quality.targets import structure_dice

SHARED_DATA = Path(
    os.environ.get("SEGQUALITY_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)
GOAL_SECONDS = {"cpu": 60.0, "cuda": 5.0}


def best_of(repeats: int, action) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = parser.parse_args()
    folder = SHARED_DATA / "totalsegmentator" / "ct"
    maps = SHARED_DATA / "labelmaps"
    volume = read_volume(folder / "image.nii.gz")
    structures = read_structures(
        folder / "pred_total_v1.nii.gz", label_map=maps / "totalsegmentator_total_v1.json"
    )
    other = read_structures(
        folder / "pred_total_fast_v1.nii.gz", label_map=maps / "totalsegmentator_total_v1.json"
    )
    load_bundle()
    names = [n for n in structures.names if other.find(n) is not None]
    slices = sum(
        min(len(np.flatnonzero(structures.mask(n).any(axis=(1, 2)))) + 4, 24) for n in structures.names
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}"
    )
    print(f"case: {folder}, {len(structures.names)} structures, about {slices} encoded slices")
    rows = []
    thread_counts = (1, 2) if args.device == "cpu" else (1,)
    for threads in thread_counts:
        torch.set_num_threads(threads)
        seconds = best_of(args.repeats, lambda: estimate_quality(volume, structures, device=args.device))
        rows.append((f"estimate_quality, {threads} thread(s)", seconds))
    torch.set_num_threads(1)
    spacing = volume.geometry.array_spacing

    def agreement() -> None:
        for name in names:
            structure_dice(other.mask(name)[None], structures.mask(name), spacing_zyx=spacing)

    rows.append((f"peer: agreement Dice only ({len(names)} structures)", best_of(args.repeats, agreement)))
    goal = GOAL_SECONDS[args.device]
    print(f"{'method':48s} {'seconds':>8s} {'goal_ratio':>10s} {'vs_peer':>8s}")
    for label, seconds in rows:
        print(f"{label:48s} {seconds:8.2f} {seconds / goal:10.3f} {seconds / rows[-1][1]:8.1f}")
    if args.device == "cpu":
        print(f"1-thread / 2-thread time ratio: {rows[0][1] / rows[1][1]:.2f}")


if __name__ == "__main__":
    main()
