"""Accuracy and speed of the ``medsam`` segmenter on the real cases of ../shared/data, per structure type.

For every structure: MedSAM's 3D Dice against its reference from the reference's own boxes and from boxes
jittered by 5 and 10 px, for the three prompts the segmenter takes (a 3D box with ``propagate``, the same
box ``fixed`` on every slice, and the reference's per-slice boxes as ``--boxes-from`` gives them, margin
3 px). The peer in the same run is the prompt itself: Dice of the filled box(es) against the reference,
so MedSAM's gain over "just the box" is visible. References:
- manual: BRATS 2013 (deepmedic_brats2015, 4 cases: whole tumour on FLAIR, tumour core and enhancing
  tumour on T1c), BraTS 2021 edema (sam_med3d, FLAIR), pyradiomics lesions (lung CT, 2 brain T1c MR,
  breast MR);
- pseudo-references: TotalSegmentator v1 ``total`` organs on its ``ct`` example (model output, not GT).
Bounded: a structure spanning more than ``--max-slices`` (16) slices is evaluated on that many
contiguous slices around its middle (the reference cut to them; the BRATS regions of one case share
one window), so the 3D box of a long structure is the box of that slab. Jitter: each box coordinate moved by
a uniform integer in [-N, N] px (seeded), independently per slice for per-slice boxes.

Every slice embedding is computed once, by the segmenter's own code, and cached on disk under
``--cache`` (outside the repository) keyed by file hash, modality and slice; a rerun only decodes.
Timing: encoder seconds per slice at 1 and 2 torch threads on the same slices (median of repeats,
interleaved), decoder seconds per box, per-structure estimate = slices x (encode + decode), and one
uncached end-to-end ``propose`` on a 7-slice structure to check the estimate. The load average is
printed at the start and the end: on a shared machine the timings move with it.

Run: ``nice .venv/bin/python benchmarks/bench_medsam.py [--max-slices 16] [--cases NAME ...] [--timing-only]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from SegQualityReviewLib.io import read_structures, read_volume
from SegQualityReviewLib.segmenters.box_prompts import SliceBoxes, VoxelBox, slice_boxes_from_mask
from SegQualityReviewLib.segmenters.medsam import load_lite_medsam
from SegQualityReviewLib.segmenters.medsam_segmenter import SliceEmbeddings, prepare_image, propose

SHARED_DATA = Path(
    os.environ.get("SEGQUALITY_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)
JITTERS_PX = (0, 5, 10)
PROMPTS = ("box propagate", "box fixed", "segment boxes")
TOTALSEGMENTATOR_ORGANS = {
    "large organ": ("liver", "spleen", "kidney_left", "kidney_right", "urinary_bladder"),
    "hollow organ": ("stomach",),
    "small organ": ("gallbladder", "pancreas", "adrenal_gland_left", "adrenal_gland_right"),
    "vessel": ("aorta", "inferior_vena_cava"),
    "bone": ("vertebrae_L3",),
}
BRATS_REGIONS = {  # BRATS 2013/2015 labels: 1 necrosis, 2 edema, 3 non-enhancing, 4 enhancing
    "whole tumour": ("flair", (1, 2, 3, 4)),
    "tumour core": ("t1c", (1, 3, 4)),
    "enhancing tumour": ("t1c", (4,)),
}


@dataclass(frozen=True)
class Structure:
    case: str
    name: str
    kind: str
    reference: str  # "manual" or "pseudo"
    image: Path
    mask: np.ndarray  # bool (z, y, x), already cut to the evaluated slices
    slices: range  # the evaluated k range


class DiskEmbeddings(MutableMapping):
    """Slice embeddings as one .pt file per slice; also times every encode it is handed."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _path(self, k: int) -> Path:
        return self.folder / f"{int(k)}.pt"

    def __getitem__(self, k):
        path = self._path(k)
        if not path.is_file():
            raise KeyError(k)
        return torch.load(path, weights_only=True)

    def __setitem__(self, k, embedding):
        torch.save(embedding.clone(), self._path(k))

    def __delitem__(self, k):
        self._path(k).unlink()

    def __contains__(self, k):
        return self._path(k).is_file()

    def __iter__(self):
        return (int(p.stem) for p in self.folder.glob("*.pt"))

    def __len__(self):
        return sum(1 for _ in self.folder.glob("*.pt"))


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def window(extent: np.ndarray, max_slices: int) -> range:
    first, last = int(extent[0]), int(extent[-1])
    if last - first + 1 <= max_slices:
        return range(first, last + 1)
    start = (first + last + 1) // 2 - max_slices // 2
    return range(start, start + max_slices)


