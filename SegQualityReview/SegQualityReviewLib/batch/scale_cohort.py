"""A SYNTHETIC cohort of any size for measuring how compare scales (benchmarks/bench_batch.py) and for
checking a cluster set-up: generated label volumes, not patient data.

Each case is one patient with a ``shape`` label volume holding ``n_structures`` random ellipsoids
(``structure_01`` ...), and each of ``n_models`` models damages it in its own way, so every cell does
the same kind of work as a real one (surfaces, distances, components):

- ``noisy``: boundary voxels flipped at random;
- ``dilated``: every structure one voxel too large;
- ``shifted``: the whole volume shifted by one to two voxels;
- ``eroded``: every structure one voxel too small;
- ``misser``: one random structure missing in a third of the cases.

Models beyond five repeat these profiles with other random draws. ``cases_<n>.csv`` beside the config
lists the first n cases, so one generated cohort serves every size.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import SimpleITK as sitk
import yaml
from scipy import ndimage

from .errors import BatchConfigError

PROFILES = ("noisy", "dilated", "shifted", "eroded", "misser")
SPACING_XYZ = (1.5, 1.5, 2.0)
_SUFFIX = ".nii.gz"


@dataclass(frozen=True)
class ScaleCohort:
    """Where a generated cohort lies: its config, folders and the case tables per size."""

    root: Path
    config_path: Path
    n_cases: int
    models: tuple[str, ...]

    def config_for(self, n_cases: int) -> Path:
        """A config scoring only the first ``n_cases`` cases (its own ``cases_<n>.csv``)."""
        if not 1 <= n_cases <= self.n_cases:
            raise BatchConfigError(f"scale cohort: {n_cases} cases asked for, it has {self.n_cases}")
        table = self.root / f"cases_{n_cases}.csv"
        _write_case_table(table, n_cases)
        config = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
        config["cases"] = table.name
        path = self.root / f"config_{n_cases}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return path


def write_scale_cohort(
    root: str | Path,
    *,
    n_cases: int,
    n_models: int = 5,
    n_structures: int = 10,
    shape: Sequence[int] = (64, 64, 64),
    seed: int = 11,
) -> ScaleCohort:
    """Generate (or reuse, when ``root`` already holds the same cohort) the cohort's files under ``root``."""
    root = Path(root)
    models = tuple(
        PROFILES[index % len(PROFILES)] + ("" if index < len(PROFILES) else f"_{index // len(PROFILES)}")
        for index in range(n_models)
    )
    recipe = {"n_cases": n_cases, "models": list(models), "n_structures": n_structures, "shape": list(shape)}
    recipe["seed"] = seed
    recipe_path = root / "recipe.json"
    cohort = ScaleCohort(root=root, config_path=root / "config.yaml", n_cases=n_cases, models=models)
    if recipe_path.is_file() and json.loads(recipe_path.read_text(encoding="utf-8")) == recipe:
        return cohort
    for folder in ["gt", *(f"pred/{model}" for model in models)]:
        (root / folder).mkdir(parents=True, exist_ok=True)
    names = {index + 1: f"structure_{index + 1:02d}" for index in range(n_structures)}
    (root / "labels.json").write_text(json.dumps({"labels": names}, indent=1), encoding="utf-8")
    rng = np.random.default_rng(seed)
    for case in range(n_cases):
        reference = _reference(rng, tuple(shape), n_structures)
        case_id = _case_id(case)
        _write(reference, root / "gt" / f"{case_id}{_SUFFIX}")
        for model in models:
            _write(_damaged(reference, model, rng), root / "pred" / model / f"{case_id}{_SUFFIX}")
    _write_case_table(root / "cases.csv", n_cases)
    config = {
        "dataset": {"name": "segquality-scale/v1"},
        "ground_truth": {"dir": "gt", "label_map": "labels.json"},
        "cases": "cases.csv",
        "models": [{"name": model, "dir": f"pred/{model}", "label_map": "labels.json"} for model in models],
    }
    cohort.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    recipe_path.write_text(json.dumps(recipe), encoding="utf-8")
    return cohort


def _case_id(case: int) -> str:
    return f"case_{case + 1:05d}"


def _write_case_table(path: Path, n_cases: int) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case_id", "patient_id", "site"])
        for case in range(n_cases):
            writer.writerow([_case_id(case), f"P{case + 1:05d}", "AB"[case % 2]])


def _reference(rng: np.random.Generator, shape: tuple[int, ...], n_structures: int) -> np.ndarray:
    """Random ellipsoids labelled 1..n (later ones drawn over earlier ones), inside the volume."""
    labels = np.zeros(shape, dtype=np.uint8)
    grid = np.ogrid[tuple(slice(0, n) for n in shape)]
    for value in range(1, n_structures + 1):
        radii = rng.uniform(0.06, 0.16, size=3) * np.asarray(shape)
        centre = rng.uniform(radii + 1, np.asarray(shape) - radii - 1)
        inside = sum(((axis - c) / r) ** 2 for axis, c, r in zip(grid, centre, radii)) <= 1.0
        labels[inside] = value
    return labels


def _damaged(reference: np.ndarray, model: str, rng: np.random.Generator) -> np.ndarray:
    profile = model.split("_")[0]
    if profile == "noisy":
        boundary = reference != ndimage.grey_erosion(reference, size=3)
        flips = boundary & (rng.random(reference.shape) < 0.3)
        return np.where(flips, 0, reference).astype(np.uint8)
    if profile == "dilated":
        return np.where(reference == 0, ndimage.grey_dilation(reference, size=3), reference).astype(np.uint8)
    if profile == "shifted":
        return np.roll(reference, tuple(int(s) for s in rng.integers(1, 3, size=3)), axis=(0, 1, 2))
    if profile == "eroded":
        return np.where(ndimage.grey_erosion(reference, size=3) == reference, reference, 0).astype(np.uint8)
    damaged = reference.copy()
    if rng.random() < 1 / 3:
        damaged[damaged == rng.integers(1, int(reference.max()) + 1)] = 0
    return damaged


def _write(labels: np.ndarray, path: Path) -> None:
    image = sitk.GetImageFromArray(labels)
    image.SetSpacing(SPACING_XYZ)
    sitk.WriteImage(image, str(path), useCompression=True)
