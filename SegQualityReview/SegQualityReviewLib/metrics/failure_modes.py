"""Empty-mask status and failure mode of one structure, from its voxel counts and connected components.

Everything here works on the structure's crop (the union bounding box the scorer already cut out): the
component labelling is the one the fragmentation check always did, and a false-positive component's
distance is measured only when one exists, from its voxels to the reference's boundary voxels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import SimpleITK as sitk
from scipy import ndimage
from scipy.spatial import cKDTree

# SimpleITK's multithreaded labelling is ~2x faster than scipy's on large masks, ~2x slower on small ones.
_SIMPLEITK_FROM_VOXELS = 2_000_000
_FULL_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)
# A predicted component with no voxel in the reference, farther than this from it, is a distant false
# positive: beyond any boundary disagreement, an island elsewhere in the body (the hallucinated blob).
DISTANT_COMPONENT_MM = 10.0
# Predicted / reference volume beyond [1 / ratio, ratio] with the masks overlapping: a boundary bias, the
# whole surface too far out (over-segmentation) or in (under-segmentation), e.g. one voxel of dilation.
BOUNDARY_BIAS_RATIO = 1.25


@dataclass(frozen=True)
class ComponentSummary:
    """26-connected components of the prediction and reference crops, and the farthest false positive.

    ``farthest_false_positive_mm``: over the predicted components that touch no reference voxel, the
    largest distance (mm) from such a component to the reference; 0 when every component overlaps it.
    ``gt_components`` is counted only when the prediction has several components (a non-empty
    reference has at least one, so one predicted component is never fragmented); otherwise it is 1.
    """

    pred_components: int
    gt_components: int
    farthest_false_positive_mm: float


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


def summarize_components(pred: np.ndarray, gt: np.ndarray, *, spacing: Sequence[float]) -> ComponentSummary:
    """Components of the two boolean (z, y, x) crops, and how far the farthest non-overlapping one lies.

    ``spacing`` is mm per array axis. The distance of a false-positive component is the smallest distance
    from its voxel centres to the reference's boundary voxel centres (a KD-tree on the crop's boundary).
    """
    labels, pred_count = _label(pred)
    # The reference's labelling only matters for fragmentation, which needs several predicted components.
    gt_count = count_components(gt) if pred_count > 1 else 1
    touching = np.unique(labels[gt & (labels > 0)])
    apart = np.setdiff1d(np.arange(1, pred_count + 1), touching)
    if apart.size == 0:
        return ComponentSummary(pred_count, gt_count, 0.0)
    scale = np.asarray(spacing, dtype=np.float64)
    boundary = gt & ~ndimage.binary_erosion(gt)
    tree = cKDTree(np.argwhere(boundary) * scale)
    false_positive = np.isin(labels, apart)
    distances, _ = tree.query(np.argwhere(false_positive) * scale)
    nearest = ndimage.minimum(distances, labels[false_positive], apart)
    return ComponentSummary(pred_count, gt_count, float(np.max(nearest)))


def failure_mode(
    *,
    status: str,
    overlap_voxels: int,
    pred_voxels: int,
    gt_voxels: int,
    components: ComponentSummary | None,
) -> str:
    """``missed``, ``hallucinated``, ``disjoint``, ``distant_false_positive``, ``fragmented``,
    ``boundary_bias`` or "" (the first that applies, in that order; see docs/metrics.md).

    ``distant_false_positive``: a predicted component touches no reference voxel and lies more than
    ``DISTANT_COMPONENT_MM`` from it. ``fragmented``: the prediction has more 26-connected components
    than the reference. ``boundary_bias``: predicted / reference volume outside [1/1.25, 1.25].
    """
    if status == "empty_pred":
        return "missed"
    if status == "empty_gt":
        return "hallucinated"
    if status != "ok":
        return ""
    if overlap_voxels == 0:
        return "disjoint"
    if components is not None:
        if components.farthest_false_positive_mm > DISTANT_COMPONENT_MM:
            return "distant_false_positive"
        if components.pred_components > components.gt_components:
            return "fragmented"
    ratio = pred_voxels / gt_voxels
    if not 1.0 / BOUNDARY_BIAS_RATIO <= ratio <= BOUNDARY_BIAS_RATIO:
        return "boundary_bias"
    return ""


def _label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """26-connected component labels (int32) and their count."""
    if mask.size < _SIMPLEITK_FROM_VOXELS:
        labels, count = ndimage.label(mask, structure=_FULL_CONNECTIVITY)
        return labels, int(count)
    components = sitk.ConnectedComponentImageFilter()
    components.SetFullyConnected(True)
    labelled = components.Execute(sitk.GetImageFromArray(mask.view(np.uint8)))
    return sitk.GetArrayFromImage(labelled), int(components.GetObjectCount())
