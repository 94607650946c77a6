"""Surface points of a cropped mask, with a weight each, under one of the two surface definitions.

``surfel``: corners of the voxel grid whose 2x2x2 neighbourhood is mixed, weighted by the area of their
marching-cubes surface elements (DeepMind surface-distance). ``voxel``: mask voxels with a 6-neighbour
outside the mask, weight 1 (MONAI, Metrics Reloaded, MedPy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from .surfel_areas import surfel_area_table

SURFACE_DEFINITIONS = ("surfel", "voxel")


@dataclass(frozen=True)
class Surface:
    """Surface points of one mask: the boolean grid marking them, their (M, 3) grid positions and weights."""

    grid: torch.Tensor
    positions: torch.Tensor
    weights: torch.Tensor


def extract_surface(mask: torch.Tensor, *, spacing: Sequence[float], surface: str) -> Surface:
    """Surface points of a boolean (z, y, x) mask, cropped to a box holding the whole pair's foreground.

    Outside the box counts as background (the image border too, as in MONAI and DeepMind). Both masks
    of a pair get their points on the same grid, so surface distances are grid offsets times ``spacing``.
    """
    if surface == "surfel":
        return _surfel_surface(mask, spacing)
    return _voxel_surface(mask)


def neighbourhood_codes(mask: torch.Tensor) -> torch.Tensor:
    """uint8 code of each voxel corner: bit 4*d0 + 2*d1 + d2 is set when voxel (corner - 1 + d) is inside.

    The corner grid is one larger than the mask on every axis; built one axis at a time (3 passes, not 8).
    """
    codes = F.pad(mask.to(torch.uint8), (1, 1, 1, 1, 1, 1))
    for axis, bit in ((2, 0), (1, 1), (0, 2)):
        length = codes.shape[axis] - 1
        codes = codes.narrow(axis, 0, length) | (codes.narrow(axis, 1, length) << (1 << bit))
    return codes


def _surfel_surface(mask: torch.Tensor, spacing: Sequence[float]) -> Surface:
    codes = neighbourhood_codes(mask)
    grid = (codes != 0) & (codes != 255)
    areas = torch.tensor(surfel_area_table(tuple(float(s) for s in spacing)), device=mask.device)
    return Surface(grid=grid, positions=grid.nonzero(), weights=areas[codes[grid].long()])


def _voxel_surface(mask: torch.Tensor) -> Surface:
    padded = F.pad(mask, (1, 1, 1, 1, 1, 1))
    interior = (
        mask
        & padded[:-2, 1:-1, 1:-1]
        & padded[2:, 1:-1, 1:-1]
        & padded[1:-1, :-2, 1:-1]
        & padded[1:-1, 2:, 1:-1]
        & padded[1:-1, 1:-1, :-2]
        & padded[1:-1, 1:-1, 2:]
    )
    grid = mask & ~interior
    positions = grid.nonzero()
    return Surface(
        grid=grid,
        positions=positions,
        weights=torch.ones(positions.shape[0], dtype=torch.float64, device=mask.device),
    )
