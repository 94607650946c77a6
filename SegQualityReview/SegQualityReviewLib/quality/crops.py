"""A structure's mask kept as a crop around it: every signal works there, never on a full volume copy.

A 512 x 512 x 300 CT holds 79 M voxels; a boolean copy per structure for 59 structures would cost
4.6 GB and most of the time. ``StructureCrop`` keeps the box with a margin and the cropped mask, and
rebuilds a full slice only where one is needed (the encoder's slices).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..io import StructureSet
from .slice_plan import occupied_slices


@dataclass(frozen=True)
class StructureCrop:
    """``crop`` is ``mask[box]`` for a box that holds the mask plus a margin; ``shape`` is the volume's."""

    name: str
    box: tuple[slice, slice, slice]
    crop: np.ndarray
    shape: tuple[int, int, int]

    @property
    def empty(self) -> bool:
        return not self.crop.any()

    @property
    def voxels(self) -> int:
        return int(np.count_nonzero(self.crop))

    @property
    def touches_z_end(self) -> bool:
        """Whether the mask reaches the first or last slice of the scan (it may be cut by the field of view)."""
        z0, z1 = self.box[0].start or 0, self.box[0].stop
        return bool((z0 == 0 and self.crop[0].any()) or (z1 == self.shape[0] and self.crop[-1].any()))

    @property
    def occupied(self) -> np.ndarray:
        """z indices of the volume where the mask has voxels."""
        return occupied_slices(self.crop) + (self.box[0].start or 0)

    def full_slices(self, z_indices) -> np.ndarray:
        """(S, rows, cols) boolean full slices of the mask at volume z indices."""
        planes = np.zeros((len(z_indices), self.shape[1], self.shape[2]), dtype=bool)
        z0, z1 = self.box[0].start or 0, self.box[0].stop
        for index, z in enumerate(z_indices):
            if z0 <= z < z1:
                planes[index, self.box[1], self.box[2]] = self.crop[z - z0]
        return planes

    def full(self) -> np.ndarray:
        mask = np.zeros(self.shape, dtype=bool)
        mask[self.box] = self.crop
        return mask

    def with_margin(self, margin: tuple[int, int, int]) -> StructureCrop:
        """The same mask in a box grown by ``margin`` voxels per axis (clipped to the volume)."""
        box = tuple(
            slice(max(0, (b.start or 0) - m), min(size, b.stop + m))
            for b, m, size in zip(self.box, margin, self.shape)
        )
        crop = np.zeros(tuple(b.stop - b.start for b in box), dtype=bool)
        inner = tuple(
            slice((b.start or 0) - o.start, (b.start or 0) - o.start + n)
            for b, o, n in zip(self.box, box, self.crop.shape)
        )
        crop[inner] = self.crop
        return StructureCrop(self.name, box, crop, self.shape)


def crop_of(name: str, mask: np.ndarray, *, margin: tuple[int, int, int]) -> StructureCrop:
    """The crop of a full (z, y, x) mask around its voxels plus ``margin`` (an empty mask: a 1-voxel box)."""
    shape = tuple(int(s) for s in mask.shape)
    found = ndimage.find_objects(mask.astype(np.uint8))
    if not found or found[0] is None:
        box = (slice(0, 1), slice(0, 1), slice(0, 1))
        return StructureCrop(name, box, np.zeros((1, 1, 1), bool), shape)
    box = tuple(
        slice(max(0, b.start - m), min(size, b.stop + m)) for b, m, size in zip(found[0], margin, shape)
    )
    return StructureCrop(name, box, np.ascontiguousarray(mask[box]), shape)


def structure_crops(
    structures: StructureSet, *, margin: tuple[int, int, int], names=None
) -> dict[str, StructureCrop]:
    """Crops of every (or the named) structure, found with one ``find_objects`` pass per label layer."""
    names = list(structures.names if names is None else names)
    shape = structures.geometry.array_shape
    boxes_by_layer = {}
    crops = {}
    for name in names:
        layer_index, value = structures.location(name)
        layer = structures.layers[layer_index]
        if layer_index not in boxes_by_layer:
            integer = layer if np.issubdtype(layer.dtype, np.integer) else layer.astype(np.int64)
            boxes_by_layer[layer_index] = ndimage.find_objects(np.clip(integer, 0, None))
        boxes = boxes_by_layer[layer_index]
        found = boxes[value - 1] if 0 < value <= len(boxes) else None
        if found is None:
            crops[name] = StructureCrop(name, (slice(0, 1),) * 3, np.zeros((1, 1, 1), bool), shape)
            continue
        box = tuple(
            slice(max(0, b.start - m), min(size, b.stop + m)) for b, m, size in zip(found, margin, shape)
        )
        crops[name] = StructureCrop(name, box, layer[box] == value, shape)
    return crops


def crops_by_names(
    structures: StructureSet, names, *, margin: tuple[int, int, int]
) -> dict[str, StructureCrop]:
    """Crops of the structures of ``structures`` that match ``names`` (by normalised name), keyed and
    named as in ``names``; names it does not declare are left out."""
    found = {name: structures.find(name) for name in names}
    own = structure_crops(structures, margin=margin, names=[o for o in found.values() if o is not None])
    return {
        name: StructureCrop(name, own[o].box, own[o].crop, own[o].shape)
        for name, o in found.items()
        if o is not None
    }


def crop_dice(first: StructureCrop, second: StructureCrop) -> float:
    """Dice of two crops of the same volume (exact: voxels outside both boxes are in neither mask).

    Two empty masks agree perfectly (1.0); one empty mask gives 0.
    """
    a, b = first.voxels, second.voxels
    if a == 0 and b == 0:
        return 1.0
    if a == 0 or b == 0:
        return 0.0
    lows = [max(p.start or 0, q.start or 0) for p, q in zip(first.box, second.box)]
    highs = [min(p.stop, q.stop) for p, q in zip(first.box, second.box)]
    if any(low >= high for low, high in zip(lows, highs)):
        return 0.0
    own = tuple(slice(lo - (p.start or 0), hi - (p.start or 0)) for lo, hi, p in zip(lows, highs, first.box))
    other = tuple(
        slice(lo - (q.start or 0), hi - (q.start or 0)) for lo, hi, q in zip(lows, highs, second.box)
    )
    overlap = int(np.count_nonzero(first.crop[own] & second.crop[other]))
    return 2.0 * overlap / (a + b)
