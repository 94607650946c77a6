"""Assessing a segmentation for review: predicted quality, true metrics when a reference exists, and the
slice to show first; and the job folder a separate process runs (``review.assessment_worker``)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import SegQualityError
from ..io import Geometry, StructureSet, Volume
from .items import ReviewItem, build_items

ProgressCallback = Callable[[float, str], None]

JOB_ARRAYS = "job.npz"
JOB_SETTINGS = "job.json"
JOB_RESULT = "items.json"


class EstimatorUnavailableError(SegQualityError):
    """The quality estimator is not installed, so predicted quality cannot be computed."""


def worst_slices(structures: StructureSet, reference: StructureSet | None = None) -> dict[str, int]:
    """The z index to show first for each structure.

    With a reference: the slice with the most disagreeing voxels. Without: the middle slice of the
    structure's extent. Structures empty on both sides are left out.
    """
    slices = {}
    for name in structures.names:
        mask = structures.mask(name)
        if reference is not None and reference.find(name) is not None:
            per_slice = np.count_nonzero(mask ^ reference.mask(name), axis=(1, 2))
            if per_slice.any():
                slices[name] = int(np.argmax(per_slice))
                continue
        occupied = np.flatnonzero(mask.any(axis=(1, 2)))
        if occupied.size:
            slices[name] = int(occupied[occupied.size // 2])
    return slices


def assess_structures(
    volume: Volume,
    structures: StructureSet,
    *,
    reference: StructureSet | None = None,
    threshold: float = 0.7,
    use_estimator: bool = True,
    weights: str | Path | None = None,
    device: str = "auto",
    progress: ProgressCallback | None = None,
) -> list[ReviewItem]:
    """Review items for every structure of ``structures``, worst first.

    The estimator (``quality.estimate_quality``) gives the predicted Dice; with ``reference`` the metric
    core adds true metrics. At least one of the two must run. ``weights`` picks an estimator weights
    file (None: the shipped one).
    """
    report = progress or (lambda fraction, message: None)
    if not use_estimator and reference is None:
        raise SegQualityError(
            f"{structures.source}: nothing to assess: the estimator is off and no reference is given"
        )
    estimates: Sequence = ()
    if use_estimator:
        report(0.05, "Loading the quality estimator")
        try:
            from ..quality import estimate_quality
        except ImportError as error:
            raise EstimatorUnavailableError(
                f"{structures.source}: the quality estimator is not available ({error})"
            ) from None
        estimates = estimate_quality(
            volume,
            structures,
            threshold=threshold,
            weights=weights,
            device=device,
            progress=lambda fraction, *rest: report(0.05 + 0.6 * float(fraction), "Estimating quality"),
        )
    scores: Sequence = ()
    if reference is not None:
        report(0.7, "Computing metrics against the reference")
        from ..metrics import score_structure_sets

        # Scores are named as the reference names a structure; the review names it as the segmentation does.
        scores = [
            dataclasses.replace(score, structure=structures.find(score.structure))
            for score in score_structure_sets(structures, reference, device=device)
            if structures.find(score.structure) is not None
        ]
    report(0.95, "Finding the slices to show")
    items = build_items(
        estimates=estimates,
        scores=scores,
        worst_slices=worst_slices(structures, reference),
        threshold=threshold,
    )
    report(1.0, "Done")
    return items


def write_job(
    folder: str | Path,
    volume: Volume,
    structures: StructureSet,
    *,
    reference: StructureSet | None = None,
    threshold: float = 0.7,
    use_estimator: bool = True,
    weights: str | Path | None = None,
    device: str = "auto",
) -> Path:
    """Write an assessment job (arrays as .npz, settings as JSON) for ``run_job`` in another process."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"volume": volume.array}
    arrays.update({f"structures_{i}": layer for i, layer in enumerate(structures.layers)})
    settings = {
        "threshold": float(threshold),
        "use_estimator": bool(use_estimator),
        "weights": None if weights is None else str(Path(weights).resolve()),
        "device": device,
        "volume": {"geometry": asdict(volume.geometry), "source": volume.source},
        "structures": _set_settings(structures),
        "reference": None,
    }
    if reference is not None:
        arrays.update({f"reference_{i}": layer for i, layer in enumerate(reference.layers)})
        settings["reference"] = _set_settings(reference)
    np.savez(folder / JOB_ARRAYS, **arrays)
    (folder / JOB_SETTINGS).write_text(json.dumps(settings, indent=1), encoding="utf-8")
    return folder


def run_job(folder: str | Path, *, progress: ProgressCallback | None = None) -> list[ReviewItem]:
    """Run a job folder written by ``write_job``; writes ``items.json`` there and returns the items."""
    folder = Path(folder)
    settings = json.loads((folder / JOB_SETTINGS).read_text(encoding="utf-8"))
    with np.load(folder / JOB_ARRAYS) as arrays:
        volume = Volume(
            array=arrays["volume"],
            geometry=_geometry(settings["volume"]["geometry"]),
            source=settings["volume"]["source"],
        )
        structures = _structure_set(arrays, "structures", settings["structures"])
        reference = (
            _structure_set(arrays, "reference", settings["reference"]) if settings["reference"] else None
        )
    items = assess_structures(
        volume,
        structures,
        reference=reference,
        threshold=settings["threshold"],
        use_estimator=settings["use_estimator"],
        weights=settings.get("weights"),
        device=settings["device"],
        progress=progress,
    )
    (folder / JOB_RESULT).write_text(
        json.dumps([item.as_dict() for item in items], indent=1), encoding="utf-8"
    )
    return items


def read_job_result(folder: str | Path) -> list[ReviewItem]:
    """The items a finished job wrote."""
    path = Path(folder) / JOB_RESULT
    if not path.is_file():
        raise SegQualityError(f"{path}: the assessment wrote no result")
    return [
        ReviewItem.from_mapping(values, source=str(path)) for values in json.loads(path.read_text("utf-8"))
    ]


def _set_settings(structures: StructureSet) -> dict:
    return {
        "geometry": asdict(structures.geometry),
        "source": structures.source,
        "locations": [[name, layer, value] for name, (layer, value) in structures.locations.items()],
        "layers": len(structures.layers),
    }


def _structure_set(arrays, prefix: str, settings: dict) -> StructureSet:
    return StructureSet(
        layers=tuple(arrays[f"{prefix}_{i}"] for i in range(settings["layers"])),
        locations={name: (int(layer), int(value)) for name, layer, value in settings["locations"]},
        geometry=_geometry(settings["geometry"]),
        source=settings["source"],
    )


def _geometry(values: dict) -> Geometry:
    return Geometry(**{key: tuple(value) for key, value in values.items()})
