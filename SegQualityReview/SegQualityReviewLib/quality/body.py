"""Where the body lies along the patient's left-right axis, slice by slice: the frame for laterality.

A mask's side is judged against the body, not the image: its centroid's offset from the body's centre
on the same slices, in half body widths (+ towards the patient's left, LPS). The body is the
foreground of a coarse copy of the image (CT above -300 HU, MR above 10 % of its normalised range);
its 2nd and 98th percentiles along the left-right axis give the extent, robust to a table or noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io import Geometry
from ..segmenters.anatomy import PatientAxes

_STEP = 4
_CT_BODY_HU = -300.0
_MR_BODY_LEVEL = 0.1


@dataclass(frozen=True)
class BodyFrame:
    """The body's centre and half width (array index units along ``left_axis``), per array-axis-0 slice.

    ``left_sign`` is +1 when the index grows towards the patient's left. When the left-right axis is
    array axis 0 itself, one centre and width serve every slice.
    """

    left_axis: int
    left_sign: int
    centre: np.ndarray
    half_width: np.ndarray
    midline: float

    @classmethod
    def from_image(
        cls, primary_raw: np.ndarray, primary_normalised: np.ndarray, geometry: Geometry, *, modality: str
    ) -> BodyFrame:
        axes = PatientAxes.from_geometry(geometry)
        coarse = (primary_raw if modality == "CT" else primary_normalised)[:, ::_STEP, ::_STEP]
        body = coarse > (_CT_BODY_HU if modality == "CT" else _MR_BODY_LEVEL)
        depth = primary_raw.shape[0]
        axis = axes.left_axis
        scale = 1 if axis == 0 else _STEP
        centre = np.full(depth, np.nan)
        half = np.full(depth, np.nan)
        if axis == 0:
            coordinates = np.nonzero(body)[0].astype(float)
            if coordinates.size:
                low, high = np.percentile(coordinates, [2, 98])
                centre[:], half[:] = (low + high) / 2.0, max((high - low) / 2.0, 1.0)
        else:
            for z in range(depth):
                coordinates = np.nonzero(body[z])[axis - 1].astype(float)
                if coordinates.size >= 8:
                    low, high = np.percentile(coordinates, [2, 98]) * scale
                    centre[z], half[z] = (low + high) / 2.0, max((high - low) / 2.0, 1.0)
        valid = np.isfinite(centre)
        midline = float(np.median(centre[valid])) if valid.any() else (primary_raw.shape[axis] - 1) / 2.0
        return cls(left_axis=axis, left_sign=axes.left_sign, centre=centre, half_width=half, midline=midline)

    def lateral_offset(self, mask: np.ndarray, box: tuple[slice, slice, slice]) -> float:
        """The mask's mean offset from the body centre on its own slices, in half body widths, + = left.

        ``mask`` is a crop of the volume at ``box``. NaN where the body was not found on its slices.
        """
        z0 = box[0].start or 0
        if self.left_axis == 0:
            occupied = np.nonzero(mask)[0] + z0
            return float(self.left_sign * (occupied.mean() - self.midline) / self.half_width[0])
        other = 2 if self.left_axis == 1 else 1
        area = mask.sum(axis=other)  # (z, along the left axis)
        weights = area.sum(axis=1)
        positions = np.arange(mask.shape[self.left_axis]) + (box[self.left_axis].start or 0)
        slices = np.flatnonzero(weights)
        centres, halves = self.centre[slices + z0], self.half_width[slices + z0]
        valid = np.isfinite(centres)
        if not valid.any():
            return float("nan")
        slices, centres, halves = slices[valid], centres[valid], halves[valid]
        centroid = (area[slices] * positions).sum(axis=1) / weights[slices]
        offset = ((centroid - centres) / halves * weights[slices]).sum() / weights[slices].sum()
        return float(self.left_sign * offset)
