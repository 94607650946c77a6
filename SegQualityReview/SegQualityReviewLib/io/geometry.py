"""Voxel-grid geometry in ITK/LPS conventions and the checks that two grids agree."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import GeometryMismatchError


@dataclass(frozen=True)
class Geometry:
    """Where a voxel grid lies in patient space (LPS, millimetres).

    ``size``, ``spacing`` and ``origin`` are in ITK order (x, y, z): column, row, slice. numpy arrays
    read from images are indexed (z, y, x); use ``array_shape`` and ``array_spacing`` with them.
    ``direction`` is the 3x3 direction-cosine matrix, row-major, as SimpleITK returns it.
    """

    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)

    @classmethod
    def from_sitk(cls, image) -> Geometry:
        """The geometry of a 3D SimpleITK image (2D images are read as one slice)."""
        size = tuple(int(v) for v in image.GetSize())
        spacing = tuple(float(v) for v in image.GetSpacing())
        origin = tuple(float(v) for v in image.GetOrigin())
        direction = tuple(float(v) for v in image.GetDirection())
        if len(size) == 2:
            size, spacing, origin = size + (1,), spacing + (1.0,), origin + (0.0,)
            direction = (direction[0], direction[1], 0.0, direction[2], direction[3], 0.0, 0.0, 0.0, 1.0)
        return cls(size=size, spacing=spacing, origin=origin, direction=direction)

    @classmethod
    def from_array_shape(
        cls, shape: Sequence[int], *, spacing: Sequence[float] = (1.0, 1.0, 1.0)
    ) -> Geometry:
        """An axis-aligned grid at the origin for a (z, y, x) array; ``spacing`` is in (x, y, z) order."""
        z, y, x = (int(v) for v in shape)
        return cls(size=(x, y, z), spacing=tuple(float(s) for s in spacing), origin=(0.0, 0.0, 0.0))

    @property
    def array_shape(self) -> tuple[int, int, int]:
        """Shape of the numpy array for this grid, (z, y, x)."""
        return (self.size[2], self.size[1], self.size[0])

    @property
    def array_spacing(self) -> tuple[float, float, float]:
        """Spacing in mm per numpy array axis, (z, y, x)."""
        return (self.spacing[2], self.spacing[1], self.spacing[0])

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in millilitres."""
        return float(np.prod(self.spacing)) / 1000.0

    @property
    def diagonal_mm(self) -> float:
        """Length of the image diagonal in mm: the cap for distances to an absent structure."""
        return math.sqrt(sum((n * s) ** 2 for n, s in zip(self.size, self.spacing)))

    def apply_to(self, image) -> None:
        """Set spacing, origin and direction on a SimpleITK image built from an array."""
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(self.direction)

    def differences(
        self, other: Geometry, *, spacing_tolerance_mm: float = 1e-3, direction_tolerance: float = 1e-4
    ) -> list[str]:
        """Human-readable differences to ``other``; empty when the grids agree within tolerance.

        Origins may differ by ``spacing_tolerance_mm`` plus a thousandth of a voxel, since NIfTI stores
        them in single precision.
        """
        found = []
        if self.size != other.size:
            found.append(f"size {_fmt(self.size)} vs {_fmt(other.size)}")
        if any(abs(a - b) > spacing_tolerance_mm for a, b in zip(self.spacing, other.spacing)):
            found.append(f"spacing {_fmt(self.spacing)} vs {_fmt(other.spacing)} mm")
        origin_tolerance = spacing_tolerance_mm + 1e-3 * max(self.spacing)
        if any(abs(a - b) > origin_tolerance for a, b in zip(self.origin, other.origin)):
            found.append(f"origin {_fmt(self.origin)} vs {_fmt(other.origin)} mm")
        if any(abs(a - b) > direction_tolerance for a, b in zip(self.direction, other.direction)):
            found.append(f"direction {_fmt(self.direction)} vs {_fmt(other.direction)}")
        return found


def same_voxel_centres(first: Geometry, second: Geometry, *, tolerance_voxels: float = 1e-3) -> bool:
    """True when both grids hold exactly the same voxel centres, possibly with flipped or permuted axes.

    Such grids (a DICOM series and a NIfTI written in another orientation) differ only in how the array is
    laid out, so moving between them by nearest neighbour loses nothing.
    """
    first_affine = np.reshape(first.direction, (3, 3)) * np.asarray(first.spacing)
    second_affine = np.reshape(second.direction, (3, 3)) * np.asarray(second.spacing)
    # Continuous index in `first` of each index of `second`: index_first = mapping @ index_second + offset.
    mapping = np.linalg.solve(first_affine, second_affine)
    offset = np.linalg.solve(first_affine, np.subtract(second.origin, first.origin))
    signed_permutation = np.round(mapping)
    if not np.allclose(mapping, signed_permutation, atol=tolerance_voxels):
        return False
    if sorted(np.abs(signed_permutation).sum(axis=0)) != [1, 1, 1] or sorted(
        np.abs(signed_permutation).sum(axis=1)
    ) != [1, 1, 1]:
        return False
    if not np.allclose(offset, np.round(offset), atol=tolerance_voxels):
        return False
    corners = np.array(
        [
            [i, j, k]
            for i in (0, second.size[0] - 1)
            for j in (0, second.size[1] - 1)
            for k in (0, second.size[2] - 1)
        ]
    )
    mapped = np.round(corners @ signed_permutation.T + offset)
    return bool(
        mapped.min(axis=0).tolist() == [0, 0, 0] and (mapped.max(axis=0) == np.subtract(first.size, 1)).all()
    )


def check_same_geometry(
    first: Geometry,
    second: Geometry,
    *,
    first_name: str,
    second_name: str,
    spacing_tolerance_mm: float = 1e-3,
) -> None:
    """Raise ``GeometryMismatchError`` naming both files and every difference when the grids disagree.

    The message offers the remedy that fits: on the same voxel matrix with another spacing, the headers
    disagree about one array (resampling would compare different anatomy), so it offers
    ``--trust-gt-geometry``; on different matrices, ``--resample-pred``.
    """
    found = first.differences(second, spacing_tolerance_mm=spacing_tolerance_mm)
    if not found:
        return
    if first.size != second.size:
        remedy = "use --resample-pred to resample the prediction onto the reference grid, nearest neighbour"
    elif any(abs(a - b) > spacing_tolerance_mm for a, b in zip(first.spacing, second.spacing)):
        remedy = (
            "the headers disagree about the same voxel matrix, so resampling would compare different anatomy; "
            "if the prediction was saved with a wrong header, --trust-gt-geometry gives it the reference's geometry"
        )
    else:
        remedy = (
            "the voxel matrix is the same; if the prediction's header is wrong, --trust-gt-geometry gives it the "
            "reference's geometry, if it really lies elsewhere, --resample-pred resamples it (nearest neighbour)"
        )
    raise GeometryMismatchError(
        f"{first_name} and {second_name} are not on the same voxel grid: {'; '.join(found)} ({remedy})"
    )


def _fmt(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


def radiological_axial(plane: np.ndarray, geometry: Geometry) -> np.ndarray:
    """An axial (y, x) array plane laid out as radiologists read it: anterior up, patient's right on the left.

    For ``imshow`` with its default ``origin="upper"``. LPS axes: x runs to the patient's left and y to
    posterior, so a negative direction cosine means that array axis runs the other way and is flipped.
    """
    if geometry.direction[4] < 0:
        plane = plane[::-1, :]
    if geometry.direction[0] < 0:
        plane = plane[:, ::-1]
    return plane
