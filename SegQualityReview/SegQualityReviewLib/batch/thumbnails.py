"""Slice thumbnails for the worst cases: image, reference and prediction overlaid at the worst slice.

The worst slice is the axial slice with the most voxels where reference and prediction disagree (or,
when they agree everywhere, the slice with the largest reference area), shown in radiological
orientation and cropped around the structure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import SegQualityError
from ..io import read_structures, read_volume
from .plots import figure_uri, plt


def worst_slice(reference: np.ndarray, prediction: np.ndarray) -> int:
    """Index (z) of the axial slice where the two (z, y, x) masks disagree most."""
    disagreement = (reference != prediction).sum(axis=(1, 2))
    if disagreement.max() > 0:
        return int(disagreement.argmax())
    return int(reference.sum(axis=(1, 2)).argmax())


def case_thumbnail(
    *,
    structure: str,
    gt_path: Path,
    gt_label_map: Path | None,
    pred_path: Path | None,
    pred_label_map: Path | None,
    image_path: Path | None,
) -> tuple[str | None, str]:
    """A PNG data URI of the worst slice (reference green, prediction red) and a caption; None if unreadable."""
    try:
        gt = read_structures(gt_path, label_map=gt_label_map)
        reference = gt.mask(structure) if gt.find(structure) else np.zeros(gt.geometry.array_shape, bool)
        prediction = np.zeros_like(reference)
        if pred_path is not None:
            pred = read_structures(pred_path, label_map=pred_label_map, reference=gt.geometry, resample=True)
            if pred.find(structure):
                prediction = pred.mask(structure)
        background = read_volume(image_path).array if image_path is not None else None
    except SegQualityError as error:
        return None, f"no thumbnail: {error}"
    index = worst_slice(reference, prediction)
    planes = [reference[index], prediction[index]]
    if background is not None and background.shape == reference.shape:
        planes.append(background[index])
    planes = [_radiological(plane, gt.geometry.direction) for plane in planes]
    window = _crop_window(planes[0] | planes[1])
    planes = [plane[window] for plane in planes]
    figure, axis = plt.subplots(figsize=(2.6, 2.6))
    aspect = gt.geometry.spacing[1] / gt.geometry.spacing[0]
    if len(planes) == 3:
        low, high = np.percentile(planes[2], [1, 99])
        axis.imshow(planes[2], cmap="gray", vmin=low, vmax=high if high > low else low + 1, aspect=aspect)
    else:
        axis.imshow(np.zeros(planes[0].shape), cmap="gray", aspect=aspect)
    for mask, color in ((planes[0], "lime"), (planes[1], "red")):
        if mask.any():
            axis.contour(mask.astype(float), levels=[0.5], colors=color, linewidths=1.0)
    axis.set_axis_off()
    return figure_uri(figure), f"slice z={index} (reference green, prediction red)"


def _radiological(plane: np.ndarray, direction: tuple[float, ...]) -> np.ndarray:
    """An axial (y, x) plane flipped so anterior is up and the patient's right on the viewer's left (LPS)."""
    if direction[4] < 0:
        plane = plane[::-1, :]
    if direction[0] < 0:
        plane = plane[:, ::-1]
    return plane


def _crop_window(mask: np.ndarray, *, margin: int = 16, min_size: int = 64) -> tuple[slice, slice]:
    """Rows and columns around ``mask`` with a margin, at least ``min_size`` wide; everything when empty."""
    if not mask.any():
        return slice(None), slice(None)
    window = []
    for axis in (0, 1):
        present = np.flatnonzero(mask.any(axis=1 - axis))
        half = max((present[-1] - present[0]) // 2 + margin, min_size // 2)
        centre = (present[0] + present[-1]) // 2
        window.append(slice(max(0, centre - half), min(mask.shape[axis], centre + half + 1)))
    return window[0], window[1]
