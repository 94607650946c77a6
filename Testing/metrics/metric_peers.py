"""The peer libraries' values for one pair of masks, each under its own definitions (test-only dependencies)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pytest
import torch


def deepmind_values(pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float], tolerance_mm: float) -> dict:
    """DeepMind surface-distance 0.1 (surfel definition) on a pair of non-empty (z, y, x) masks.

    Its empty-mask branches use ``np.Inf``, which NumPy 2 removed: callers pass non-empty pairs only.
    """
    surface_distance = pytest.importorskip("surface_distance", reason="peer surface-distance not installed")
    found = surface_distance.compute_surface_distances(gt, pred, tuple(spacing))
    gt_area, pred_area = found["surfel_areas_gt"].sum(), found["surfel_areas_pred"].sum()
    gt_mean, pred_mean = surface_distance.compute_average_surface_distance(found)
    return {
        "dice": surface_distance.compute_dice_coefficient(gt, pred),
        "hd": surface_distance.compute_robust_hausdorff(found, 100),
        "hd95": surface_distance.compute_robust_hausdorff(found, 95),
        "nsd": surface_distance.compute_surface_dice_at_tolerance(found, tolerance_mm),
        "masd": 0.5 * (gt_mean + pred_mean),
        "assd": (gt_mean * gt_area + pred_mean * pred_area) / (gt_area + pred_area),
    }


def monai_values(pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float], tolerance_mm: float) -> dict:
    """MONAI (boundary-voxel definition) on a pair of non-empty (z, y, x) masks."""
    metrics = pytest.importorskip("monai.metrics", reason="peer MONAI not installed")
    y_pred, y = torch.as_tensor(pred)[None, None], torch.as_tensor(gt)[None, None]
    options = {"include_background": True, "spacing": tuple(spacing)}
    return {
        "dice": float(metrics.compute_dice(y_pred, y)),
        "hd": float(metrics.compute_hausdorff_distance(y_pred, y, **options)),
        "hd95": float(metrics.compute_hausdorff_distance(y_pred, y, percentile=95, **options)),
        "nsd": float(metrics.compute_surface_dice(y_pred, y, [tolerance_mm], **options)),
        "assd": float(metrics.compute_average_surface_distance(y_pred, y, symmetric=True, **options)),
    }


def disagreements(ours, peer: dict, *, relative: float = 1e-5) -> list[str]:
    """Fields where our StructureScore differs from the peer's value by more than ``relative``."""
    found = []
    for field, expected in peer.items():
        value = getattr(ours, field)
        if not math.isclose(value, float(expected), rel_tol=relative, abs_tol=1e-9):
            found.append(f"{ours.structure}.{field}: ours {value!r}, peer {float(expected)!r}")
    return found
