"""Calibration and the conformal interval: numpy-only at run time, fitted on out-of-patient values, and
cross-fitted so the width is never measured on residuals the fit has seen."""

from __future__ import annotations

import ast
import inspect
import math

import numpy as np
import pytest

from SegQualityReviewLib.quality import calibration
from SegQualityReviewLib.quality.calibration import (
    ConformalIntervals,
    MonotoneCalibration,
    conformal_half_width,
    fit_monotone_calibration,
)
from SegQualityReviewLib.quality.crossval import (
    PriorBank,
    calibrate_and_intervals,
    fit_with_calibration,
    predict_under,
    with_priors,
)
from SegQualityReviewLib.quality.fusion_fit import FusionOptions
from SegQualityReviewLib.quality.signal_sets import reachable_sets


def test_the_calibration_module_runs_on_scipy_1_11():
    """scipy.optimize.isotonic_regression needs SciPy 1.12; Slicer 5.6 ships 1.11.3. Only the fitting
    function may import scikit-learn, and nothing imports scipy.optimize."""
    tree = ast.parse(inspect.getsource(calibration))
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)] + [
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    ]
    assert not any("scipy.optimize" in (m or "") for m in imported)
    top_level = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not any("sklearn" in (getattr(n, "module", None) or "") for n in top_level)


def test_isotonic_calibration_is_monotone_and_moves_values_toward_the_truth():
    rng = np.random.default_rng(0)
    true = rng.uniform(0, 1, 400)
    predicted = np.clip(
        0.3 + 0.4 * true + rng.normal(0, 0.05, 400), 0, 1
    )  # compressed, like a cautious model
    mapping = fit_monotone_calibration(predicted, true)
    assert np.all(np.diff(mapping.knots_x) > 0) and np.all(np.diff(mapping.knots_y) >= 0)
    assert np.abs(mapping(predicted) - true).mean() < 0.75 * np.abs(predicted - true).mean()
    again = MonotoneCalibration.from_dict(mapping.as_dict())
    assert np.array_equal(again(predicted), mapping(predicted))


def test_conformal_width_is_the_finite_sample_quantile():
    residuals = np.arange(1, 20) / 100.0  # 19 residuals: rank ceil(20 * 0.9) = 18
    assert conformal_half_width(residuals, alpha=0.1) == pytest.approx(0.18)
    assert conformal_half_width(residuals[:5], alpha=0.1) == 1.0


def test_bands_get_their_own_width_and_intervals_stay_in_zero_one():
    rng = np.random.default_rng(1)
    predicted = rng.uniform(0, 1, 2000)
    true = np.clip(predicted + rng.normal(0, 1, 2000) * (1.05 - predicted) * 0.2, 0, 1)
    intervals = ConformalIntervals.fit({"medsam": (predicted, true)}, alpha=0.1)
    narrow, wide = intervals.half_width(0.95, "medsam"), intervals.half_width(0.2, "medsam")
    assert narrow < 0.5 * wide
    low, high = intervals.interval(np.array([0.02, 0.99]), "medsam")
    assert (low >= 0).all() and (high <= 1).all()
    assert ConformalIntervals.from_dict(intervals.as_dict()).widths == intervals.widths


@pytest.fixture(scope="module")
def training_rows(classical_tables):
    bank = PriorBank(by_patient={t.patient: t.observations for t in classical_tables if t.role == "train"})
    rows = [dict(r) for t in classical_tables if t.role == "train" for r in t.rows]
    return with_priors(rows, bank, excluded=set())


def test_the_interval_width_comes_from_cross_fitted_residuals_not_in_sample_ones(training_rows):
    """Recompute the widths independently from the inner out-of-patient predictions: each patient's
    values calibrated by a map fitted on the other patients only. In-sample residuals are smaller."""
    options = FusionOptions(min_samples_leaf=5)
    fits, inner = fit_with_calibration(training_rows, options, alpha=0.1)
    fit = fits["isotonic"]
    patients = list(dict.fromkeys(r["patient"] for r in training_rows))
    raw, true, owner = [], [], []
    for patient in patients:
        mine = [r for r in training_rows if r["patient"] == patient]
        for position, row in enumerate(mine):
            if "classical" in reachable_sets(row):
                raw.append(inner[patient]["classical"][position])
                true.append(row["true_dice"])
                owner.append(patient)
    raw, true, owner = np.array(raw), np.array(true), np.array(owner)
    calibrated = np.zeros_like(raw)
    for patient in patients:
        others = owner != patient
        calibrated[~others] = fit_monotone_calibration(raw[others], true[others])(raw[~others])
    expected = ConformalIntervals.fit({"classical": (calibrated, true)}, alpha=0.1)
    assert np.allclose(fit.intervals.widths["classical"], expected.widths["classical"])
    in_sample = np.abs(fit.calibration(predict_under(fit.model, training_rows, "classical")) - true)
    assert fit.intervals.half_width(0.5, "classical") > conformal_half_width(in_sample, alpha=0.1)
    identity = fits["identity"]
    raw_expected = ConformalIntervals.fit({"classical": (raw, true)}, alpha=0.1)
    assert identity.calibration.is_identity
    assert np.allclose(identity.intervals.widths["classical"], raw_expected.widths["classical"])


def test_calibration_and_widths_refit_when_one_patients_values_change(training_rows):
    """The map is fitted on every patient's out-of-patient values, the widths on cross-fitted ones:
    moving one patient's predictions changes both."""
    patients = list(dict.fromkeys(r["patient"] for r in training_rows))
    predictions = {
        p: {
            s: np.full(sum(r["patient"] == p for r in training_rows), 0.5)
            for s in ("classical", "classical+agreement")
        }
        for p in patients
    }
    for p, (patient) in enumerate(patients):
        for values in predictions[patient].values():
            values += 0.1 * p
    first, widths = calibrate_and_intervals(training_rows, predictions, alpha=0.1)
    predictions[patients[0]]["classical"] = predictions[patients[0]]["classical"] + 0.35
    second, moved = calibrate_and_intervals(training_rows, predictions, alpha=0.1)
    assert first.knots_x != second.knots_x
    assert not math.isclose(widths.half_width(0.6, "classical"), moved.half_width(0.6, "classical"))