def cut(mask: np.ndarray, slices: range) -> np.ndarray:
    kept = np.zeros_like(mask)
    kept[slices.start : slices.stop] = mask[slices.start : slices.stop]
    return kept


def structures(max_slices: int, wanted: set[str] | None) -> list[Structure]:
    data, maps = SHARED_DATA, SHARED_DATA / "labelmaps"
    found: list[Structure] = []

    def take(case: str) -> bool:
        return wanted is None or case in wanted

    for folder in sorted((data / "deepmedic_brats2015").glob("brats_*")):
        if not take(folder.name):
            continue
        labels = read_structures(folder / "gt.nii.gz", label_map=maps / "brats_2013_2015.json").layers[0]
        slices = window(np.flatnonzero((labels > 0).any(axis=(1, 2))), max_slices)
        for kind, (sequence, values) in BRATS_REGIONS.items():
            mask = cut(np.isin(labels, values), slices)
            image = folder / f"image_{sequence}_zscore.nii.gz"
            if mask.any():
                found.append(Structure(folder.name, kind, f"BRATS {kind}", "manual", image, mask, slices))
    edema_case = data / "sam_med3d" / "BraTS2021_01646"
    if take(edema_case.name):
        mask = read_structures(edema_case / "gt_edema.nii.gz").layers[0] > 0
        slices = window(np.flatnonzero(mask.any(axis=(1, 2))), max_slices)
        image = edema_case / "image_flair.nii.gz"
        found.append(
            Structure(
                edema_case.name, "edema", "BraTS 2021 edema", "manual", image, cut(mask, slices), slices
            )
        )
    for lesion in ("lung1", "brain1", "brain2", "breast1"):
        if not take(lesion):
            continue
        mask = read_structures(data / "pyradiomics" / f"{lesion}_label.nrrd").layers[0] > 0
        slices = window(np.flatnonzero(mask.any(axis=(1, 2))), max_slices)
        image = data / "pyradiomics" / f"{lesion}_image.nrrd"
        found.append(
            Structure(lesion, "lesion", "pyradiomics lesion", "manual", image, cut(mask, slices), slices)
        )
    if take("totalsegmentator_ct"):
        folder = data / "totalsegmentator" / "ct"
        organs = read_structures(
            folder / "pred_total_v1.nii.gz", label_map=maps / "totalsegmentator_total_v1.json"
        )
        for kind, names in TOTALSEGMENTATOR_ORGANS.items():
            for name in names:
                mask = organs.mask(name)
                slices = window(np.flatnonzero(mask.any(axis=(1, 2))), max_slices)
                found.append(
                    Structure(
                        "ct",
                        name,
                        f"TotalSegmentator {kind}",
                        "pseudo",
                        folder / "image.nii.gz",
                        cut(mask, slices),
                        slices,
                    )
                )
    return found


def own_box(mask: np.ndarray) -> VoxelBox:
    k, j, i = np.nonzero(mask)
    return VoxelBox(int(i.min()), int(j.min()), int(k.min()), int(i.max()), int(j.max()), int(k.max()))


def jitter_box(
    box: tuple[int, int, int, int], px: int, rng: np.random.Generator, shape
) -> tuple[int, int, int, int]:
    if px == 0:
        return box
    rows, cols = shape
    x0, y0, x1, y1 = (int(v) + int(d) for v, d in zip(box, rng.integers(-px, px + 1, size=4)))
    x0, x1 = sorted((min(max(x0, 0), cols - 1), min(max(x1, 0), cols - 1)))
    y0, y1 = sorted((min(max(y0, 0), rows - 1), min(max(y1, 0), rows - 1)))
    return (x0, y0, x1, y1)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 2.0 * int((a & b).sum()) / total if total else float("nan")


def filled(boxes: dict[int, tuple[int, int, int, int]], shape) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for k, (x0, y0, x1, y1) in boxes.items():
        mask[k, y0 : y1 + 1, x0 : x1 + 1] = True
    return mask


