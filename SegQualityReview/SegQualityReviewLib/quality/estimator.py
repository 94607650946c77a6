"""Ground-truth-free quality estimation of every structure of a segmentation (the public entry point)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..errors import SegQualityError
from ..io import StructureSet, Volume, check_same_geometry
from ..io.intensity import detect_modality
from .aggregate import aggregate_slices, fuse_with_agreement, interval
from .encoding import encode_structure, normalize_intensity
from .targets import structure_dice
from .training import predict_slices
from .weights import DEFAULT_WEIGHTS, EstimatorBundle, load_bundle


class DeviceError(SegQualityError):
    """The requested torch device does not exist on this machine."""


@dataclass(frozen=True)
class QualityEstimate:
    """Predicted quality of one structure: Dice with its conformal interval and where to look first.

    ``worst_slice`` is the z index (array axis 0) with the lowest predicted slice Dice, -1 for an empty
    mask; ``slice_scores`` are (z index, predicted slice Dice) for every encoded slice, in z order.
    """

    structure: str
    predicted_dice: float
    interval_low: float
    interval_high: float
    flagged: bool
    worst_slice: int
    slice_scores: tuple[tuple[int, float], ...]

    def as_row(self) -> dict:
        """The CSV row of ``segquality estimate`` (slice scores go to the side file)."""
        return {
            "structure": self.structure,
            "predicted_dice": round(self.predicted_dice, 4),
            "interval_low": round(self.interval_low, 4),
            "interval_high": round(self.interval_high, 4),
            "flagged": self.flagged,
            "worst_slice": self.worst_slice,
        }


def estimate_quality(
    volume: Volume,
    structures: StructureSet,
    *,
    threshold: float = 0.7,
    weights: str | Path | None = None,
    device: str = "auto",
    other_segmentations: Sequence[StructureSet] = (),
    modality: str = "auto",
    progress: Callable[[float, str], None] | None = None,
) -> list[QualityEstimate]:
    """Predict the Dice of each structure without a reference, flagging those below ``threshold``.

    ``other_segmentations`` (other models' outputs on the same grid) add inter-model agreement as a second
    signal, blended with the shipped weight. ``modality`` "auto" detects CT by its Hounsfield range.
    The network's aggregated Dice passes the weights' monotone calibration before fusion and the interval.
    A structure left empty is reported only when one of ``other_segmentations`` holds it: a likely miss,
    predicted Dice 0 and flagged, with the interval [0, 1]. Otherwise nothing was segmented and nothing is
    reported, so a model's label map full of structures outside the field of view raises no alerts.
    """
    check_same_geometry(
        structures.geometry, volume.geometry, first_name=structures.source, second_name=volume.source
    )
    for other in other_segmentations:
        check_same_geometry(
            other.geometry, volume.geometry, first_name=other.source, second_name=volume.source
        )
    bundle = _cached_bundle(str(Path(weights).resolve()) if weights is not None else str(DEFAULT_WEIGHTS))
    torch_device = _device(device)
    model = bundle.model.to(torch_device)
    chosen = detect_modality(volume.array) if modality == "auto" else modality
    image = normalize_intensity(volume.array, modality=chosen, config=bundle.encoding)
    spacing = volume.geometry.array_spacing
    estimates = []
    for number, name in enumerate(structures.names):
        if progress is not None:
            progress(number / max(1, len(structures.names)), name)
        mask = structures.mask(name)
        if not mask.any():
            if _found_elsewhere(name, other_segmentations):
                estimates.append(QualityEstimate(name, 0.0, 0.0, 1.0, True, -1, ()))
            continue
        encoded = encode_structure(image, mask, spacing_zyx=spacing, config=bundle.encoding)
        slice_predictions = predict_slices(model, encoded.slices, device=str(torch_device))
        predicted = float(bundle.calibration(aggregate_slices(slice_predictions, encoded.candidate_areas)))
        predicted = fuse_with_agreement(
            predicted, _agreement(name, mask, other_segmentations, spacing), weight=bundle.agreement_weight
        )
        low, high = interval(predicted, bundle.interval_half_width)
        estimates.append(
            QualityEstimate(
                structure=name,
                predicted_dice=float(predicted),
                interval_low=low,
                interval_high=high,
                flagged=bool(predicted < threshold),
                worst_slice=int(encoded.slice_indices[int(np.argmin(slice_predictions))]),
                slice_scores=tuple(
                    (int(z), float(p)) for z, p in zip(encoded.slice_indices, slice_predictions)
                ),
            )
        )
    if progress is not None:
        progress(1.0, "done")
    return estimates


def _agreement(
    name: str, mask: np.ndarray, others: Sequence[StructureSet], spacing: tuple[float, float, float]
) -> float | None:
    """Mean Dice between this mask and the same structure (matched by name) in the other segmentations."""
    masks = [other.mask(other.find(name)) for other in others if other.find(name) is not None]
    if not masks:
        return None
    return float(structure_dice(np.stack(masks), mask, spacing_zyx=spacing).mean())


def _found_elsewhere(name: str, others: Sequence[StructureSet]) -> bool:
    """Whether another segmentation holds a non-empty structure of this name."""
    return any(other.find(name) is not None and other.mask(other.find(name)).any() for other in others)


@lru_cache(maxsize=4)
def _cached_bundle(path: str) -> EstimatorBundle:
    return load_bundle(path)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device '{name}' (use auto, cpu or cuda)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device '{name}' requested but CUDA is not available")
    return device
