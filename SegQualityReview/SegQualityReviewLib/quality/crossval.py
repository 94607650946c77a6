"""Leave-one-patient-out fitting of the fusion, its calibration and its conformal interval.

For each held-out patient p (outer fold): the fusion is fitted on the other patients; an inner
leave-one-patient-out over those gives out-of-patient predictions, on which the calibration map is
fitted and, cross-fitted once more (each inner patient calibrated by a map fitted without it), the
conformal widths. Only then are p's candidates predicted, calibrated and given intervals, so no
figure reported for p used p's references, and the interval was never fitted on in-sample residuals.
The prior z-scores of every row come from priors built without that row's own patient (and without
the held-out patient). The shipped model repeats the inner procedure on all training patients.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from .calibration import ConformalIntervals, MonotoneCalibration, fit_monotone_calibration
from .fusion import FUSION_FEATURES, feature_matrix
from .fusion_fit import FusionOptions, fit_fusion
from .priors import Observation, StructurePriors
from .signal_sets import SIGNAL_SETS, reachable_sets, restrict
from .signals import SIGNAL_FEATURES
from .signals.classical import prior_features

Progress = Callable[[str], None]
CALIBRATIONS = ("isotonic", "identity")


@dataclass(frozen=True)
class FusionFit:
    """A fitted fusion with the calibration and intervals fitted on its out-of-patient predictions."""

    model: object
    calibration: MonotoneCalibration
    intervals: ConformalIntervals
    features: tuple[str, ...] = FUSION_FEATURES


@dataclass
class PriorBank:
    """Reference observations per patient plus the labels-only ones; priors without given patients."""

    by_patient: Mapping[str, Sequence[Observation]]
    labels_only: Sequence[Observation] = ()
    _cache: dict = field(default_factory=dict)

    def without(self, excluded) -> StructurePriors:
        key = frozenset(excluded)
        if key not in self._cache:
            observations = list(self.labels_only)
            for patient, items in self.by_patient.items():
                if patient not in key:
                    observations.extend(items)
            self._cache[key] = StructurePriors.build(observations)
        return self._cache[key]


def with_priors(rows: Sequence[dict], bank: PriorBank, *, excluded: set[str]) -> list[dict]:
    """Rows with their prior z-scores from priors built without ``excluded`` and the row's own patient."""
    out = []
    for row in rows:
        priors = bank.without(excluded | {row["patient"]})
        updated = dict(row)
        updated.update(prior_features(row["structure"], row, row.get("qc_raw_intensity") or {}, priors))
        out.append(updated)
    return out


def expand(rows: Sequence[dict], features: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training matrix: each candidate under every signal set it allows, the absent signals missing.

    Weights: a candidate's variants share 1; a patient's candidates share the square root of their
    count, so a 100-organ CT patient does not outweigh seven single-lesion patients by a hundred.
    """
    variants, targets, weights = [], [], []
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["patient"]] = counts.get(row["patient"], 0) + 1
    for row in rows:
        sets = reachable_sets(row)
        patient_weight = math.sqrt(counts[row["patient"]]) / counts[row["patient"]]
        for signal_set in sets:
            variants.append(restrict(row, signal_set))
            targets.append(row["true_dice"])
            weights.append(patient_weight / len(sets))
    weights = np.asarray(weights)
    return feature_matrix(variants, features), np.asarray(targets), weights / weights.mean()


def fit_model(rows: Sequence[dict], options: FusionOptions, features: Sequence[str] = FUSION_FEATURES):
    matrix, target, weights = expand(rows, features)
    return fit_fusion(matrix, target, features=features, weights=weights, options=options)


def predict_under(model, rows: Sequence[dict], signal_set: str | None = None) -> np.ndarray:
    """The model's Dice for the rows, under ``signal_set`` (None: each row's own signals), in [0, 1]."""
    shown = rows if signal_set is None else [restrict(r, signal_set) for r in rows]
    return np.clip(model.predict(feature_matrix(shown, model.features)), 0.0, 1.0)


def inner_predictions(
    rows: Sequence[dict],
    options: FusionOptions,
    *,
    features=FUSION_FEATURES,
    progress: Progress | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Out-of-patient predictions ``{patient: {signal set: values}}`` of a leave-one-patient-out over rows."""
    patients = list(dict.fromkeys(r["patient"] for r in rows))
    predictions = {}
    for patient in patients:
        held = [r for r in rows if r["patient"] == patient]
        model = fit_model([r for r in rows if r["patient"] != patient], options, features)
        predictions[patient] = {s: predict_under(model, held, s) for s in SIGNAL_SETS}
        if progress is not None:
            progress(f"  inner fold without {patient}: {len(held)} candidates")
    return predictions


