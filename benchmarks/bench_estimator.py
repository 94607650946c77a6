"""Wall time of ``segquality estimate`` on a full-size CT, from reading the files to the written CSV.

Case: the TotalSegmentator ``ct`` example (122x101x112 voxels, 3 mm) with its v1 ``total`` labels,
resampled to 512x512x300 (image linear, labels nearest neighbour; 104 declared structures, 59 of them
non-empty), written as NIfTI once into a temporary folder. Each mode of this checkout's CLI is timed
as a subprocess (imports, reading, estimation and writing included), beside the estimator of another
checkout when ``--peer-cli`` names its ``segquality`` (the previous estimator: main's CNN, measured 16.8 s
on this case when issue 9 was filed). Goal (issue 9): <= 60 s on 2 CPU cores in the default mode,
<= 5 s on a GPU. Prints the median of ``--repeats`` runs and its ratio to the goal and to the peer.

Run: ``.venv/bin/python benchmarks/bench_estimator.py [--repeats 3] [--modes default classical thorough]
[--peer-cli /work/main/.venv/bin/segquality] [--device cpu]``
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

SHARED_DATA = Path(
    os.environ.get("SEGQUALITY_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)
SIZE = (512, 512, 300)
GOAL_SECONDS = {"cpu": 60.0, "cuda": 5.0}
OWN_CLI = Path(sys.executable).with_name("segquality")


def build_case(folder: Path) -> tuple[Path, Path, Path]:
    """The resampled image and labels (written once), and the v1 label map."""
    source = SHARED_DATA / "totalsegmentator" / "ct"
    image_path, labels_path = folder / "ct_512.nii.gz", folder / "total_v1_512.nii.gz"
    label_map = SHARED_DATA / "labelmaps" / "totalsegmentator_total_v1.json"
    if image_path.is_file() and labels_path.is_file():
        return image_path, labels_path, label_map
    image = sitk.ReadImage(str(source / "image.nii.gz"), sitk.sitkFloat32)
    labels = sitk.ReadImage(str(source / "pred_total_v1.nii.gz"))
    spacing = [old * n / new for old, n, new in zip(image.GetSpacing(), image.GetSize(), SIZE)]
    for moving, interpolator, path, pixel in (
        (image, sitk.sitkLinear, image_path, sitk.sitkInt16),
        (sitk.Cast(labels, sitk.sitkUInt8), sitk.sitkNearestNeighbor, labels_path, sitk.sitkUInt8),
    ):
        resampled = sitk.Resample(
            moving, SIZE, sitk.Transform(), interpolator, image.GetOrigin(), spacing, image.GetDirection(), 0
        )
        sitk.WriteImage(sitk.Cast(resampled, pixel), str(path))
    return image_path, labels_path, label_map


def time_cli(
    cli: Path, arguments: list[str], *, repeats: int, threads: int | None
) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        extra = ["--threads", str(threads)] if threads else []
        subprocess.run([str(cli), "estimate", *arguments, *extra], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", nargs="+", default=["default", "classical"])
    parser.add_argument(
        "--peer-cli", type=Path, help="another checkout's segquality (the previous estimator)"
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, help="--threads for both CLIs (default: torch's choice)")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "segquality_bench_estimator"
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    image, labels, label_map = build_case(args.work)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()}"
    )
    print(f"case: {image} + {labels}, {SIZE[0]}x{SIZE[1]}x{SIZE[2]}")
    common = [
        "--image",
        str(image),
        "--seg",
        str(labels),
        "--labels",
        str(label_map),
        "--device",
        args.device,
    ]
    rows = []
    if args.peer_cli is not None:
        out = args.work / "peer.csv"
        seconds, runs = time_cli(
            args.peer_cli, [*common, "--out", str(out)], repeats=args.repeats, threads=args.threads
        )
        rows.append(("peer (" + str(args.peer_cli) + ")", seconds, runs, out))
    for mode in args.modes:
        out = args.work / f"{mode}.csv"
        arguments = [*common, "--mode", mode, "--out", str(out), "--no-progress-bar"]
        seconds, runs = time_cli(OWN_CLI, arguments, repeats=args.repeats, threads=args.threads)
        rows.append((f"this checkout, --mode {mode}", seconds, runs, out))
    goal = GOAL_SECONDS[args.device]
    peer = rows[0][1] if args.peer_cli is not None else None
    print(f"{'estimator':60s} {'median s':>9s} {'goal_ratio':>10s} {'vs_peer':>8s} {'rows':>5s}  runs")
    for label, seconds, runs, out in rows:
        with out.open(encoding="utf-8") as handle:
            count = sum(1 for _ in csv.DictReader(handle))
        ratio = f"{seconds / peer:8.2f}" if peer else "       -"
        print(
            f"{label:60s} {seconds:9.1f} {seconds / goal:10.2f} {ratio} {count:5d}  {np.round(runs, 1).tolist()}"
        )


if __name__ == "__main__":
    main()
