"""The exact grid distance transform (the CUDA nearest-surface path, run here on CPU) and the whole
nearest-surface step against scipy's Euclidean distance transform and the KD-tree, including points far
beyond the first window and stacked masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from scipy.spatial import cKDTree

from SegQualityReviewLib.metrics.grid_distances import grid_nearest_distances
from SegQualityReviewLib.metrics.nearest import nearest_distances
from SegQualityReviewLib.metrics.surfaces import extract_surface


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


def random_blobs(rng: np.random.Generator, shape) -> np.ndarray:
    return ndimage.binary_opening(rng.random(shape) < 0.35, iterations=1) | (rng.random(shape) < 0.002)


@pytest.mark.parametrize("method", ["kdtree", "grid"])
@pytest.mark.parametrize("surface", ["surfel", "voxel"])
def test_nearest_surface_distances_match_scipy_edt_alone_and_stacked(method, surface):
    """Every step of nearest_distances (the shared-point look-up, the 26-neighbour look-up and the search)
    against scipy's transform of the target surface; stacked masks give each mask's own distances."""
    rng = np.random.default_rng(5)
    spacing = (2.5, 0.8, 0.9)
    pairs = []
    for _ in range(3):
        gt = random_blobs(rng, (9, 14, 12))
        pred = gt ^ (rng.random(gt.shape) < 0.05)  # mostly the same surface, a few voxels off
        pred[0, :2, :2] = True  # and a fragment far from some of the reference
        pairs.append((pred, gt))
    alone = []
    for pred, gt in pairs:
        source = extract_surface(torch.as_tensor(pred), spacing=spacing, surface=surface)
        target = extract_surface(torch.as_tensor(gt), spacing=spacing, surface=surface)
        found = nearest_distances(source, target, spacing=spacing, method=method)
        expected = scipy_reference(target.grid.numpy(), source.positions.numpy(), spacing)
        assert (expected == 0).any() and (expected > 2 * min(spacing)).any()
        np.testing.assert_allclose(found.numpy(), expected, rtol=1e-12, atol=1e-12)
        alone.append(found)
    stacked_pred = torch.as_tensor(np.stack([pred for pred, _ in pairs]))
    stacked_gt = torch.as_tensor(np.stack([gt for _, gt in pairs]))
    source = extract_surface(stacked_pred, spacing=spacing, surface=surface)
    target = extract_surface(stacked_gt, spacing=spacing, surface=surface)
    found = nearest_distances(source, target, spacing=spacing, method=method)
    np.testing.assert_allclose(found.numpy(), torch.cat(alone).numpy(), rtol=1e-12, atol=1e-12)
