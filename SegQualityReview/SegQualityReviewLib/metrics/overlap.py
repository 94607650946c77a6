"""Voxel counts and bounding boxes of structures, in torch on the masks' device."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class OverlapCounts:
    """Voxels of one structure in the prediction, in the reference, and in both."""

    pred: int
    gt: int
    both: int


NO_VOXELS = OverlapCounts(pred=0, gt=0, both=0)


def count_overlaps(pred_crop: torch.Tensor, gt_crop: torch.Tensor) -> OverlapCounts:
    """Counts of one structure's masks cropped to their union's box (every true voxel lies inside it).

    On CPU numpy counts the (strided) crops: 30 ms against torch's 59 ms for the 512x512x256 pair, and the
    crop spares the full-volume counts (142 ms there).
    """
    if pred_crop.device.type == "cpu":
        pred, gt = pred_crop.numpy(), gt_crop.numpy()
        return OverlapCounts(
            pred=int(np.count_nonzero(pred)),
            gt=int(np.count_nonzero(gt)),
            both=int(np.count_nonzero(pred & gt)),
        )
    return OverlapCounts(
        pred=int(torch.count_nonzero(pred_crop)),
        gt=int(torch.count_nonzero(gt_crop)),
        both=int(torch.count_nonzero(pred_crop & gt_crop)),
    )


def union_bounding_box(pred: torch.Tensor, gt: torch.Tensor) -> tuple[slice, slice, slice] | None:
    """The (z, y, x) slices of the box around the union of two (z, y, x) masks; None when both are empty.

    Projections are maxima over uint8, not bool: torch's bool max-reduction is ~20 times slower on CPU.
    """
    union = (pred | gt).view(torch.uint8)
    plane = union.amax(dim=0)
    profiles = (union.reshape(union.shape[0], -1).amax(dim=1), plane.amax(dim=1), plane.amax(dim=0))
    box = []
    for profile in profiles:
        occupied = profile.nonzero().flatten()
        if occupied.numel() == 0:
            return None
        box.append(slice(int(occupied[0]), int(occupied[-1]) + 1))
    return tuple(box)
