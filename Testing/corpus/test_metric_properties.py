"""Property test of the metric core against a numpy reference on random masks, spacings and empty sides.

Dice, IoU and volumes must equal the reference exactly; HD in voxel mode must equal a brute-force
Hausdorff distance over boundary voxels; HD95 and NSD must be finite and within their bounds, for both
surface definitions. Bounded: a fixed number of small examples, no deadline (the machine is shared).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import cdist

from SegQualityReviewLib.metrics import score_masks

SHAPES = st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6))
SPACINGS = st.tuples(*[st.floats(0.3, 3.0, allow_nan=False, allow_infinity=False)] * 3)


@st.composite
def mask_pairs(draw):
    shape = draw(SHAPES)
    pred = draw(arrays(np.bool_, shape))
    gt = draw(arrays(np.bool_, shape))
    return pred, gt, draw(SPACINGS)


def boundary_voxels(mask: np.ndarray) -> np.ndarray:
    """Mask voxels with a 6-neighbour outside the mask (outside the image counts as outside)."""
    padded = np.pad(mask, 1)
    interior = mask.copy()
    for axis in range(3):
        for step in (-1, 1):
            interior &= np.roll(padded, step, axis=axis)[1:-1, 1:-1, 1:-1]
    return np.argwhere(mask & ~interior)


def brute_force_hausdorff(pred: np.ndarray, gt: np.ndarray, spacing) -> float:
    distances = cdist(boundary_voxels(pred) * spacing, boundary_voxels(gt) * spacing)
    return float(max(distances.min(axis=1).max(), distances.min(axis=0).max()))


def score(pred, gt, spacing, **options):
    [result] = score_masks(pred[None], gt[None], spacing=spacing, names=["s"], device="cpu", **options)
    return result


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mask_pairs())
def test_metric_core_matches_a_numpy_reference(pair):
    pred, gt, spacing = pair
    n_pred, n_gt, n_both = int(pred.sum()), int(gt.sum()), int((pred & gt).sum())
    voxel_ml = math.prod(spacing) / 1000.0
    diagonal = math.sqrt(sum((n * s) ** 2 for n, s in zip(pred.shape, spacing)))
    for surface in ("surfel", "voxel"):
        result = score(pred, gt, spacing, surface=surface)
        assert result.volume_pred_ml == n_pred * voxel_ml and result.volume_gt_ml == n_gt * voxel_ml
        assert result.volume_diff_ml == (n_pred - n_gt) * voxel_ml
        if n_pred == 0 and n_gt == 0:
            assert result.status == "both_empty" and math.isnan(result.dice) and math.isnan(result.hd95)
            continue
        assert result.dice == 2 * n_both / (n_pred + n_gt)
        assert result.iou == n_both / (n_pred + n_gt - n_both)
        if n_pred == 0 or n_gt == 0:
            assert result.status == ("empty_pred" if n_pred == 0 else "empty_gt")
            assert result.dice == 0.0 and result.nsd == 0.0 and result.hd95 == result.hd == diagonal
            continue
        assert result.status == "ok"
        for value in (result.hd, result.hd95, result.nsd, result.assd, result.masd):
            assert math.isfinite(value)
        assert 0.0 <= result.hd95 <= result.hd + 1e-9 and result.hd <= diagonal + 1e-9
        assert 0.0 <= result.assd <= result.hd + 1e-9 and 0.0 <= result.masd <= result.hd + 1e-9
        assert 0.0 <= result.nsd <= 1.0
        if np.array_equal(pred, gt):
            assert result.dice == 1.0 and result.hd == 0.0 and result.nsd == 1.0
        if surface == "voxel":
            assert math.isclose(
                result.hd, brute_force_hausdorff(pred, gt, spacing), rel_tol=1e-9, abs_tol=1e-9
            )
        # Every surface point lies within the Hausdorff distance of the other surface.
        assert score(pred, gt, spacing, surface=surface, nsd_tolerance_mm=result.hd + 1e-6).nsd == 1.0
