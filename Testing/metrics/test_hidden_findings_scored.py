"""Hidden-finding inputs whose fix shows in the scores: a duplicate segment name, an implicit label.

They score with the torch metric core, so they live here rather than beside the torch-free io tests that
also run on Slicer's own Python stacks.
"""

from __future__ import annotations

import json

import nrrd
import numpy as np
import pytest
import SimpleITK as sitk

from SegQualityReviewLib.io import read_structure_folder, read_structures
from SegQualityReviewLib.metrics import score_structure_sets


def test_a_real_liver_is_not_lost_behind_an_empty_segment_of_the_same_name(shared_data, tmp_path):
    """The issue's real pair: a second, empty "liver" segment hid the first and gave Dice 0."""
    folder, maps = shared_data / "totalsegmentator" / "ct_sm", shared_data / "labelmaps"
    labels_v2 = maps / "totalsegmentator_total_v2.json"
    gt = read_structures(folder / "pred_total_v2.nii.gz", label_map=labels_v2)
    fast = read_structures(folder / "pred_total_fast_v2.nii.gz", label_map=labels_v2)
    layers = np.stack([fast.mask("liver"), np.zeros_like(fast.mask("liver"))]).astype(np.uint8)
    geometry = gt.geometry
    header = {
        "space": "left-posterior-superior",
        # One row per axis: the list axis has none, then each grid axis's step in mm (ITK direction columns).
        "space directions": np.vstack(
            [np.full(3, np.nan), (np.reshape(geometry.direction, (3, 3)) * np.asarray(geometry.spacing)).T]
        ),
        "space origin": np.array(geometry.origin),
        "kinds": ["list", "domain", "domain", "domain"],
    }
    for index in range(2):
        header.update({f"Segment{index}_ID": f"s{index}", f"Segment{index}_Name": "liver",
                       f"Segment{index}_Layer": str(index), f"Segment{index}_LabelValue": "1"})  # fmt: skip
    # nrrd writes Fortran order (x fastest) as Slicer does; the array is (layer, z, y, x) -> (layer, x, y, z).
    path = tmp_path / "two_livers.seg.nrrd"
    nrrd.write(str(path), layers.transpose(0, 3, 2, 1), header)
    pred = read_structures(path, reference=gt.geometry)
    scores = {s.structure: s for s in score_structure_sets(pred, gt, device="cpu")}
    true_dice = score_structure_sets(fast, gt, device="cpu")
    expected = next(s.dice for s in true_dice if s.structure == "liver")
    assert scores["liver"].status == "ok" and scores["liver"].dice == pytest.approx(expected)
    assert expected > 0.7
    assert scores["liver #2"].status == "not_supported"  # kept and shown, not silently dropped


def test_without_a_label_map_an_empty_prediction_is_empty_pred_not_unsupported(tmp_path):
    gt = np.zeros((4, 4, 4), dtype=np.uint8)
    gt[1:3, 1:3, 1:3] = 2
    for name, array in (("gt", gt), ("pred", np.zeros_like(gt))):
        sitk.WriteImage(sitk.GetImageFromArray(array), str(tmp_path / f"{name}.nii.gz"))
    reference = read_structures(tmp_path / "gt.nii.gz")
    prediction = read_structures(tmp_path / "pred.nii.gz", reference=reference.geometry)
    [score] = score_structure_sets(prediction, reference, device="cpu")
    assert (score.structure, score.status, score.dice, score.failure_mode) == (
        "label_2",
        "empty_pred",
        0.0,
        "missed",
    )


def test_a_mask_folder_scores_exactly_as_the_same_structures_in_one_label_image(tmp_path):
    """Mask folders crop each boolean mask by its projections, label images by find_objects: same numbers."""
    rng = np.random.default_rng(3)
    gt = np.zeros((12, 20, 24), dtype=np.uint8)
    gt[2:9, 3:12, 4:15] = 1
    gt[5:11, 13:19, 16:23] = 2
    gt[0:3, 0:4, 20:24] = 3
    pred = gt.copy()
    pred[rng.random(gt.shape) < 0.05] = 0
    pred[10:12, 0:2, 22:24] = (
        2  # a false-positive blob at the far corner widens spleen's box past the reference
    )
    names = {1: "liver", 2: "spleen", 3: "kidney"}
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"labels": {str(v): n for v, n in names.items()}}), encoding="utf-8")
    for name, array in (("gt", gt), ("pred", pred)):
        sitk.WriteImage(sitk.GetImageFromArray(array), str(tmp_path / f"{name}.nii.gz"))
    folder = tmp_path / "pred_masks"
    folder.mkdir()
    for value, name in names.items():
        sitk.WriteImage(
            sitk.GetImageFromArray((pred == value).astype(np.uint8)), str(folder / f"{name}.nii.gz")
        )
    reference = read_structures(tmp_path / "gt.nii.gz", label_map=labels)
    from_image = read_structures(tmp_path / "pred.nii.gz", label_map=labels, reference=reference.geometry)
    from_folder = read_structure_folder(folder, reference=reference.geometry)
    expected = {s.structure: s.as_row() for s in score_structure_sets(from_image, reference, device="cpu")}
    found = {s.structure: s.as_row() for s in score_structure_sets(from_folder, reference, device="cpu")}
    assert found == expected and expected["spleen"]["hd95"] > 5
