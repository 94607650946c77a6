"""Empty-mask status and failure mode of one structure, from its voxel counts and connected components."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

# SimpleITK's multithreaded labelling is ~2x faster than scipy's on large masks, ~2x slower on small ones.
_SIMPLEITK_FROM_VOXELS = 2_000_000
_FULL_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)


def empty_mask_status(*, pred_voxels: int, gt_voxels: int) -> str:
    """``ok``, ``empty_gt``, ``empty_pred`` or ``both_empty`` for a structure both sides declare."""
    if pred_voxels and gt_voxels:
        return "ok"
    if pred_voxels:
        return "empty_gt"
    if gt_voxels:
        return "empty_pred"
    return "both_empty"


def count_components(mask: np.ndarray) -> int:
    """Number of 26-connected components of a boolean (z, y, x) mask."""
    if mask.size < _SIMPLEITK_FROM_VOXELS:
        return int(ndimage.label(mask, structure=_FULL_CONNECTIVITY)[1])
    components = sitk.ConnectedComponentImageFilter()
    components.SetFullyConnected(True)
    components.Execute(sitk.GetImageFromArray(mask.view(np.uint8)))
    return int(components.GetObjectCount())


def failure_mode(*, status: str, overlap_voxels: int, pred_components: int, gt_components: int) -> str:
    """``missed``, ``hallucinated``, ``disjoint``, ``fragmented`` or "" (see docs/metrics.md).

    ``fragmented``: both masks are non-empty and overlap, and the prediction has more 26-connected
    components than the reference.
    """
    if status == "empty_pred":
        return "missed"
    if status == "empty_gt":
        return "hallucinated"
    if status != "ok":
        return ""
    if overlap_voxels == 0:
        return "disjoint"
    if pred_components > gt_components:
        return "fragmented"
    return ""
