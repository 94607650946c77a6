"""Sliding-window inference with Gaussian blending: exact where it must be, close to MONAI's elsewhere."""

from __future__ import annotations

import pytest
import torch

from SegQualityReviewLib.segmenters.sliding_window import (
    gaussian_importance_map,
    sliding_window_inference,
    window_starts,
)


def test_windows_cover_the_axis_from_the_first_to_the_last_voxel():
    assert window_starts(100, 40, 0.5) == [0, 20, 40, 60]
    assert window_starts(30, 40, 0.5) == [0]
    starts = window_starts(77, 16, 0.25)
    assert starts[0] == 0 and starts[-1] == 61
    assert max(b - a for a, b in zip(starts, starts[1:])) <= 12


def test_gaussian_map_peaks_in_the_centre_and_stays_positive():
    weights = gaussian_importance_map((9, 16, 5))
    assert weights.shape == (9, 16, 5)
    assert float(weights.max()) == pytest.approx(1.0, abs=1e-4)
    assert float(weights.min()) > 0.0
    assert float(weights[4, 7, 2]) > float(weights[0, 0, 0])


def test_a_pointwise_predictor_is_reproduced_exactly_even_with_padding():
    torch.manual_seed(0)
    image = torch.randn(1, 13, 40, 29)
    result = sliding_window_inference(
        image,
        lambda batch: torch.cat([batch.sigmoid(), 1 - batch.sigmoid()], 1),
        patch_size=(16, 16, 16),
        overlap=0.5,
    )
    assert result.shape == (2, 13, 40, 29)
    torch.testing.assert_close(result[0], image[0].sigmoid(), rtol=1e-5, atol=1e-6)


def test_with_monai_importance_map_the_blending_is_exactly_monai_sliding_window(monkeypatch):
    inferers = pytest.importorskip("monai.inferers")
    from monai.data.utils import compute_importance_map

    from SegQualityReviewLib.segmenters import sliding_window

    monkeypatch.setattr(
        sliding_window,
        "gaussian_importance_map",
        lambda patch, device="cpu": compute_importance_map(tuple(patch), mode="gaussian", sigma_scale=0.125),
    )
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Conv3d(1, 3, 5, padding=2), torch.nn.Softmax(dim=1)).eval()
    # Sizes where MONAI's step-based window layout and our evenly spread one coincide.
    image = torch.randn(1, 32, 48, 36)
    with torch.inference_mode():
        ours = sliding_window_inference(image, network, patch_size=(16, 24, 24), overlap=0.5, batch_size=4)
        theirs = inferers.sliding_window_inference(
            image[None], (16, 24, 24), 4, network, overlap=0.5, mode="gaussian", sigma_scale=0.125
        )[0]
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_our_gaussian_map_matches_monai_up_to_scale():
    utils = pytest.importorskip("monai.data.utils")
    theirs = utils.compute_importance_map((16, 24, 24), mode="gaussian", sigma_scale=0.125)
    ours = gaussian_importance_map((16, 24, 24))
    assert float((ours - theirs / theirs.max()).abs().max()) < 2e-3
