"""From slice predictions to one structure estimate: area-weighted Dice, agreement fusion, conformal interval."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def aggregate_slices(slice_predictions: np.ndarray, candidate_areas: np.ndarray) -> float:
    """One predicted Dice from per-slice predictions, weighting slices the way 3D Dice weights them.

    3D Dice is the mean of slice Dice weighted by each slice's mask size. A slice the candidate covers
    weighs its candidate area. A margin slice (candidate empty) adds only to the denominator: the area of
    the nearest covered slice times (1 - its prediction), the reference area it believes was missed.
    """
    predictions = np.asarray(slice_predictions, dtype=np.float64)
    areas = np.asarray(candidate_areas, dtype=np.float64)
    covered = np.flatnonzero(areas > 0)
    if covered.size == 0:
        return 0.0
    numerator = float((predictions[covered] * areas[covered]).sum())
    denominator = float(areas[covered].sum())
    for index in np.flatnonzero(areas == 0):
        nearest = covered[np.argmin(np.abs(covered - index))]
        denominator += areas[nearest] * (1.0 - predictions[index])
    return numerator / denominator


def fuse_with_agreement(predicted: float, agreement: float | None, *, weight: float) -> float:
    """Blend the network's Dice with the mean Dice against other segmentations of the structure."""
    if agreement is None:
        return predicted
    return (1.0 - weight) * predicted + weight * agreement


def conformal_half_width(
    true_dice: Sequence[float], predicted_dice: Sequence[float], *, alpha: float
) -> float:
    """Split-conformal half-width: the ceil((n+1)(1-alpha))-th smallest |true - predicted| on calibration data.

    Intervals predicted +- this width cover the true Dice with probability >= 1 - alpha for exchangeable
    cases (Vovk et al. 2005; Angelopoulos & Bates 2021). With too few calibration cases it is 1 (no claim).
    """
    residuals = np.sort(np.abs(np.asarray(true_dice, float) - np.asarray(predicted_dice, float)))
    rank = math.ceil((residuals.size + 1) * (1.0 - alpha))
    if rank > residuals.size:
        return 1.0
    return float(residuals[rank - 1])


def interval(predicted: float, half_width: float) -> tuple[float, float]:
    """The conformal interval, clipped to the range Dice can take."""
    return max(0.0, predicted - half_width), min(1.0, predicted + half_width)
