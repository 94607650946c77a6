"""Area in mm^2 of the surface elements of each 2x2x2 neighbourhood code, for a given voxel spacing.

The surface elements are the marching-cubes triangles of DeepMind surface-distance's definition (the one
the normalised surface Dice was published with); ``surfel_triangles.json`` says how the table was derived.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

TRIANGLE_TABLE = Path(__file__).with_name("surfel_triangles.json")


@lru_cache(maxsize=1)
def _triangle_area_vectors() -> tuple[np.ndarray, ...]:
    """Per code, a (triangles, 3) array of area vectors on the unit grid (array axis order)."""
    table = json.loads(TRIANGLE_TABLE.read_text())["triangle_area_vectors_x8"]
    return tuple(np.asarray(triangles, dtype=np.float64).reshape(-1, 3) / 8.0 for triangles in table)


@lru_cache(maxsize=64)
def surfel_area_table(spacing: Sequence[float]) -> np.ndarray:
    """Surface area in mm^2 for each of the 256 neighbourhood codes at ``spacing`` (z, y, x) mm.

    Scaling the grid by (s0, s1, s2) scales a triangle's area vector by (s1*s2, s0*s2, s0*s1), so the
    table is exact for anisotropic spacing.
    """
    s0, s1, s2 = (float(v) for v in spacing)
    scale = np.array([s1 * s2, s0 * s2, s0 * s1])
    areas = np.array([np.linalg.norm(vectors * scale, axis=1).sum() for vectors in _triangle_area_vectors()])
    areas.setflags(write=False)
    return areas
