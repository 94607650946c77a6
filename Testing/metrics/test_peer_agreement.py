"""Agreement with DeepMind surface-distance (surfel mode) and MONAI (voxel mode) on real pairs, to 1e-5."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from metric_peers import deepmind_values, disagreements, monai_values

from SegQualityReviewLib.io import Geometry, StructureSet, read_structures
from SegQualityReviewLib.metrics import score_structure_sets

# The peers' own deprecation notices (scipy.ndimage namespaces, a MONAI argument) are not our concern here.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:surface_distance.metrics"),
    pytest.mark.filterwarnings("ignore::FutureWarning:monai.utils.deprecate_utils"),
]
TOLERANCE_MM = 2.0
# Small to large, thin to round: a subset keeps the 512x512x156 inter-rater pair within the time budget.
HN_STRUCTURES = ("Lens-Lt", "Optic-Nerve-Rt", "Parotid-Lt", "Brainstem", "Mandible")
BRATS_ALGORITHMS = ("hnfnetv1-20", "isen-20", "sanet0-20", "scan-20", "yixinmpl-20")


def check_against_peers(pred: StructureSet, gt: StructureSet) -> int:
    """Assert agreement on every structure both sides fill; return how many were compared."""
    surfel = score_structure_sets(pred, gt, surface="surfel", nsd_tolerance_mm=TOLERANCE_MM, device="cpu")
    voxel = score_structure_sets(pred, gt, surface="voxel", nsd_tolerance_mm=TOLERANCE_MM, device="cpu")
    spacing = gt.geometry.array_spacing
    problems, compared = [], 0
    for surfel_score, voxel_score in zip(surfel, voxel):
        if surfel_score.status != "ok":
            continue
        pred_mask, gt_mask = pred.mask(surfel_score.structure), gt.mask(surfel_score.structure)
        problems += disagreements(surfel_score, deepmind_values(pred_mask, gt_mask, spacing, TOLERANCE_MM))
        problems += disagreements(voxel_score, monai_values(pred_mask, gt_mask, spacing, TOLERANCE_MM))
        compared += 1
    assert not problems, "\n".join(problems)
    return compared


def test_totalsegmentator_fast_against_total_agrees_with_both_peers(shared_data: Path):
    folder = shared_data / "totalsegmentator" / "ct_sm"
    label_map = shared_data / "labelmaps" / "totalsegmentator_total_v2.json"
    fast = read_structures(folder / "pred_total_fast_v2.nii.gz", label_map=label_map)
    total = read_structures(folder / "pred_total_v2.nii.gz", label_map=label_map)
    assert check_against_peers(fast, total) >= 20


def test_two_human_readers_of_head_and_neck_organs_agree_with_both_peers(shared_data: Path):
    folder = shared_data / "deepmind_hn_oar_labels_only" / "0522c0017"
    readers = {}
    for reader in ("radiographer", "oncologist"):
        sets = [read_structures(folder / reader / f"{structure}.nrrd") for structure in HN_STRUCTURES]
        readers[reader] = {
            structure: found.mask(found.names[0]) for structure, found in zip(HN_STRUCTURES, sets)
        }
    # Crop both readers to one box around all their foreground plus 2 voxels: every surface, and so every
    # value of a structure both fill, is unchanged, and the peers skip 98% of the 512x512x156 grid.
    union = np.logical_or.reduce([mask for masks in readers.values() for mask in masks.values()])
    box = tuple(slice(max(int(i.min()) - 2, 0), int(i.max()) + 3) for i in np.nonzero(union))
    full = sets[0].geometry
    shape = union[box].shape
    cropped = Geometry(
        size=(shape[2], shape[1], shape[0]),
        spacing=full.spacing,
        origin=full.origin,
        direction=full.direction,
    )
    radiographer, oncologist = (
        StructureSet.from_masks(
            {name: mask[box] for name, mask in masks.items()}, cropped, source=str(folder / reader)
        )
        for reader, masks in readers.items()
    )
    assert check_against_peers(radiographer, oncologist) == len(HN_STRUCTURES)


def test_brats_algorithms_against_their_fusion_agree_with_both_peers(shared_data: Path):
    folder = shared_data / "brats_toolkit" / "TCGA-DU-7294"
    label_map = shared_data / "labelmaps" / "brats_2017_2020.json"
    fusion = read_structures(folder / "fusion_mav.nii.gz", label_map=label_map)
    compared = sum(
        check_against_peers(read_structures(folder / f"pred_{name}.nii.gz", label_map=label_map), fusion)
        for name in BRATS_ALGORITHMS
    )
    assert compared >= 2 * len(BRATS_ALGORITHMS)


def test_brats_enhancing_tumour_absent_from_the_fusion_is_hallucinated_at_the_diagonal(shared_data: Path):
    folder = shared_data / "brats_toolkit" / "TCGA-DU-7294"
    label_map = shared_data / "labelmaps" / "brats_2017_2020.json"
    fusion = read_structures(folder / "fusion_mav.nii.gz", label_map=label_map)
    hallucinated = []
    for name in BRATS_ALGORITHMS:
        pred = read_structures(folder / f"pred_{name}.nii.gz", label_map=label_map)
        for score in score_structure_sets(pred, fusion, device="cpu"):
            if score.status == "empty_gt":
                hallucinated.append(score)
    assert len(hallucinated) == 2
    for score in hallucinated:
        assert score.failure_mode == "hallucinated"
        assert (score.dice, score.nsd, score.precision) == (0.0, 0.0, 0.0)
        assert np.isnan(score.recall)
        assert score.hd == score.hd95 == score.assd == pytest.approx(fusion.geometry.diagonal_mm)
        assert score.volume_gt_ml == 0.0 and score.volume_pred_ml > 0.0
