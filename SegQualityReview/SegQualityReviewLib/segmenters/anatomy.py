"""Where patient left and superior lie in a (z, y, x) array, read from the image's direction matrix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io import Geometry


@dataclass(frozen=True)
class PatientAxes:
    """Array axes (0 = z, 1 = y, 2 = x) along patient left-right and inferior-superior, with their signs.

    LPS convention: physical +x is patient left, +z is superior. ``left_sign`` is +1 when the array
    index grows towards the patient's left along ``left_axis``.
    """

    left_axis: int
    left_sign: int
    superior_axis: int
    superior_sign: int

    @classmethod
    def from_geometry(cls, geometry: Geometry) -> PatientAxes:
        direction = np.asarray(geometry.direction, dtype=float).reshape(3, 3)
        # Column j of the direction matrix is ITK axis j (x, y, z) in LPS; array axis = 2 - j.
        left_itk = int(np.argmax(np.abs(direction[0])))
        superior_itk = int(np.argmax(np.abs(direction[2])))
        return cls(
            left_axis=2 - left_itk,
            left_sign=1 if direction[0, left_itk] > 0 else -1,
            superior_axis=2 - superior_itk,
            superior_sign=1 if direction[2, superior_itk] > 0 else -1,
        )

    def left_coordinate_mm(self, index: float, geometry: Geometry) -> float:
        """Signed distance towards patient left of array index ``index`` along ``left_axis`` (mm)."""
        return self.left_sign * index * geometry.array_spacing[self.left_axis]

    def slices_from_top(self, shape: tuple[int, ...]) -> range:
        """Indices along ``superior_axis``, most superior first."""
        count = shape[self.superior_axis]
        return range(count - 1, -1, -1) if self.superior_sign > 0 else range(count)
