"""A small SYNTHETIC CT-like phantom cohort with competing "models" of known error profiles.

Not patient data: ellipsoid organs (liver, spleen, both kidneys) in an elliptic body with CT-like
intensities and noise, a few patients scanned twice (so patients and cases differ), two sites and two
scanners. Each model damages the reference in its own way, so the analysis has something to find:

- ``steady``: small random boundary errors everywhere.
- ``dilated``: every structure one voxel too large (boundary bias); two voxels at site B.
- ``kidney_misser``: like steady, but misses the left kidney in about a third of the cases.
- ``hallucinator``: like steady, plus a false-positive blob labelled spleen far from the spleen (below
  the right kidney, more than 10 mm from anything) in half the cases; its file for one case is missing and
  one file is corrupt (both imputed as worst case, never dropped).
- ``memoriser``: nearly perfect, but its model card lists the phantom dataset (contaminated, excluded).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import yaml
from scipy import ndimage

from .errors import BatchConfigError

STRUCTURES = ("liver", "spleen", "kidney_left", "kidney_right")
MODELS = ("steady", "dilated", "kidney_misser", "hallucinator", "memoriser")
DATASET_NAME = "segquality-phantom/v1/test"
SHAPE = (24, 56, 64)  # (z, y, x)
SPACING_XYZ = (2.0, 2.0, 4.0)
# Enough scans for the missing (third) and corrupt (sixth) prediction files.
MIN_PATIENTS = 5
# The hallucinator's blob (z, y, x voxels): inside the body, below the right kidney, far from the spleen.
_BLOB_CENTRE = (3, 44, 22)


@dataclass(frozen=True)
class PhantomCohort:
    """Where a generated cohort lies: its YAML comparison config and the folders it refers to."""

    root: Path
    config_path: Path
    n_patients: int
    n_cases: int


def write_phantom_cohort(root: str | Path, *, n_patients: int = 14, seed: int = 7) -> PhantomCohort:
    """Generate the cohort under ``root`` (images, gt, pred/<model>, cases.csv, cards, config.yaml)."""
    if n_patients < MIN_PATIENTS:
        raise BatchConfigError(
            f"phantom cohort: {n_patients} patients asked for, at least {MIN_PATIENTS} needed"
        )
    root = Path(root)
    rng = np.random.default_rng(seed)
    for folder in ["images", "gt", *(f"pred/{model}" for model in MODELS), "cards"]:
        (root / folder).mkdir(parents=True, exist_ok=True)
    rows = []
    for patient in range(n_patients):
        patient_id = f"P{patient + 1:03d}"
        site = "A" if patient % 2 == 0 else "B"
        scanner = "vendor_x" if patient % 3 else "vendor_y"
        anatomy = _patient_anatomy(rng)
        visits = ("baseline", "followup") if patient % 4 == 1 else ("baseline",)
        for visit in visits:
            case_id = f"{patient_id}_{visit}"
            labels, image = _render_case(anatomy, rng)
            _write(root / "images" / f"{case_id}.nii.gz", image.astype(np.int16))
            _write(root / "gt" / f"{case_id}.nii.gz", labels)
            for model in MODELS:
                prediction = _predict(model, labels, rng, site=site)
                _write(root / "pred" / model / f"{case_id}.nii.gz", prediction)
            rows.append((case_id, patient_id, site, scanner, visit))
    _damage_files(root, [row[0] for row in rows])
    lines = ["case_id,patient_id,site,scanner,visit"] + [",".join(row) for row in rows]
    (root / "cases.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    label_map = {"labels": {str(index + 1): name for index, name in enumerate(STRUCTURES)}}
    (root / "labels.json").write_text(json.dumps(label_map, indent=1) + "\n", encoding="utf-8")
    cards = {
        model: {"version": "1.0", "training_datasets": ["public-abdomen-ct"]}
        for model in MODELS
        if model != "memoriser"
    }
    cards["memoriser"] = {
        "version": "0.9",
        "training_datasets": ["public-abdomen-ct", "segquality-phantom/v1"],
    }
    for model, card in cards.items():
        (root / "cards" / f"{model}.yaml").write_text(yaml.safe_dump(card, sort_keys=False), encoding="utf-8")
    config = {
        "dataset": {"name": DATASET_NAME},
        "ground_truth": {"dir": "gt", "label_map": "labels.json"},
        "images": {"dir": "images"},
        "cases": "cases.csv",
        "models": [
            {"name": model, "dir": f"pred/{model}", "label_map": "labels.json", "card": f"cards/{model}.yaml"}
            for model in MODELS
        ],
        "scoring": {"nsd_tolerance_mm": 2.0},
        "analysis": {"metrics": ["dice", "nsd", "hd95"]},
    }
    config_path = root / "config.yaml"
    config_path.write_text(
        "# SYNTHETIC phantom cohort written by SegQualityReviewLib.batch.phantom: not patient data.\n"
        + yaml.safe_dump(config, sort_keys=False),
        encoding="utf-8",
    )
    return PhantomCohort(root=root, config_path=config_path, n_patients=n_patients, n_cases=len(rows))


def _patient_anatomy(rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Centre and semi-axes (voxels, z-y-x) per organ, jittered per patient."""
    base = {
        "liver": ((12, 26, 20), (7, 12, 13)),
        "spleen": ((12, 24, 46), (6, 8, 7)),
        "kidney_left": ((13, 37, 43), (5, 6, 5)),
        "kidney_right": ((14, 37, 21), (5, 6, 5)),
    }
    return {
        name: (np.array(centre) + rng.normal(0, 1.0, 3), np.array(axes) * rng.uniform(0.85, 1.15, 3))
        for name, (centre, axes) in base.items()
    }


