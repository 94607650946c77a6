"""Monotone recalibration of the structure-level predicted Dice (isotonic fit, piecewise-linear map).

The network ranks candidates better than it places them (it predicts too low); a monotone map fitted on
the calibration split moves the values toward the true Dice without changing their order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.optimize import isotonic_regression

from ..errors import SegQualityError


class CalibrationError(SegQualityError):
    """Stored calibration knots are malformed (not increasing, unequal lengths, or outside [0, 1])."""


@dataclass(frozen=True)
class MonotoneCalibration:
    """A non-decreasing piecewise-linear map from raw to calibrated Dice through ``(knots_x, knots_y)``.

    Values outside the knots take the end values; the default two knots are the identity.
    """

    knots_x: tuple[float, ...] = (0.0, 1.0)
    knots_y: tuple[float, ...] = (0.0, 1.0)

    def __post_init__(self) -> None:
        x, y = np.asarray(self.knots_x, float), np.asarray(self.knots_y, float)
        if x.size < 2 or x.size != y.size:
            raise CalibrationError(f"calibration needs 2+ paired knots, got {x.size} x and {y.size} y")
        if np.any(np.diff(x) <= 0) or np.any(np.diff(y) < 0):
            raise CalibrationError("calibration knots must be increasing in x and non-decreasing in y")
        if x.min() < 0 or x.max() > 1 or y.min() < 0 or y.max() > 1:
            raise CalibrationError("calibration knots must lie in [0, 1]")

    @property
    def is_identity(self) -> bool:
        return bool(np.allclose(self.knots_x, self.knots_y))

    def __call__(self, predicted: float | np.ndarray) -> np.ndarray:
        return np.interp(predicted, self.knots_x, self.knots_y)

    def as_dict(self) -> dict:
        return {"knots_x": list(self.knots_x), "knots_y": list(self.knots_y)}

    @classmethod
    def from_dict(cls, fields: dict) -> MonotoneCalibration:
        return cls(tuple(float(v) for v in fields["knots_x"]), tuple(float(v) for v in fields["knots_y"]))


def fit_monotone_calibration(
    predicted_dice: Sequence[float], true_dice: Sequence[float]
) -> MonotoneCalibration:
    """Isotonic regression of true on predicted Dice (pool-adjacent-violators, scipy), as a continuous map.

    Each pooled block becomes a knot at its mean prediction and fitted value; knots at (0, 0) and (1, 1) are
    added where they keep the map strictly increasing, so candidates keep their order (ranking scores,
    AUROC and Spearman stay the same; Pearson and MAE change).
    """
    predicted = np.clip(np.asarray(predicted_dice, float), 0.0, 1.0)
    true = np.asarray(true_dice, float)
    values, inverse, counts = np.unique(predicted, return_inverse=True, return_counts=True)
    if values.size < 2:
        return MonotoneCalibration()
    means = np.bincount(inverse, weights=true) / counts
    result = isotonic_regression(means, weights=counts.astype(float), increasing=True)
    starts = list(result.blocks[:-1])
    ends = list(result.blocks[1:])
    x = [float(np.average(values[a:b], weights=counts[a:b])) for a, b in zip(starts, ends)]
    y = [float(result.x[a]) for a in starts]
    if x[0] > 0.0 and y[0] > 0.0:
        x, y = [0.0, *x], [0.0, *y]
    if x[-1] < 1.0 and y[-1] < 1.0:
        x, y = [*x, 1.0], [*y, 1.0]
    if len(x) < 2:
        return MonotoneCalibration()
    return MonotoneCalibration(tuple(x), tuple(float(np.clip(v, 0.0, 1.0)) for v in y))


def cross_fitted_predictions(
    predicted_dice: Sequence[float], true_dice: Sequence[float], *, folds: int = 5, seed: int = 0
) -> np.ndarray:
    """Each prediction calibrated by a map fitted on the other folds (seeded random folds).

    Residuals of these out-of-fold values give a conformal half-width that is not shrunk by the map having
    seen the very cases it is measured on.
    """
    predicted = np.asarray(predicted_dice, float)
    true = np.asarray(true_dice, float)
    fold_of = np.random.default_rng(seed).permutation(predicted.size) % folds
    calibrated = np.empty_like(predicted)
    for fold in range(folds):
        held = fold_of == fold
        if held.any():
            calibrated[held] = fit_monotone_calibration(predicted[~held], true[~held])(predicted[held])
    return calibrated