def calibrate_and_intervals(
    rows: Sequence[dict],
    predictions: Mapping[str, Mapping[str, np.ndarray]],
    *,
    alpha: float,
    calibrate: bool = True,
) -> tuple[MonotoneCalibration, ConformalIntervals]:
    """The calibration map from out-of-patient predictions (every reachable set pooled), and conformal
    widths from residuals calibrated by maps fitted without the residual's own patient. With
    ``calibrate`` False the map is the identity and the widths come from the raw out-of-patient
    residuals."""
    by_patient = _reachable_values(rows, predictions)
    everything = [v for values in by_patient.values() for v in values]
    calibration = (
        fit_monotone_calibration([v[1] for v in everything], [v[2] for v in everything])
        if calibrate
        else MonotoneCalibration()
    )
    residuals: dict[str, tuple[list, list]] = {s: ([], []) for s in SIGNAL_SETS}
    for patient, values in by_patient.items():
        others = [v for p, vs in by_patient.items() if p != patient for v in vs]
        mapping = (
            fit_monotone_calibration([v[1] for v in others], [v[2] for v in others])
            if calibrate
            else MonotoneCalibration()
        )
        for signal_set, raw, true in values:
            residuals[signal_set][0].append(float(mapping(raw)))
            residuals[signal_set][1].append(true)
    intervals = ConformalIntervals.fit(
        {s: (np.asarray(p), np.asarray(t)) for s, (p, t) in residuals.items() if p}, alpha=alpha
    )
    return calibration, intervals


def _reachable_values(rows, predictions) -> dict[str, list[tuple[str, float, float]]]:
    """Per patient, (signal set, raw prediction, true Dice) for every set each row allows."""
    values: dict[str, list] = {}
    positions: dict[str, int] = {}
    for row in rows:
        patient = row["patient"]
        index = positions.get(patient, 0)
        positions[patient] = index + 1
        for signal_set in reachable_sets(row):
            values.setdefault(patient, []).append(
                (signal_set, float(predictions[patient][signal_set][index]), float(row["true_dice"]))
            )
    return values


def fit_with_calibration(
    rows: Sequence[dict], options: FusionOptions, *, alpha: float, features=FUSION_FEATURES, progress=None
) -> tuple[dict[str, FusionFit], dict]:
    """The fusion on all rows with intervals from an inner leave-one-patient-out, in both variants:
    ``isotonic`` (calibrated on the inner out-of-patient values) and ``identity`` (uncalibrated)."""
    inner = inner_predictions(rows, options, features=features, progress=progress)
    model = fit_model(rows, options, features)
    fits = {}
    for variant in CALIBRATIONS:
        calibration, intervals = calibrate_and_intervals(
            rows, inner, alpha=alpha, calibrate=variant == "isotonic"
        )
        fits[variant] = FusionFit(
            model=model, calibration=calibration, intervals=intervals, features=tuple(features)
        )
    return fits, inner


def signal_only_features(signal: str) -> tuple[str, ...]:
    return tuple(SIGNAL_FEATURES[signal])


def describe_options(options: FusionOptions) -> dict:
    return asdict(options)
