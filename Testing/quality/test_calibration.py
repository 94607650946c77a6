"""Monotone calibration: it fixes a biased estimator's values, keeps their order, and travels in the file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from scipy import stats

from SegQualityReviewLib.io import Geometry, StructureSet, Volume
from SegQualityReviewLib.quality import estimate_quality, load_bundle
from SegQualityReviewLib.quality.calibration import (
    CalibrationError,
    MonotoneCalibration,
    cross_fitted_predictions,
    fit_monotone_calibration,
)
from SegQualityReviewLib.quality.encoding import EncodingConfig
from SegQualityReviewLib.quality.model import ModelConfig, QualityNet
from SegQualityReviewLib.quality.weights import EstimatorBundle, WeightsError, save_bundle


def _biased(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True Dice and a prediction that ranks well but sits ~0.2 too low, like the shipped network."""
    rng = np.random.default_rng(seed)
    true = rng.uniform(0.2, 1.0, count)
    predicted = np.clip(0.8 * true - 0.05 + rng.normal(0, 0.05, count), 0, 1)
    return true, predicted


def test_calibration_cuts_the_error_of_a_biased_prediction_on_new_cases_and_keeps_the_order():
    true, predicted = _biased(200, seed=0)
    calibration = fit_monotone_calibration(predicted, true)
    new_true, new_predicted = _biased(300, seed=1)
    calibrated = calibration(new_predicted)
    assert np.abs(calibrated - new_true).mean() < 0.5 * np.abs(new_predicted - new_true).mean()
    assert np.all(np.diff(calibrated[np.argsort(new_predicted)]) > 0)  # strictly increasing: no new ties
    assert stats.spearmanr(calibrated, new_true).statistic == pytest.approx(
        stats.spearmanr(new_predicted, new_true).statistic
    )
    assert calibrated.min() >= 0 and calibrated.max() <= 1


def test_cross_fitted_values_never_used_their_own_case():
    true, predicted = _biased(100, seed=2)
    in_sample = np.abs(fit_monotone_calibration(predicted, true)(predicted) - true).mean()
    out_of_fold = np.abs(cross_fitted_predictions(predicted, true) - true).mean()
    assert in_sample < out_of_fold < np.abs(predicted - true).mean()


def test_a_constant_prediction_or_no_data_gives_the_identity():
    assert fit_monotone_calibration([0.4, 0.4, 0.4], [0.1, 0.9, 0.5]).is_identity
    assert fit_monotone_calibration([], []).is_identity


@pytest.mark.parametrize(
    "x, y", [((0.0, 0.5, 0.5), (0.0, 0.5, 1.0)), ((0.0, 1.0), (0.6, 0.4)), ((0.0, 1.0), (0.0, 1.5))]
)
def test_malformed_knots_are_refused(x, y):
    with pytest.raises(CalibrationError):
        MonotoneCalibration(x, y)


TINY = ModelConfig(
    backbone_options={"patch_size": 8, "depth": 1, "embed_dim": 48, "num_heads": 2}, image_size=16
)


def _tiny_bundle(calibration: MonotoneCalibration) -> EstimatorBundle:
    """A small random ViT (seeded, so two bundles share the network) with the given calibration."""
    torch.manual_seed(0)
    return EstimatorBundle(
        model=QualityNet(TINY),
        model_config=TINY,
        encoding=EncodingConfig(image_size=16),
        interval_half_width=0.2,
        calibration=calibration,
    )


def test_calibration_is_stored_in_the_file_and_an_older_file_loads_as_identity(tmp_path):
    stored = MonotoneCalibration((0.0, 0.3, 1.0), (0.1, 0.7, 0.95))
    path = save_bundle(_tiny_bundle(stored), tmp_path / "new.safetensors")
    assert load_bundle(path).calibration == stored
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    older = {k: v for k, v in metadata.items() if k != "calibration"}
    save_file(load_file(str(path)), str(tmp_path / "old.safetensors"), metadata=older)
    assert load_bundle(tmp_path / "old.safetensors").calibration.is_identity
    broken = {**metadata, "calibration": json.dumps({"knots_x": [0.0, 1.0], "knots_y": [1.0, 0.0]})}
    save_file(load_file(str(path)), str(tmp_path / "broken.safetensors"), metadata=broken)
    with pytest.raises(WeightsError, match="broken.safetensors"):
        load_bundle(tmp_path / "broken.safetensors")


def test_estimate_quality_reports_the_calibrated_dice_and_its_interval(tmp_path):
    shape = (6, 32, 32)
    grid = np.indices(shape)
    ball = ((grid[0] - 3) ** 2 * 9 + (grid[1] - 16) ** 2 + (grid[2] - 16) ** 2) <= 64
    volume = Volume(np.where(ball, 60.0, -900.0).astype(np.float32), Geometry.from_array_shape(shape), "ct")
    structures = StructureSet.from_masks({"ball": ball}, volume.geometry)
    shift = MonotoneCalibration((0.0, 1.0), (0.25, 0.75))
    raw = estimate_quality(
        volume,
        structures,
        weights=save_bundle(_tiny_bundle(MonotoneCalibration()), tmp_path / "a.safetensors"),
    )
    shifted = estimate_quality(
        volume, structures, weights=save_bundle(_tiny_bundle(shift), tmp_path / "b.safetensors")
    )
    expected = 0.25 + 0.5 * raw[0].predicted_dice
    assert shifted[0].predicted_dice == pytest.approx(expected, abs=1e-6)
    assert shifted[0].interval_low == pytest.approx(max(0.0, expected - 0.2), abs=1e-6)
    assert shifted[0].interval_high == pytest.approx(min(1.0, expected + 0.2), abs=1e-6)


def test_the_shipped_weights_carry_a_calibration_fitted_on_the_calibration_split_only(shared_data):
    from SegQualityReviewLib.quality.cases import shared_data_cases

    bundle = load_bundle()
    calibration_cases = {c.case_id for c in shared_data_cases(shared_data) if c.split == "calibration"}
    assert set(bundle.summary["calibrated_on"]) == calibration_cases
    assert not bundle.calibration.is_identity
    assert bundle.calibration(0.46) > 0.6  # the network's low bias is lifted
    assert bundle.interval_half_width < bundle.summary["uncalibrated_interval_half_width"]
