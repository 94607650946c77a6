"""Our surface-element table: derived from classic marching cubes, equal to DeepMind's areas."""

from __future__ import annotations

import json

import numpy as np
import pytest

from SegQualityReviewLib.metrics.surfel_areas import TRIANGLE_TABLE, surfel_area_table


def marching_cubes_area_vectors(code: int) -> list[list[int]]:
    """Area vectors (x8, array axis order) of VTK's marching-cubes triangles for one 2x2x2 code."""
    vtk = pytest.importorskip("vtk", reason="vtk (test-only) regenerates the surfel table")
    from vtk.util import numpy_support

    corners = np.array(
        [(code >> (4 * d0 + 2 * d1 + d2)) & 1 for d0 in (0, 1) for d1 in (0, 1) for d2 in (0, 1)]
    )
    image = vtk.vtkImageData()
    image.SetDimensions(2, 2, 2)
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(corners.astype(np.float64), deep=1))
    cubes = vtk.vtkMarchingCubes()
    cubes.SetInputData(image)
    cubes.SetValue(0, 0.5)
    cubes.ComputeNormalsOff()
    cubes.Update()
    output = cubes.GetOutput()
    if output.GetNumberOfPoints() == 0:
        return []
    points = numpy_support.vtk_to_numpy(output.GetPoints().GetData()).astype(np.float64)[:, ::-1]
    triangles = numpy_support.vtk_to_numpy(output.GetPolys().GetConnectivityArray()).reshape(-1, 3)
    vectors = []
    for a, b, c in triangles:
        vectors.append([int(round(v)) for v in 4 * np.cross(points[b] - points[a], points[c] - points[a])])
    return vectors


def test_surfel_table_is_marching_cubes_with_complement_symmetry():
    stored = json.loads(TRIANGLE_TABLE.read_text())["triangle_area_vectors_x8"]
    for code in range(256):
        source = code if bin(code).count("1") <= 4 else 255 - code
        assert stored[code] == marching_cubes_area_vectors(source), f"code {code}"


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.5, 0.8, 0.6), (0.7, 3.0, 1.3)])
def test_surfel_areas_equal_deepmind_surface_distance_table(spacing):
    lookup_tables = pytest.importorskip(
        "surface_distance.lookup_tables", reason="peer surface-distance not installed"
    )
    theirs = lookup_tables.create_table_neighbour_code_to_surface_area(spacing)
    # DeepMind weights voxel (d0, d1, d2) by bit 7 - (4*d0 + 2*d1 + d2): the same code, bits reversed.
    reversed_code = [int(f"{code:08b}"[::-1], 2) for code in range(256)]
    np.testing.assert_allclose(surfel_area_table(spacing), theirs[reversed_code], rtol=1e-12)