def prompts_for(structure: Structure, jitter_px: int, seed: int, shape):
    """(prompt name, boxes for ``propose``, propagation, the filled prompt as the box peer)."""
    rng = np.random.default_rng(seed)
    box = own_box(structure.mask)
    i0, j0, i1, j1 = jitter_box(box.pixel_box, jitter_px, rng, shape[1:])
    box = VoxelBox(i0, j0, box.k0, i1, j1, box.k1)
    box_fill = filled({k: box.pixel_box for k in box.slices}, shape)
    per_slice = slice_boxes_from_mask(structure.mask, margin_px=3).boxes
    per_slice = {k: jitter_box(b, jitter_px, rng, shape[1:]) for k, b in per_slice.items()}
    return [
        ("box propagate", box, "propagate", box_fill),
        ("box fixed", box, "fixed", box_fill),
        ("segment boxes", SliceBoxes(boxes=per_slice), "fixed", filled(per_slice, shape)),
    ]


def encoder_and_decoder_seconds(
    model, image: np.ndarray, slices: list[int], repeats: int
) -> dict[str, float]:
    """Median seconds per slice: encoding one slice at 1 and at 2 torch threads (interleaved), decoding one box."""
    times: dict[str, list[float]] = {"encode, 1 thread": [], "encode, 2 threads": [], "decode, 1 thread": []}
    box = np.array([[image.shape[2] // 4, image.shape[1] // 4, image.shape[2] // 2, image.shape[1] // 2]])
    for _ in range(repeats):
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for k in slices:
                started = time.perf_counter()
                embedding, frame = model.encode(image[k : k + 1])
                times[f"encode, {threads} thread{'s' if threads > 1 else ''}"].append(
                    time.perf_counter() - started
                )
                if threads == 1:
                    started = time.perf_counter()
                    model.decode(embedding, box, frame=frame)
                    times["decode, 1 thread"].append(time.perf_counter() - started)
    torch.set_num_threads(1)
    return {name: statistics.median(values) for name, values in times.items()}


def evaluate(model, todo: list[Structure], *, seed: int, cache: Path) -> list[dict]:
    rows, current = [], None
    for index, structure in enumerate(todo):
        if current is None or current[0] != structure.image:
            volume = read_volume(structure.image)
            image, modality = prepare_image(volume)
            folder = cache / f"{file_digest(structure.image)}_{modality}"
            current = (
                structure.image,
                volume,
                SliceEmbeddings(model, image, modality=modality, cache=DiskEmbeddings(folder)),
            )
        _, volume, embeddings = current
        shape = volume.geometry.array_shape
        for jitter in JITTERS_PX:
            for prompt, boxes, propagation, prompt_fill in prompts_for(
                structure, jitter, seed + index, shape
            ):
                proposal = propose(volume, boxes, propagation=propagation, embeddings=embeddings)
                rows.append(
                    {
                        "case": structure.case,
                        "structure": structure.name,
                        "kind": structure.kind,
                        "reference": structure.reference,
                        "prompt": prompt,
                        "jitter_px": jitter,
                        "dice": dice(proposal.mask, structure.mask),
                        "box_dice": dice(prompt_fill, structure.mask),
                        "slices": len(structure.slices),
                        "prompted_slices": len(proposal.slices),
                        "voxels": int(structure.mask.sum()),
                        "mean_area_px": float(
                            structure.mask.sum() / max(1, structure.mask.any(axis=(1, 2)).sum())
                        ),
                    }
                )
        text = ", ".join(f"{r['prompt']} j{r['jitter_px']} {r['dice']:.3f}" for r in rows[-9:])
        print(f"[{index + 1}/{len(todo)}] {structure.case} {structure.name}: {text}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-slices", type=int, default=16)
    parser.add_argument("--cases", nargs="*", help="case names to run (default: all)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the encoder timing")
    parser.add_argument("--timing-only", action="store_true", help="skip the Dice evaluation")
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/h14/bench_medsam"))
    parser.add_argument("--out", type=Path, help="write every row as JSON here")
    args = parser.parse_args()
    started = time.perf_counter()
    torch.set_num_threads(1)
    model = load_lite_medsam("cpu")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}"
    )
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    todo = structures(args.max_slices, set(args.cases) if args.cases else None)
    print(
        f"{len(todo)} structures, {sum(len(s.slices) for s in todo)} evaluated slices (max {args.max_slices} each)"
    )
    if not args.timing_only:
        rows = evaluate(model, todo, seed=args.seed, cache=args.cache)
        report(rows)
        if args.out:
            args.out.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    timing(model, todo, args.repeats)
    print(
        f"\nwall time {time.perf_counter() - started:.0f} s, load average at the end: {os.getloadavg()[0]:.1f}"
    )


def report(rows: list[dict]) -> None:
    print(
        "\nMedSAM Dice by structure type, prompt and jitter: median [min, max] over structures; box = the prompt's own Dice"
    )
    kinds = list(dict.fromkeys(r["kind"] for r in rows))
    print(
        "| structure type | n | prompt | "
        + " | ".join(f"jitter {j} px" for j in JITTERS_PX)
        + " | box alone (0 px) |"
    )
    print("|---|---|---|" + "---|" * (len(JITTERS_PX) + 1))
    for kind in kinds:
        for prompt in PROMPTS:
            cells = []
            for jitter in JITTERS_PX:
                values = [
                    r["dice"]
                    for r in rows
                    if r["kind"] == kind and r["prompt"] == prompt and r["jitter_px"] == jitter
                ]
                cells.append(f"{statistics.median(values):.3f} [{min(values):.2f}, {max(values):.2f}]")
            box = [
                r["box_dice"]
                for r in rows
                if r["kind"] == kind and r["prompt"] == prompt and r["jitter_px"] == 0
            ]
            n = len(values)
            print(f"| {kind} | {n} | {prompt} | " + " | ".join(cells) + f" | {statistics.median(box):.3f} |")
    print("\nmean Dice over all structures (manual references | pseudo-references), ratio to the box alone")
    for prompt in PROMPTS:
        for jitter in JITTERS_PX:
            parts = []
            for reference in ("manual", "pseudo"):
                chosen = [
                    r
                    for r in rows
                    if r["prompt"] == prompt and r["jitter_px"] == jitter and r["reference"] == reference
                ]
                if chosen:
                    mean = statistics.mean(r["dice"] for r in chosen)
                    box = statistics.mean(r["box_dice"] for r in chosen)
                    parts.append(f"{reference} {mean:.3f} (x{mean / box:.2f} box)")
            print(f"  {prompt:14s} jitter {jitter:2d} px: " + " | ".join(parts))
    print("\nper structure (jitter 0 px): prompt Dice; structures below 0.6 with any prompt are failures")
    for key in dict.fromkeys((r["case"], r["structure"]) for r in rows):
        chosen = [r for r in rows if (r["case"], r["structure"]) == key and r["jitter_px"] == 0]
        text = ", ".join(f"{r['prompt']} {r['dice']:.3f}" for r in chosen)
        print(
            f"  {key[0]}/{key[1]} ({chosen[0]['voxels']} voxels, {chosen[0]['mean_area_px']:.0f} px/slice): {text}"
        )


def timing(model, todo: list[Structure], repeats: int) -> None:
    sample = todo[0]
    volume = read_volume(sample.image)
    image, _ = prepare_image(volume)
    slices = list(sample.slices)[:5]
    seconds = encoder_and_decoder_seconds(model, image, slices, repeats)
    size = f"{volume.geometry.size[0]}x{volume.geometry.size[1]}"
    print(f"\nper slice, {size} slices of {sample.case}, median of {repeats}x{len(slices)}:")
    for name, value in seconds.items():
        print(f"  {name}: {value:.2f} s")
    print(f"  encode 2 threads / 1 thread: {seconds['encode, 2 threads'] / seconds['encode, 1 thread']:.2f}")
    per_slice = min(seconds["encode, 1 thread"], seconds["encode, 2 threads"]) + seconds["decode, 1 thread"]
    sizes = sorted(len(s.slices) for s in todo)
    print(
        f"per structure = slices x {per_slice:.2f} s: median {statistics.median(sizes):g} slices -> {statistics.median(sizes) * per_slice:.0f} s, max {sizes[-1]} -> {sizes[-1] * per_slice:.0f} s"
    )
    seven = next((s for s in todo if len(s.slices) == 7), None)
    if seven is not None:
        torch.set_num_threads(1)
        volume = read_volume(seven.image)
        started = time.perf_counter()
        proposal = propose(volume, slice_boxes_from_mask(seven.mask, margin_px=3), device="cpu")
        seconds = time.perf_counter() - started
        estimate = len(proposal.slices) * per_slice
        print(
            f"uncached end-to-end propose, {seven.case}/{seven.name} ({len(proposal.slices)} slices, 1 thread): "
            f"{seconds:.1f} s (estimate {estimate:.1f} s at {per_slice:.2f} s/slice, ratio {seconds / estimate:.2f})"
        )


if __name__ == "__main__":
    main()
