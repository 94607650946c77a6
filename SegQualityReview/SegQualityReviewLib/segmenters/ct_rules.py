"""Classical CT segmentation rules (HU thresholds, morphology, connected components, region growing).

Each function takes a Hounsfield-unit (z, y, x) array and its spacing and returns boolean masks. The
thresholds are textbook values, not tuned on the data the docs report Dice on (see docs/segmenters.md):
air/body boundary -500 HU, aerated lung below -400 HU, pure air below -900 HU, bone from 200 HU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..io import Geometry
from .anatomy import PatientAxes

BODY_MIN_HU = -500.0
LUNG_MAX_HU = -400.0
AIR_MAX_HU = -900.0
BONE_MIN_HU = 200.0


@dataclass(frozen=True)
class LungMasks:
    left: np.ndarray
    right: np.ndarray


def body_mask(hu: np.ndarray, geometry: Geometry, *, axes: PatientAxes) -> np.ndarray:
    """The patient's body: tissue above -500 HU, opened by 4 mm to cut the table, large components, holes filled.

    Components of at least 5% of the largest are kept, so arms beside the trunk stay in; holes are
    filled per axial slice, so the lungs and airways lie inside the body.
    """
    spacing = geometry.array_spacing
    tissue = hu > BODY_MIN_HU
    opened = _open(tissue, spacing, radius_mm=4.0)
    body = _large_components(opened, fraction_of_largest=0.05)
    if not body.any():
        return body
    # Give back the skin the opening shaved off, staying inside the thresholded tissue.
    body = _large_components(_dilate(body, spacing, radius_mm=4.0) & tissue, fraction_of_largest=0.05)
    return _fill_holes_per_slice(body, axis=axes.superior_axis)


def lung_masks(hu: np.ndarray, geometry: Geometry, *, body: np.ndarray, axes: PatientAxes) -> LungMasks:
    """Left and right lungs: aerated tissue inside the body, told from bowel gas by its texture, split by side.

    Lung parenchyma is mostly between -950 and -600 HU, while bowel gas and airways are near -1000 HU;
    a component counts as lung when at least half its voxels lie in that band and it holds at least 10 ml.
    """
    spacing = geometry.array_spacing
    voxel_ml = float(np.prod(spacing)) / 1000.0
    aerated = (hu < LUNG_MAX_HU) & body
    labels, count = ndimage.label(aerated)
    if count == 0:
        empty = np.zeros_like(body)
        return LungMasks(left=empty, right=empty.copy())
    index = np.arange(1, count + 1)
    sizes = ndimage.sum_labels(np.ones_like(hu, dtype=np.float32), labels, index)
    parenchyma = (hu > -950.0) & (hu < -600.0)
    parenchyma_fraction = ndimage.sum_labels(parenchyma, labels, index) / np.maximum(sizes, 1)
    keep = index[(sizes * voxel_ml >= 10.0) & (parenchyma_fraction >= 0.5)]
    lungs = np.isin(labels, keep)
    midline = _body_midline_mm(body, geometry, axes=axes)
    left = np.zeros_like(lungs)
    right = np.zeros_like(lungs)
    lung_labels, lung_count = ndimage.label(lungs)
    for component in range(1, lung_count + 1):
        part = lung_labels == component
        side = _side_fractions(part, geometry, axes=axes, midline_mm=midline)
        if min(side) < 0.2:
            (left if side[0] >= side[1] else right)[part] = True
            continue
        split_left, split_right = _split_across_midline(part, geometry, axes=axes, midline_mm=midline)
        left |= split_left
        right |= split_right
    return LungMasks(left=left, right=right)


def trachea_mask(hu: np.ndarray, geometry: Geometry, *, body: np.ndarray, axes: PatientAxes) -> np.ndarray:
    """The trachea by slice-to-slice region growing down from a round air column near the midline.

    The seed is the largest pure-air (< -900 HU) blob of 80-700 mm2 within 30 mm of the body midline
    in the most superior slice that has one; growing follows overlapping air blobs caudally and stops
    where the area more than doubles (the carina or the lungs). Kept only when at least 40 mm long,
    so bowel or oesophageal gas in an abdominal scan does not pass for a trachea.
    """
    spacing = geometry.array_spacing
    in_plane_area_mm2 = float(np.prod([s for a, s in enumerate(spacing) if a != axes.superior_axis]))
    slice_thickness = spacing[axes.superior_axis]
    air = (hu < AIR_MAX_HU) & body
    midline = _body_midline_mm(body, geometry, axes=axes)
    trachea = np.zeros_like(body)
    left_axis_2d = axes.left_axis if axes.left_axis < axes.superior_axis else axes.left_axis - 1
    current = None
    seed_area = 0.0
    for index in axes.slices_from_top(hu.shape):
        air_slice = np.take(air, index, axis=axes.superior_axis)
        labels, count = ndimage.label(air_slice)
        if count == 0:
            if current is not None:
                break
            continue
        areas = ndimage.sum_labels(air_slice, labels, np.arange(1, count + 1)) * in_plane_area_mm2
        if current is None:
            centres = ndimage.center_of_mass(air_slice, labels, np.arange(1, count + 1))
            candidates = [
                (area, label)
                for label, (area, centre) in enumerate(zip(areas, centres), start=1)
                if 80.0 <= area <= 700.0
                and abs(_left_mm(centre[left_axis_2d], geometry, axes) - midline) <= 30.0
            ]
            if not candidates:
                continue
            seed_area, seed_label = max(candidates)
            current = labels == seed_label
        else:
            touching = np.unique(labels[current & (labels > 0)])
            if touching.size == 0:
                break
            grown = np.isin(labels, touching)
            if grown.sum() * in_plane_area_mm2 > 2.0 * seed_area:
                break
            current = grown
        _put_slice(trachea, index, current, axis=axes.superior_axis)
    length_mm = (
        np.any(trachea, axis=tuple(a for a in range(3) if a != axes.superior_axis)).sum() * slice_thickness
    )
    return trachea if length_mm >= 40.0 else np.zeros_like(trachea)


def bone_mask(hu: np.ndarray, geometry: Geometry, *, body: np.ndarray, axes: PatientAxes) -> np.ndarray:
    """Bones: 200 HU and above inside the body, closed by 2 mm, marrow filled per slice, pieces under 1 ml dropped.

    The threshold and closing radius were chosen on the ct_dicom case only (see docs/segmenters.md).
    """
    spacing = geometry.array_spacing
    voxel_ml = float(np.prod(spacing)) / 1000.0
    dense = (hu >= BONE_MIN_HU) & body
    closed = ~_dilate(~_dilate(dense, spacing, radius_mm=2.0), spacing, radius_mm=2.0)
    filled = _fill_holes_per_slice(closed & body, axis=axes.superior_axis)
    labels, count = ndimage.label(filled)
    if count == 0:
        return filled
    sizes = ndimage.sum_labels(filled, labels, np.arange(1, count + 1)) * voxel_ml
    return np.isin(labels, np.flatnonzero(sizes >= 1.0) + 1)


def _open(mask: np.ndarray, spacing: tuple[float, float, float], *, radius_mm: float) -> np.ndarray:
    """Morphological opening by a ball of ``radius_mm``, exact in mm through Euclidean distance maps."""
    eroded = ~_dilate(~mask, spacing, radius_mm=radius_mm)
    return _dilate(eroded, spacing, radius_mm=radius_mm) & mask


def _dilate(mask: np.ndarray, spacing: tuple[float, float, float], *, radius_mm: float) -> np.ndarray:
    """Voxels within ``radius_mm`` of ``mask`` (SimpleITK's multi-threaded Maurer distance map, in mm)."""
    if not mask.any():
        return np.zeros_like(mask, dtype=bool)
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    image.SetSpacing(tuple(float(s) for s in spacing[::-1]))
    distance = sitk.SignedMaurerDistanceMap(
        image, insideIsPositive=False, squaredDistance=False, useImageSpacing=True
    )
    return sitk.GetArrayViewFromImage(distance) <= radius_mm


def _large_components(mask: np.ndarray, *, fraction_of_largest: float) -> np.ndarray:
    labels, count = ndimage.label(mask)
    if count == 0:
        return np.zeros_like(mask, dtype=bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return np.isin(labels, np.flatnonzero(sizes >= fraction_of_largest * sizes.max()))


def _fill_holes_per_slice(mask: np.ndarray, *, axis: int) -> np.ndarray:
    filled = np.empty_like(mask, dtype=bool)
    for index in range(mask.shape[axis]):
        _put_slice(filled, index, ndimage.binary_fill_holes(np.take(mask, index, axis=axis)), axis=axis)
    return filled


def _put_slice(array: np.ndarray, index: int, values: np.ndarray, *, axis: int) -> None:
    selector = [slice(None)] * array.ndim
    selector[axis] = index
    array[tuple(selector)] = values


def _left_mm(index: float, geometry: Geometry, axes: PatientAxes) -> float:
    return axes.left_coordinate_mm(index, geometry)


def _body_midline_mm(body: np.ndarray, geometry: Geometry, *, axes: PatientAxes) -> float:
    """The body's centre along patient left-right (mm, in ``PatientAxes.left_coordinate_mm`` units)."""
    if not body.any():
        return _left_mm((body.shape[axes.left_axis] - 1) / 2.0, geometry, axes)
    profile = body.sum(axis=tuple(a for a in range(3) if a != axes.left_axis)).astype(float)
    centre_index = float(np.dot(profile, np.arange(profile.size)) / profile.sum())
    return _left_mm(centre_index, geometry, axes)


def _side_fractions(
    part: np.ndarray, geometry: Geometry, *, axes: PatientAxes, midline_mm: float
) -> tuple[float, float]:
    """Fractions of ``part`` on the patient's left and right of the midline."""
    profile = part.sum(axis=tuple(a for a in range(3) if a != axes.left_axis)).astype(float)
    positions = np.array([_left_mm(i, geometry, axes) for i in range(profile.size)])
    total = max(profile.sum(), 1.0)
    on_left = float(profile[positions > midline_mm].sum() / total)
    return on_left, 1.0 - on_left


def _split_across_midline(
    part: np.ndarray, geometry: Geometry, *, axes: PatientAxes, midline_mm: float
) -> tuple[np.ndarray, np.ndarray]:
    """Split one component holding both lungs: erode until two large pieces appear, then grow them back.

    Falls back to cutting at the body midline when erosion by up to 15 mm leaves one piece.
    """
    spacing = geometry.array_spacing
    depth = ndimage.distance_transform_edt(part, sampling=spacing)
    for radius_mm in np.arange(2.0, 15.01, 1.0):
        labels, count = ndimage.label(depth > radius_mm)
        if count < 2:
            continue
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        first, second = np.argsort(sizes)[::-1][:2]
        if sizes[second] < 0.2 * sizes[first]:
            continue
        seeds = np.where(labels == first, 1, np.where(labels == second, 2, 0))
        _, nearest = ndimage.distance_transform_edt(seeds == 0, sampling=spacing, return_indices=True)
        owner = seeds[tuple(nearest)]
        pieces = [(owner == 1) & part, (owner == 2) & part]
        left_fractions = [_side_fractions(p, geometry, axes=axes, midline_mm=midline_mm)[0] for p in pieces]
        return (pieces[0], pieces[1]) if left_fractions[0] >= left_fractions[1] else (pieces[1], pieces[0])
    coordinate_shape = [1, 1, 1]
    coordinate_shape[axes.left_axis] = part.shape[axes.left_axis]
    positions = np.array([_left_mm(i, geometry, axes) for i in range(part.shape[axes.left_axis])])
    on_left = (positions > midline_mm).reshape(coordinate_shape)
    return part & on_left, part & ~on_left
