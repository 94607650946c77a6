"""The exact grid distance transform (the CUDA nearest-surface path, run here on CPU) against scipy's
Euclidean distance transform and the KD-tree, including points far beyond its first window."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from scipy.spatial import cKDTree

from SegQualityReviewLib.metrics.grid_distances import grid_nearest_distances


def scipy_reference(targets: np.ndarray, sources: np.ndarray, spacing) -> np.ndarray:
    return ndimage.distance_transform_edt(~targets, sampling=spacing)[tuple(sources.T)]


@pytest.mark.parametrize("seed", range(6))
def test_random_anisotropic_grids_match_scipy_edt_and_the_kdtree(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(2, 36, size=3))
    spacing = tuple(float(s) for s in rng.uniform(0.3, 4.0, size=3))
    targets = rng.random(shape) < (0.002, 0.02, 0.3)[seed % 3]
    targets.flat[rng.integers(targets.size)] = True
    sources = np.argwhere(rng.random(shape) < 0.4)
    found = grid_nearest_distances(torch.as_tensor(sources), torch.as_tensor(targets), spacing=spacing)
    assert found.dtype == torch.float64
    np.testing.assert_allclose(found.numpy(), scipy_reference(targets, sources, spacing), rtol=1e-12)
    tree = cKDTree(np.argwhere(targets) * np.asarray(spacing))
    np.testing.assert_allclose(found.numpy(), tree.query(sources * np.asarray(spacing))[0], rtol=1e-12)


def test_sources_far_beyond_the_first_window_are_widened_until_exact():
    # Thin slices (3 mm) over a fine plane (0.5 x 0.7 mm): the first window reaches 24 mm, and a target
    # in one corner leaves most of the box farther away than that.
    shape, spacing = (12, 150, 160), (3.0, 0.5, 0.7)
    targets = np.zeros(shape, dtype=bool)
    targets[0, 0, 0] = targets[11, 149, 3] = True
    sources = np.argwhere(np.random.default_rng(3).random(shape) < 0.01)
    expected = scipy_reference(targets, sources, spacing)
    assert (expected > 24.0).mean() > 0.9
    found = grid_nearest_distances(torch.as_tensor(sources), torch.as_tensor(targets), spacing=spacing)
    np.testing.assert_allclose(found.numpy(), expected, rtol=1e-12)


def test_a_source_on_a_target_is_at_zero_and_a_single_line_grid_works():
    targets = torch.zeros((1, 1, 9), dtype=torch.bool)
    targets[0, 0, 4] = True
    sources = torch.tensor([[0, 0, 4], [0, 0, 0], [0, 0, 8]])
    found = grid_nearest_distances(sources, targets, spacing=(1.0, 1.0, 0.5))
    assert found.tolist() == [0.0, 2.0, 2.0]
