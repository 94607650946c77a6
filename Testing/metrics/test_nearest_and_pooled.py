"""The GPU nearest-neighbour path (the grid distance transform) gives the KD-tree's distances on a real
pair; pooled HD95 agrees with MedPy."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from SegQualityReviewLib.io import read_structures
from SegQualityReviewLib.metrics import score_structure_sets
from SegQualityReviewLib.metrics.nearest import nearest_distances
from SegQualityReviewLib.metrics.surfaces import extract_surface


def test_grid_path_matches_kdtree_path_exactly_on_a_real_pair(shared_data: Path):
    folder = shared_data / "totalsegmentator" / "ct_sm"
    label_map = shared_data / "labelmaps" / "totalsegmentator_total_v2.json"
    fast = read_structures(folder / "pred_total_fast_v2.nii.gz", label_map=label_map).mask("liver")
    total = read_structures(folder / "pred_total_v2.nii.gz", label_map=label_map).mask("liver")
    spacing = (3.0, 3.0, 3.0)
    for surface in ("surfel", "voxel"):
        source = extract_surface(torch.as_tensor(fast), spacing=spacing, surface=surface)
        target = extract_surface(torch.as_tensor(total), spacing=spacing, surface=surface)
        by_tree = nearest_distances(source, target, spacing=spacing, method="kdtree")
        by_grid = nearest_distances(source, target, spacing=spacing, method="grid")
        assert by_tree.shape[0] > 500 and float(by_tree.max()) > 0
        torch.testing.assert_close(by_grid, by_tree, rtol=1e-12, atol=1e-12)


def test_pooled_voxel_hd95_agrees_with_medpy_on_brats_pairs(shared_data: Path):
    binary = pytest.importorskip("medpy.metric.binary", reason="peer MedPy not installed")
    folder = shared_data / "brats_toolkit" / "TCGA-DU-7294"
    label_map = shared_data / "labelmaps" / "brats_2017_2020.json"
    fusion = read_structures(folder / "fusion_mav.nii.gz", label_map=label_map)
    pred = read_structures(folder / "pred_isen-20.nii.gz", label_map=label_map)
    compared = 0
    for score in score_structure_sets(pred, fusion, surface="voxel", hd95="pooled", device="cpu"):
        if score.status != "ok":
            continue
        expected = binary.hd95(
            pred.mask(score.structure), fusion.mask(score.structure), voxelspacing=(1.0, 1.0, 1.0)
        )
        assert score.hd95 == pytest.approx(expected, rel=1e-9)
        compared += 1
    assert compared >= 2
