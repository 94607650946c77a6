"""Small structures scored together: their crops zero-padded to one shape and stacked (K, z, y, x).

Fixed costs per structure (dozens of small tensor operations and a KD-tree per direction) weighed on a
58-structure CT; stacked, the surfaces, nearest points and summaries of a pack each take one pass. The
padding is background, and stacked masks never touch, so no value changes. Components are still
counted per structure, on its own crop: one labelling of a padded pack measured slower.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

# Crops larger than this are scored alone: their own voxels dominate their cost.
SMALL_CROP_VOXELS = 2**18
# Padded voxels per pack, and how much padding a pack may carry relative to its crops.
PACK_VOXELS = 2**23
_PADDING_SHARE = 2.0

Shape = tuple[int, int, int]


def plan_packs(shapes: Sequence[Shape]) -> list[list[int]]:
    """Group crop shapes into packs (indices into ``shapes``): similar sizes together, a pack's padded
    volume at most ``PACK_VOXELS`` and twice its crops' volume; a crop above ``SMALL_CROP_VOXELS`` alone."""
    packs: list[list[int]] = []
    current: list[int] = []
    padded_shape: Shape = (0, 0, 0)
    volume = 0
    for index in sorted(range(len(shapes)), key=lambda i: math.prod(shapes[i])):
        shape = shapes[index]
        if math.prod(shape) > SMALL_CROP_VOXELS:
            packs.append([index])
            continue
        grown: Shape = tuple(max(a, b) for a, b in zip(padded_shape, shape))
        padded = (len(current) + 1) * math.prod(grown)
        if current and (padded > PACK_VOXELS or padded > _PADDING_SHARE * (volume + math.prod(shape))):
            packs.append(current)
            current, grown, volume = [], shape, 0
        current.append(index)
        padded_shape, volume = grown, volume + math.prod(shape)
    if current:
        packs.append(current)
    return packs


def stack_crops(crops: Sequence[torch.Tensor]) -> torch.Tensor:
    """The crops as one zero-padded (K, z, y, x) boolean stack, each in its own slot's corner."""
    shape = tuple(max(crop.shape[axis] for crop in crops) for axis in range(3))
    stacked = torch.zeros((len(crops), *shape), dtype=torch.bool, device=crops[0].device)
    for slot, crop in zip(stacked, crops):
        slot[: crop.shape[0], : crop.shape[1], : crop.shape[2]] = crop
    return stacked
