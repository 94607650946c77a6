"""Calibration of the fused Dice and its split-conformal interval, both fitted on out-of-patient values.

- ``MonotoneCalibration``: a non-decreasing piecewise-linear map (isotonic regression of true on
  predicted Dice, fitted with scikit-learn's ``IsotonicRegression`` at training time; applied with
  ``numpy.interp``, so running it needs numpy only: Slicer 5.6's scipy 1.11 lacks
  ``scipy.optimize.isotonic_regression``).
- ``ConformalIntervals``: split-conformal half-widths (Vovk et al. 2005; Angelopoulos & Bates 2021),
  one per signal set (with MedSAM or without, with other segmentations or without) and per band of the
  predicted value (Mondrian conformal), so a confident structure gets a narrow interval and a doubtful
  one a wide one. The residuals are cross-fitted by patient: each comes from a fusion and a calibration
  fitted without that candidate's patient, never from values fitted on the candidate itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..errors import SegQualityError

BANDS = (0.0, 0.5, 0.8, 0.9, 1.0001)
"""Edges of the predicted-Dice bands with their own conformal width."""
MIN_BAND_RESIDUALS = 40


class CalibrationError(SegQualityError):
    """Stored calibration knots or interval widths are malformed."""


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
    def from_dict(cls, fields_: Mapping) -> MonotoneCalibration:
        return cls(tuple(float(v) for v in fields_["knots_x"]), tuple(float(v) for v in fields_["knots_y"]))


def fit_monotone_calibration(
    predicted_dice: Sequence[float], true_dice: Sequence[float], *, weights: Sequence[float] | None = None
) -> MonotoneCalibration:
    """Isotonic regression of true on predicted Dice (scikit-learn), as the knots of a continuous map.

    Knots at (0, 0) and (1, 1) are added where they keep the map non-decreasing.
    """
    from sklearn.isotonic import IsotonicRegression

    predicted = np.clip(np.asarray(predicted_dice, float), 0.0, 1.0)
    true = np.asarray(true_dice, float)
    if np.unique(predicted).size < 2:
        return MonotoneCalibration()
    model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    model.fit(predicted, true, sample_weight=weights)
    x, y = list(model.X_thresholds_), list(model.y_thresholds_)
    # Isotonic fits repeat x at block edges; keep the last value of each x so x strictly increases.
    knots: dict[float, float] = {}
    for a, b in zip(x, y):
        knots[float(a)] = float(b)
    x, y = list(knots), list(knots.values())
    if x[0] > 0.0 and y[0] > 0.0:
        x, y = [0.0, *x], [0.0, *y]
    if x[-1] < 1.0 and y[-1] < 1.0:
        x, y = [*x, 1.0], [*y, 1.0]
    if len(x) < 2:
        return MonotoneCalibration()
    return MonotoneCalibration(tuple(x), tuple(float(np.clip(v, 0.0, 1.0)) for v in y))


def conformal_half_width(residuals: Sequence[float], *, alpha: float) -> float:
    """The ceil((n+1)(1-alpha))-th smallest absolute residual; 1 (no claim) when n is too small."""
    ordered = np.sort(np.abs(np.asarray(residuals, float)))
    rank = math.ceil((ordered.size + 1) * (1.0 - alpha))
    if rank > ordered.size:
        return 1.0
    return float(ordered[rank - 1])


@dataclass(frozen=True)
class ConformalIntervals:
    """Half-widths by signal set and predicted-Dice band; ``interval`` clips to [0, 1].

    A band with fewer than ``MIN_BAND_RESIDUALS`` residuals takes its signal set's overall width.
    """

    alpha: float = 0.1
    widths: Mapping[str, Sequence[float]] = field(default_factory=dict)
    bands: tuple[float, ...] = BANDS

    @classmethod
    def fit(
        cls, residuals_by_set: Mapping[str, tuple[np.ndarray, np.ndarray]], *, alpha: float = 0.1
    ) -> ConformalIntervals:
        """From ``{signal set: (predicted, true)}`` of cross-fitted (out-of-patient) predictions."""
        widths = {}
        for name, (predicted, true) in residuals_by_set.items():
            residuals = np.abs(np.asarray(true, float) - np.asarray(predicted, float))
            overall = conformal_half_width(residuals, alpha=alpha)
            band_of = np.digitize(predicted, BANDS[1:-1])
            per_band = []
            for band in range(len(BANDS) - 1):
                members = residuals[band_of == band]
                per_band.append(
                    conformal_half_width(members, alpha=alpha)
                    if members.size >= MIN_BAND_RESIDUALS
                    else overall
                )
            widths[name] = per_band
        return cls(alpha=alpha, widths=widths)

    def half_width(self, predicted: float | np.ndarray, signal_set: str) -> np.ndarray:
        widths = np.asarray(
            self.widths.get(signal_set) or self.widths.get("classical") or [1.0] * (len(self.bands) - 1)
        )
        return widths[np.digitize(predicted, self.bands[1:-1])]

    def interval(self, predicted: float | np.ndarray, signal_set: str) -> tuple[np.ndarray, np.ndarray]:
        half = self.half_width(predicted, signal_set)
        return np.clip(predicted - half, 0.0, 1.0), np.clip(predicted + half, 0.0, 1.0)

    def as_dict(self) -> dict:
        return {
            "alpha": self.alpha,
            "bands": list(self.bands),
            "widths": {k: list(v) for k, v in self.widths.items()},
        }

    @classmethod
    def from_dict(cls, fields_: Mapping) -> ConformalIntervals:
        try:
            return cls(
                alpha=float(fields_["alpha"]),
                widths={k: [float(w) for w in v] for k, v in fields_["widths"].items()},
                bands=tuple(float(b) for b in fields_["bands"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise CalibrationError(f"malformed interval widths ({error})") from None