def _render_case(anatomy: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Label image and CT-like intensities (HU) for one scan of a patient, with slight positioning change."""
    grid = np.indices(SHAPE, dtype=np.float32)
    shift = rng.normal(0, 0.7, 3)
    labels = np.zeros(SHAPE, dtype=np.uint8)
    image = np.full(SHAPE, -1000.0, dtype=np.float32)
    body = ((grid[1] - 28) / 25) ** 2 + ((grid[2] - 32) / 30) ** 2 <= 1
    image[body] = -90.0
    image[((grid[1] - 28) / 22) ** 2 + ((grid[2] - 32) / 27) ** 2 <= 1] = 35.0
    intensities = {"liver": 60.0, "spleen": 50.0, "kidney_left": 160.0, "kidney_right": 160.0}
    for index, name in enumerate(STRUCTURES, start=1):
        centre, axes = anatomy[name]
        inside = sum(((grid[axis] - centre[axis] - shift[axis]) / axes[axis]) ** 2 for axis in range(3)) <= 1
        labels[inside & body] = index
        image[inside & body] = intensities[name]
    image = ndimage.gaussian_filter(image, 0.6) + rng.normal(0, 12.0, SHAPE)
    return labels, image


def _predict(model: str, labels: np.ndarray, rng: np.random.Generator, *, site: str) -> np.ndarray:
    """One model's prediction: the reference damaged according to the model's error profile."""
    if model == "memoriser":
        return _boundary_noise(labels, rng, amount=0.08)
    if model == "dilated":
        iterations = 2 if site == "B" else 1
        prediction = np.zeros_like(labels)
        for value in range(len(STRUCTURES), 0, -1):
            grown = ndimage.binary_dilation(labels == value, iterations=iterations)
            prediction[grown & (prediction == 0)] = value
        return prediction
    prediction = _boundary_noise(labels, rng, amount=0.22)
    if model == "kidney_misser" and rng.random() < 0.35:
        prediction[prediction == STRUCTURES.index("kidney_left") + 1] = 0
    if model == "hallucinator" and rng.random() < 0.5:
        blob = (
            sum(((np.indices(SHAPE)[axis] - centre) / 2.5) ** 2 for axis, centre in enumerate(_BLOB_CENTRE))
            <= 1
        )
        prediction[blob & (prediction == 0)] = STRUCTURES.index("spleen") + 1
    return prediction


def _boundary_noise(labels: np.ndarray, rng: np.random.Generator, *, amount: float) -> np.ndarray:
    """Each structure re-thresholded from its blurred mask plus smooth noise: errors along the boundary.

    Only the largest component is kept, so the boundary noise does not read as fragmentation.
    """
    prediction = np.zeros_like(labels)
    for value in range(1, len(STRUCTURES) + 1):
        soft = ndimage.gaussian_filter((labels == value).astype(np.float32), 1.0)
        noise = ndimage.gaussian_filter(rng.normal(0, 1, labels.shape).astype(np.float32), 1.5)
        grown = soft + amount * noise / noise.std() * 0.5 > 0.5
        prediction[_largest_component(grown) & (prediction == 0)] = value
    return prediction


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 26-connected component: the post-processing most segmentation pipelines apply."""
    components, count = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    if count <= 1:
        return mask
    sizes = np.bincount(components.ravel())[1:]
    return components == int(sizes.argmax()) + 1


def _damage_files(root: Path, case_ids: list[str]) -> None:
    """A missing file and a corrupt file for the hallucinator: the cells must be imputed, not dropped."""
    (root / "pred" / "hallucinator" / f"{case_ids[2]}.nii.gz").unlink()
    (root / "pred" / "hallucinator" / f"{case_ids[5]}.nii.gz").write_bytes(b"not an image")


def _write(path: Path, array: np.ndarray) -> None:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(SPACING_XYZ)
    sitk.WriteImage(image, str(path), useCompression=True)
