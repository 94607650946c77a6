"""The failure gallery's views: axial, coronal and sagittal planes through the failure, windowed, with a legend.

The centre is where the failure is: the false-positive island farthest from the reference for a distant one,
the prediction for a hallucination or a disjoint one, the prediction's smallest extra piece for a
fragmentation, and the reference for a missed, biased or unreadable one. Each plane is cropped to a fixed
physical window around it (``WINDOW_MM`` across), the image windowed as the estimator sees it (CT
-250..350 HU, MR percentiles; ``io.intensity``), reference and prediction drawn as contours in
colour-blind-safe colours, in radiological orientation (patient right on the viewer's left, superior up).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from scipy import ndimage

from ..batch.cases import read_case_structures
from ..errors import SegQualityError
from ..io import read_volume
from ..io.intensity import detect_modality, normalize_intensity
from .plots import LITERAL_TEXT, OKABE_ITO, figure_uri, new_figure, plt

WINDOW_MM = 120.0
REFERENCE_COLOR = OKABE_ITO[0]  # blue
PREDICTION_COLOR = OKABE_ITO[1]  # orange
CENTRE_COLOR = OKABE_ITO[3]  # reddish purple


def failure_centre(
    reference: np.ndarray, prediction: np.ndarray, *, failure_mode: str
) -> tuple[int, int, int]:
    """The (z, y, x) voxel the views are centred on for this failure mode (the volume's centre if empty)."""
    target = reference if reference.any() else prediction
    if failure_mode in ("hallucinated", "disjoint") and prediction.any():
        target = prediction
    elif failure_mode in ("distant_false_positive", "fragmented") and prediction.any():
        labels, count = ndimage.label(prediction, structure=np.ones((3, 3, 3), dtype=bool))
        if count > 1:
            sizes = np.bincount(labels.ravel())[1:]
            touching = np.unique(labels[reference & (labels > 0)])
            apart = [label for label in range(1, count + 1) if label not in set(touching.tolist())]
            if failure_mode == "distant_false_positive" and apart:
                # The island farthest from the reference, the one that made the failure mode.
                centres = ndimage.center_of_mass(prediction, labels, apart)
                anchor = np.array(ndimage.center_of_mass(reference)) if reference.any() else np.zeros(3)
                chosen = apart[int(np.argmax([np.linalg.norm(np.array(c) - anchor) for c in centres]))]
            else:
                chosen = int(np.argsort(sizes)[0]) + 1
            target = labels == chosen
    if not target.any():
        return tuple(size // 2 for size in reference.shape)  # type: ignore[return-value]
    return tuple(int(round(c)) for c in ndimage.center_of_mass(target))  # type: ignore[return-value]


def failure_views(
    *,
    structure: str,
    failure_mode: str,
    gt_path: Path,
    gt_label_map: Optional[Path],
    pred_path: Optional[Path],
    pred_label_map: Optional[Path],
    image_path: Optional[Path],
) -> tuple[Optional[str], str]:
    """A PNG data URI of the three planes through the failure and a caption; None with the reason if the
    files cannot be read."""
    try:
        gt = read_case_structures(gt_path, label_map=gt_label_map)
        reference = gt.mask(structure) if gt.find(structure) else np.zeros(gt.geometry.array_shape, bool)
        prediction = np.zeros_like(reference)
        if pred_path is not None:
            pred = read_case_structures(
                pred_path, label_map=pred_label_map, reference=gt.geometry, resample=True
            )
            if pred.find(structure):
                prediction = pred.mask(structure)
        image = read_volume(image_path).array if image_path is not None else None
    except SegQualityError as error:
        return None, f"no view: {error}"
    if image is not None and image.shape != reference.shape:
        image = None
    if image is not None:
        image = normalize_intensity(image, modality=detect_modality(image))
    centre = failure_centre(reference, prediction, failure_mode=failure_mode)
    spacing = gt.geometry.array_spacing
    direction = gt.geometry.direction
    figure, axes = new_figure(5.4, 1.95, ncols=3)
    with plt.rc_context(LITERAL_TEXT):
        for axis, plane in zip(axes, ("axial", "coronal", "sagittal")):
            _draw_plane(axis, plane, image, reference, prediction, centre, spacing, direction)
        handles = [
            plt.Line2D([], [], color=REFERENCE_COLOR, linewidth=1.4, label="reference"),
            plt.Line2D([], [], color=PREDICTION_COLOR, linewidth=1.4, label="prediction"),
            plt.Line2D([], [], color=CENTRE_COLOR, marker="+", linestyle="", label="failure centre"),
        ]
        figure.legend(handles=handles, loc="lower center", ncols=3, fontsize=6, frameon=False)
        figure.subplots_adjust(left=0.01, right=0.99, top=0.9, bottom=0.13, wspace=0.04)
    z, y, x = centre
    caption = f"centre z={z}, y={y}, x={x}; {WINDOW_MM:.0f} mm windows" + (
        "" if image is not None else "; no image (masks only)"
    )
    return figure_uri(figure), caption


def _draw_plane(
    axis,
    plane: str,
    image: Optional[np.ndarray],
    reference: np.ndarray,
    prediction: np.ndarray,
    centre: Sequence[int],
    spacing: Sequence[float],
    direction: Sequence[float],
) -> None:
    """One plane through ``centre``, cropped to the window, oriented radiologically, contours drawn."""
    z, y, x = centre
    if plane == "axial":
        take, axes_mm, point = (lambda a: a[z]), (spacing[1], spacing[2]), (y, x)
    elif plane == "coronal":
        take, axes_mm, point = (lambda a: a[:, y, :]), (spacing[0], spacing[2]), (z, x)
    else:
        take, axes_mm, point = (lambda a: a[:, :, x]), (spacing[0], spacing[1]), (z, y)
    layers = [take(reference), take(prediction)] + ([take(image)] if image is not None else [])
    rows, columns = _window(layers[0].shape, point, axes_mm)
    layers = [layer[rows, columns] for layer in layers]
    marker = (point[0] - rows.start, point[1] - columns.start)
    layers, marker = _orient(plane, layers, marker, direction)
    background = layers[2] if image is not None else np.zeros(layers[0].shape)
    axis.imshow(
        background, cmap="gray", vmin=0.0, vmax=1.0, aspect=axes_mm[0] / axes_mm[1], interpolation="nearest"
    )
    for mask, color in ((layers[0], REFERENCE_COLOR), (layers[1], PREDICTION_COLOR)):
        if mask.any():
            axis.contour(mask.astype(float), levels=[0.5], colors=color, linewidths=1.1)
    axis.plot(marker[1], marker[0], marker="+", color=CENTRE_COLOR, markersize=7, markeredgewidth=1.2)
    axis.set_title(plane, fontsize=7)
    axis.set_axis_off()


def _window(shape: Sequence[int], point: Sequence[int], axes_mm: Sequence[float]) -> tuple[slice, slice]:
    """A ``WINDOW_MM`` square (in mm) around ``point``, cut to the plane."""
    bounds = []
    for size, centre, mm in zip(shape, point, axes_mm):
        half = max(4, int(round(WINDOW_MM / 2.0 / mm)))
        start = min(max(0, centre - half), max(0, size - 2 * half))
        bounds.append(slice(start, min(size, start + 2 * half)))
    return bounds[0], bounds[1]


def _orient(
    plane: str, layers: list[np.ndarray], marker: tuple[int, int], direction: Sequence[float]
) -> tuple[list[np.ndarray], tuple[int, int]]:
    """Radiological display: anterior up in axial, superior up in coronal and sagittal, patient right on
    the viewer's left (LPS: the x axis runs to the patient's left)."""
    flip_rows = flip_columns = False
    if plane == "axial":
        flip_rows, flip_columns = direction[4] < 0, direction[0] < 0
    elif plane == "coronal":
        flip_rows, flip_columns = direction[8] > 0, direction[0] < 0
    else:
        flip_rows, flip_columns = direction[8] > 0, direction[4] < 0
    rows, columns = layers[0].shape
    if flip_rows:
        layers = [layer[::-1, :] for layer in layers]
        marker = (rows - 1 - marker[0], marker[1])
    if flip_columns:
        layers = [layer[:, ::-1] for layer in layers]
        marker = (marker[0], columns - 1 - marker[1])
    return layers, marker
