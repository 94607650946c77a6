"""Each structure pair cropped to the box around its union, straight from the label layers.

The boxes of every label of a layer come from one ``scipy.ndimage.find_objects`` pass, and only the
box is compared with the label value, so scoring 100 structures never builds 100 full-volume masks
(the earlier stacked masks took 58 x 2 full-volume comparisons on the TotalSegmentator ``ct`` case).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
from scipy import ndimage

from ..io import StructurePair, StructureSet

Box = tuple[slice, slice, slice]
# find_objects allocates one entry per label value up to the largest asked for: above this, box by value.
MAX_FIND_OBJECTS_LABEL = 65_535


@dataclass(frozen=True)
class CroppedPair:
    """One scored structure: boolean (z, y, x) crops of both sides to their union's box (None: both empty)."""

    name: str
    pred: np.ndarray | None
    gt: np.ndarray | None


def cropped_pairs(
    pred: StructureSet, gt: StructureSet, pairs: Sequence[StructurePair]
) -> Iterator[CroppedPair]:
    """Crops of every pair both sides declare, in order; the sets must share one grid."""
    pred_boxes = _label_boxes(pred, [pair.pred_name for pair in pairs])
    gt_boxes = _label_boxes(gt, [pair.gt_name for pair in pairs])
    for pair in pairs:
        box = union_box(pred_boxes[pair.pred_name], gt_boxes[pair.gt_name])
        if box is None:
            yield CroppedPair(pair.name, None, None)
            continue
        yield CroppedPair(pair.name, _crop(pred, pair.pred_name, box), _crop(gt, pair.gt_name, box))


def union_box(first: Box | None, second: Box | None) -> Box | None:
    """The smallest box holding both boxes (either may be None, for an empty mask)."""
    if first is None or second is None:
        return first if second is None else second
    return tuple(slice(min(a.start, b.start), max(a.stop, b.stop)) for a, b in zip(first, second))


def _label_boxes(structures: StructureSet, names: Sequence[str]) -> dict[str, Box | None]:
    """Bounding box of each named structure (None when its mask is empty), one pass per label layer."""
    wanted: dict[int, dict[str, int]] = {}
    for name in names:
        layer, value = structures.location(name)
        wanted.setdefault(layer, {})[name] = value
    boxes: dict[str, Box | None] = {}
    for layer, values in wanted.items():
        largest = max(values.values())
        # find_objects pays for itself on a layer of several wanted labels; a layer of one (each mask of a
        # mask folder) is boxed by its projections: find_objects took 0.25 s on a 512x512x159 mask layer.
        found = (
            ndimage.find_objects(structures.layers[layer], max_label=largest)
            if len(values) > 1 and 1 <= largest <= MAX_FIND_OBJECTS_LABEL
            else []
        )
        for name, value in values.items():
            in_found = 1 <= value <= len(found)
            boxes[name] = found[value - 1] if in_found else _value_box(structures.layers[layer], value)
    return boxes


def _value_box(layer: np.ndarray, value: int) -> Box | None:
    """Box of one label value from the layer's three projections (also 0, the background, or a huge value)."""
    hit = layer == value
    profiles = [np.flatnonzero(hit.any(axis=axes)) for axes in ((1, 2), (0, 2), (0, 1))]
    if profiles[0].size == 0:
        return None
    return tuple(slice(int(p[0]), int(p[-1]) + 1) for p in profiles)


def _crop(structures: StructureSet, name: str, box: Box) -> np.ndarray:
    layer, value = structures.location(name)
    return structures.layers[layer][box] == value
