"""Slice-to-structure aggregation, agreement fusion and the split-conformal interval."""

from __future__ import annotations

import numpy as np
import pytest

from SegQualityReviewLib.quality.aggregate import (
    aggregate_slices,
    conformal_half_width,
    fuse_with_agreement,
    interval,
)


def test_aggregation_weights_covered_slices_by_candidate_area():
    assert aggregate_slices(np.array([1.0, 0.5]), np.array([300, 100])) == pytest.approx(0.875)


def test_aggregation_equals_3d_dice_when_slice_predictions_are_exact():
    # Candidate 10 voxels per slice on 3 slices; reference identical on 2, half-covered on one (Dice 2*5/15).
    slice_dice = np.array([1.0, 1.0, 10 / 15])
    predicted = aggregate_slices(slice_dice, np.array([10, 10, 10]))
    assert predicted == pytest.approx((10 + 10 + 10 * 10 / 15) / 30)


def test_a_margin_slice_predicted_missing_lowers_the_dice_and_one_predicted_empty_does_not():
    areas = np.array([0, 50, 50, 0])
    assert aggregate_slices(np.array([1.0, 1.0, 1.0, 1.0]), areas) == pytest.approx(1.0)
    # The first margin slice is believed to miss a slice of the reference as large as its neighbour.
    assert aggregate_slices(np.array([0.0, 1.0, 1.0, 1.0]), areas) == pytest.approx(100 / 150)


def test_empty_candidate_aggregates_to_zero():
    assert aggregate_slices(np.array([0.9, 0.9]), np.array([0, 0])) == 0.0


def test_agreement_fusion_blends_with_the_given_weight():
    assert fuse_with_agreement(0.8, None, weight=0.5) == 0.8
    assert fuse_with_agreement(0.8, 0.4, weight=0.25) == pytest.approx(0.7)


def test_conformal_half_width_is_the_ceil_rank_residual():
    true = np.linspace(0, 1, 19)
    predicted = true + np.linspace(0.01, 0.19, 19)
    # n = 19, alpha = 0.1: rank ceil(20 * 0.9) = 18 -> the 18th smallest residual.
    assert conformal_half_width(true, predicted, alpha=0.1) == pytest.approx(0.18)
    assert conformal_half_width(true[:5], predicted[:5], alpha=0.1) == 1.0


def test_conformal_intervals_cover_at_the_nominal_rate_on_exchangeable_data():
    rng = np.random.default_rng(0)
    true = rng.random(4000)
    predicted = np.clip(true + rng.normal(0, 0.1, true.size), 0, 1)
    width = conformal_half_width(true[:1000], predicted[:1000], alpha=0.1)
    covered = np.abs(true[1000:] - predicted[1000:]) <= width
    assert 0.88 <= covered.mean() <= 0.92
    assert interval(0.95, 0.1) == (pytest.approx(0.85), 1.0)
