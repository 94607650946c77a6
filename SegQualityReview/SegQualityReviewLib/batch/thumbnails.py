"""Slice thumbnails for the worst cases: image, reference and prediction overlaid at the worst slice.

The worst slice is the axial slice with the most voxels where reference and prediction disagree (or,
when they agree everywhere, the slice with the largest reference area).
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
    figure, axis = plt.subplots(figsize=(2.6, 2.6))
    if background is not None and background.shape == reference.shape:
        plane = background[index]
        low, high = np.percentile(plane, [1, 99])
        axis.imshow(plane, cmap="gray", vmin=low, vmax=high if high > low else low + 1)
    else:
        axis.imshow(np.zeros(reference.shape[1:]), cmap="gray")
    for mask, color in ((reference[index], "lime"), (prediction[index], "red")):
        if mask.any():
            axis.contour(mask.astype(float), levels=[0.5], colors=color, linewidths=1.0)
    axis.set_axis_off()
    return figure_uri(figure), f"slice z={index} (reference green, prediction red)"
