"""Render the extension icon and the Extension Manager screenshots from the project's own output.

- Resources/Icons/SegQualityReview.png and SegQualityReview/Resources/Icons/SegQualityReview.png:
  a 128x128 icon drawn with matplotlib (a slice, a contour, a traffic-light flag).
- Resources/Screenshots/review.png: the review gallery of a real case (TotalSegmentator's small CT with
  its "fast" model reviewed against its full model, from ../shared/data), worst structures first.
- Resources/Screenshots/report.png: the HTML report of `segquality compare` on the SYNTHETIC phantom
  cohort, captured with headless Chromium.

Run from the repository root: .venv/bin/python Resources/Screenshots/render_screenshots.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("SEGQUALITY_SHARED_DATA", ROOT.parent / "shared" / "data"))
THRESHOLD = 0.85
FLAG_COLOURS = {
    "below_threshold": "#e74c3c",
    "borderline": "#f1c40f",
    "fine": "#2ecc71",
    "unknown": "#95a5a6",
}


def render_icon(paths: list[Path]) -> None:
    """A CT-like slice in a rounded frame, a segmentation contour and a red / amber / green flag."""
    figure = plt.figure(figsize=(1.28, 1.28), dpi=100)
    axes = figure.add_axes([0, 0, 1, 1])
    axes.set_xlim(0, 128)
    axes.set_ylim(0, 128)
    axes.axis("off")
    axes.add_patch(
        matplotlib.patches.FancyBboxPatch(
            (6, 6), 116, 116, boxstyle="round,pad=0,rounding_size=18", facecolor="#1f2a36", edgecolor="none"
        )
    )
    axes.add_patch(
        matplotlib.patches.Ellipse((56, 62), 84, 70, facecolor="#5d6d7e", edgecolor="#aab7b8", lw=2)
    )
    axes.add_patch(matplotlib.patches.Ellipse((44, 66), 34, 26, facecolor="#85929e", edgecolor="none"))
    angle = np.linspace(0, 2 * np.pi, 200)
    radius = 15 + 2.5 * np.sin(5 * angle)
    axes.plot(44 + radius * np.cos(angle) * 1.15, 66 + radius * np.sin(angle) * 0.85, color="#f5b041", lw=3)
    for index, colour in enumerate(("#e74c3c", "#f1c40f", "#2ecc71")):
        axes.add_patch(
            matplotlib.patches.Circle((104, 92 - 24 * index), 9, facecolor=colour, edgecolor="white", lw=1.5)
        )
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100, transparent=True)
    plt.close(figure)


def render_review_gallery(path: Path) -> None:
    """Worst six structures of the real case: image slice, model contour (orange), reference (cyan)."""
    from SegQualityReviewLib.io import StructureSet, radiological_axial, read_structures, read_volume
    from SegQualityReviewLib.review import assess_structures

    folder = SHARED_DATA / "totalsegmentator" / "ct_sm"
    label_map = SHARED_DATA / "labelmaps" / "totalsegmentator_total_v2.json"
    volume = read_volume(folder / "image.nii.gz")
    full = read_structures(folder / "pred_total_v2.nii.gz", label_map=label_map)
    fast = read_structures(folder / "pred_total_fast_v2.nii.gz", label_map=label_map, reference=full.geometry)
    names = [name for name in full.names if full.mask(name).sum() > 300]
    subset = StructureSet.from_masks({n: fast.mask(n) for n in names}, fast.geometry, source="fast")
    reference = StructureSet.from_masks({n: full.mask(n) for n in names}, full.geometry, source="full")
    items = assess_structures(
        volume, subset, reference=reference, use_estimator=_estimator_ready(), threshold=THRESHOLD
    )
    shown = [item for item in items if item.worst_slice is not None][:6]
    figure, grid = plt.subplots(2, 3, figsize=(12, 8.4), facecolor="#1f2a36")
    for axes, item in zip(grid.ravel(), shown):
        image, gt_plane, model_plane = (
            radiological_axial(array[item.worst_slice], volume.geometry)
            for array in (volume.array, reference.mask(item.structure), subset.mask(item.structure))
        )
        axes.imshow(np.clip(image, -200, 300), cmap="gray")
        axes.contour(gt_plane, levels=[0.5], colors="#48c9b0", linewidths=1.5)
        axes.contour(model_plane, levels=[0.5], colors="#f5b041", linewidths=1.5)
        predicted = "" if item.predicted_dice is None else f"predicted {item.predicted_dice:.2f}  "
        axes.set_title(
            f"{item.structure}\n{predicted}true Dice {item.true_dice:.2f}  slice {item.worst_slice}",
            color="white",
            fontsize=11,
        )
        for spine in axes.spines.values():
            spine.set_edgecolor(FLAG_COLOURS[item.flag.value])
            spine.set_linewidth(5)
        axes.set_xticks([])
        axes.set_yticks([])
    flagged = sum(item.flag.value == "below_threshold" for item in items)
    figure.suptitle(
        f"Review gallery: {flagged} of {len(items)} structures below the {THRESHOLD} threshold, worst first\n"
        "TotalSegmentator fast vs full model on its ct_sm CT; orange: reviewed model, cyan: reference, frame: flag",
        color="white",
        fontsize=12,
    )
    figure.tight_layout(rect=(0, 0, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, facecolor=figure.get_facecolor())
    plt.close(figure)


def render_report(path: Path) -> None:
    """`segquality compare` on the synthetic phantom cohort, its report.html captured by headless Chromium."""
    from SegQualityReviewLib.batch.phantom import write_phantom_cohort

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise SystemExit("no Chromium found: the report screenshot needs a headless browser")
    with tempfile.TemporaryDirectory() as work:
        cohort = write_phantom_cohort(Path(work) / "cohort")
        out = Path(work) / "out"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "SegQualityReviewLib",
                "compare",
                "--config",
                str(cohort.config_path),
                "--out",
                str(out),
                "--no-progress",
            ],
            check=True,
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=1280,960",
                f"--screenshot={path}",
                (out / "report.html").as_uri(),
            ],
            check=True,
            capture_output=True,
        )


def _estimator_ready() -> bool:
    from SegQualityReviewLib.quality import DEFAULT_WEIGHTS

    return Path(DEFAULT_WEIGHTS).exists()


if __name__ == "__main__":
    render_icon(
        [
            ROOT / "Resources" / "Icons" / "SegQualityReview.png",
            ROOT / "SegQualityReview" / "Resources" / "Icons" / "SegQualityReview.png",
        ]
    )
    render_review_gallery(ROOT / "Resources" / "Screenshots" / "review.png")
    render_report(ROOT / "Resources" / "Screenshots" / "report.png")
