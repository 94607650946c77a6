"""The empty-mask policy, statuses, failure modes and option errors (DESIGN section 3, docs/metrics.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from SegQualityReviewLib.errors import GeometryMismatchError, SegQualityError
from SegQualityReviewLib.io import Geometry, StructureSet
from SegQualityReviewLib.metrics import (
    FAILURE_MODES,
    STATUSES,
    MetricInputError,
    StructureScore,
    score_masks,
    score_structure_sets,
    scoring,
)

SHAPE = (12, 16, 20)
SPACING = (3.0, 1.0, 0.5)
DIAGONAL_MM = math.sqrt((12 * 3.0) ** 2 + 16**2 + 10**2)
DISTANCES = ("hd", "hd95", "nsd", "assd", "masd")


def block(start: int, stop: int) -> np.ndarray:
    mask = np.zeros(SHAPE, dtype=bool)
    mask[3:9, start:stop, 5:15] = True
    return mask


EMPTY = np.zeros(SHAPE, dtype=bool)


def score(pred: np.ndarray, gt: np.ndarray, **options) -> StructureScore:
    return score_masks(pred[None], gt[None], spacing=SPACING, names=["organ"], device="cpu", **options)[0]


def test_record_fields_statuses_and_failure_modes_are_the_published_contract():
    fields = list(StructureScore.__dataclass_fields__)
    assert fields == [
        "structure", "status", "failure_mode", "dice", "iou", "precision", "recall", "hd", "hd95", "nsd",
        "assd", "masd", "volume_pred_ml", "volume_gt_ml", "volume_diff_ml",
    ]  # fmt: skip
    assert STATUSES == ("ok", "empty_gt", "empty_pred", "both_empty", "not_supported", "failed")
    assert FAILURE_MODES == (
        "missed",
        "hallucinated",
        "disjoint",
        "distant_false_positive",
        "fragmented",
        "boundary_bias",
        "",
    )
    assert list(score(block(2, 8), block(4, 10)).as_row()) == fields


def test_both_empty_is_excluded_with_nan_values_and_zero_volumes():
    result = score(EMPTY, EMPTY)
    assert (result.status, result.failure_mode) == ("both_empty", "")
    for field in ("dice", "iou", "precision", "recall") + DISTANCES:
        assert math.isnan(getattr(result, field)), field
    assert (result.volume_pred_ml, result.volume_gt_ml, result.volume_diff_ml) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("surface", ["surfel", "voxel"])
def test_empty_prediction_on_a_filled_reference_is_missed_at_the_diagonal(surface: str):
    result = score(EMPTY, block(2, 8), surface=surface)
    assert (result.status, result.failure_mode) == ("empty_pred", "missed")
    assert (result.dice, result.iou, result.recall, result.nsd) == (0.0, 0.0, 0.0, 0.0)
    assert math.isnan(result.precision)
    assert result.hd == result.hd95 == result.assd == result.masd == pytest.approx(DIAGONAL_MM)
    assert result.volume_diff_ml == pytest.approx(-result.volume_gt_ml) and result.volume_gt_ml > 0


@pytest.mark.parametrize("surface", ["surfel", "voxel"])
def test_prediction_on_an_empty_reference_is_hallucinated_at_the_diagonal(surface: str):
    result = score(block(2, 8), EMPTY, surface=surface)
    assert (result.status, result.failure_mode) == ("empty_gt", "hallucinated")
    assert (result.dice, result.iou, result.precision, result.nsd) == (0.0, 0.0, 0.0, 0.0)
    assert math.isnan(result.recall)
    assert result.hd == result.hd95 == result.assd == result.masd == pytest.approx(DIAGONAL_MM)


def test_no_value_is_ever_infinite_for_any_empty_combination():
    for pred, gt in [(EMPTY, EMPTY), (EMPTY, block(2, 8)), (block(2, 8), EMPTY), (block(2, 8), block(9, 12))]:
        for surface in ("surfel", "voxel"):
            result = score(pred, gt, surface=surface)
            assert not any(isinstance(v, float) and math.isinf(v) for v in result.as_row().values()), result


def test_non_overlapping_masks_are_disjoint_with_real_distances():
    result = score(block(2, 6), block(10, 14))
    assert (result.status, result.failure_mode, result.dice) == ("ok", "disjoint", 0.0)
    # Facing surfaces are 4 mm apart on the corner grid (rows 6 and 10 at 1 mm): nothing is nearer.
    assert result.assd > 4.0 and result.hd95 >= 4.0
    assert result.nsd == 0.0 and result.hd < DIAGONAL_MM


def test_prediction_with_more_components_than_the_reference_is_fragmented():
    gt = block(2, 12)
    pred = block(2, 12)
    pred[:, 7, :] = False  # cuts the prediction in two 26-connected pieces
    assert score(pred, gt).failure_mode == "fragmented"
    assert score(gt, pred).failure_mode == ""


def test_an_island_far_from_the_reference_is_a_distant_false_positive_and_a_near_one_a_fragment():
    gt = block(2, 6)
    far = gt.copy()
    far[0:2, 14:16, 0:2] = True  # 11 mm from the reference (3 mm slices, 1 mm rows, 0.5 mm columns)
    assert score(far, gt).failure_mode == "distant_false_positive"
    near = gt.copy()
    near[3:5, 8, 5:7] = True  # 3 mm beyond the reference's last row
    assert score(near, gt).failure_mode == "fragmented"


def test_a_volume_far_from_the_references_is_a_boundary_bias():
    assert score(block(2, 12), block(4, 10)).failure_mode == "boundary_bias"  # 10 rows for 6: ratio 1.67
    assert score(block(5, 9), block(3, 11)).failure_mode == "boundary_bias"  # 4 rows for 8: ratio 0.5
    assert score(block(2, 10), block(2, 9)).failure_mode == ""  # 8 rows for 7: within 1.25


def test_compute_distances_false_leaves_every_distance_nan_and_keeps_overlap():
    for pred, gt in [(block(2, 8), block(4, 10)), (EMPTY, block(2, 8))]:
        fast, full = score(pred, gt, compute_distances=False), score(pred, gt)
        assert all(math.isnan(getattr(fast, field)) for field in DISTANCES)
        assert (fast.dice, fast.status, fast.failure_mode) == (full.dice, full.status, full.failure_mode)


def test_torch_tensors_score_like_numpy_arrays_and_batches_like_single_structures():
    pred = np.stack([block(2, 8), EMPTY, block(1, 15)])
    gt = np.stack([block(4, 10), block(2, 8), block(1, 15)])
    names = ["a", "b", "c"]
    from_numpy = score_masks(pred, gt, spacing=SPACING, names=names, device="cpu")
    from_torch = score_masks(
        torch.as_tensor(pred), torch.as_tensor(gt), spacing=SPACING, names=names, device="cpu"
    )
    single = [score(p, g) for p, g in zip(pred, gt)]
    assert [s.as_row() for s in from_torch] == [s.as_row() for s in from_numpy]
    assert [s.status for s in from_numpy] == [s.status for s in single] == ["ok", "empty_pred", "ok"]
    assert from_numpy[0].hd95 == single[0].hd95 and from_numpy[2].dice == 1.0


def test_per_structure_nsd_tolerance_matches_names_and_falls_back_to_2mm():
    pred, gt = np.stack([block(2, 8)] * 2), np.stack([block(3, 9)] * 2)
    tolerant, fallback = score_masks(
        pred,
        gt,
        spacing=SPACING,
        names=["Optic Nerve", "other"],
        nsd_tolerance_mm={"optic_nerve": 0.5},
        device="cpu",
    )
    assert tolerant.nsd < fallback.nsd == score(block(2, 8), block(3, 9), nsd_tolerance_mm=2.0).nsd


def geometry() -> Geometry:
    return Geometry.from_array_shape(SHAPE, spacing=SPACING[::-1])


def test_structure_sets_pair_by_name_and_mark_undeclared_structures_not_supported():
    gt = StructureSet.from_masks(
        {"Liver": block(2, 8), "Spleen": block(9, 12)}, geometry(), source="gt.nii.gz"
    )
    pred = StructureSet.from_masks(
        {"liver": block(3, 8), "Tumour": block(1, 3)}, geometry(), source="pred.nii.gz"
    )
    liver, spleen, tumour = score_structure_sets(pred, gt, device="cpu")
    assert (liver.structure, liver.status) == ("Liver", "ok")
    assert liver.dice == pytest.approx(2 * 5 / 11)
    assert spleen.status == "not_supported" and math.isnan(spleen.dice) and math.isnan(spleen.hd)
    assert spleen.volume_gt_ml > 0 and math.isnan(spleen.volume_pred_ml)
    assert tumour.status == "not_supported" and tumour.volume_pred_ml > 0 and math.isnan(tumour.volume_gt_ml)


def test_structure_sets_on_different_grids_raise_naming_both_files():
    gt = StructureSet.from_masks({"Liver": block(2, 8)}, geometry(), source="gt.nii.gz")
    other = Geometry(size=geometry().size, spacing=(0.5, 1.0, 2.0), origin=(0.0, 0.0, 0.0))
    pred = StructureSet.from_masks({"Liver": block(2, 8)}, other, source="pred.nii.gz")
    with pytest.raises(GeometryMismatchError, match="pred.nii.gz and gt.nii.gz"):
        score_structure_sets(pred, gt, device="cpu")


def test_running_out_of_memory_on_one_structure_marks_only_it_failed(monkeypatch):
    original = scoring.summarize_distances

    def exhausted(*args, **kwargs):
        if 1.0 in kwargs["nsd_tolerances_mm"]:  # any pack holding "big"
            raise MemoryError
        return original(*args, **kwargs)

    monkeypatch.setattr(scoring, "summarize_distances", exhausted)
    pred, gt = np.stack([block(2, 8)] * 2), np.stack([block(3, 9)] * 2)
    failed, fine = score_masks(
        pred, gt, spacing=SPACING, names=["big", "small"], nsd_tolerance_mm={"big": 1.0}, device="cpu"
    )
    assert failed.status == "failed" and math.isnan(failed.dice) and failed.volume_gt_ml > 0
    assert fine.status == "ok" and fine.dice > 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"surface": "mesh"}, "surface must be one of surfel, voxel"),
        ({"hd95": "mean"}, "hd95 must be one of max, pooled"),
        ({"nsd_tolerance_mm": -1.0}, "NSD tolerance"),
        ({"nsd_tolerance_mm": {"organ": float("nan")}}, "NSD tolerance for structure 'organ'"),
        ({"device": "tpu"}, "device must be"),
        ({"spacing": (1.0, 0.0, 1.0)}, "spacing must be three positive"),
        ({"names": ["a", "b"]}, r"N = 2 structure names"),
    ],
)
def test_unusable_options_raise_one_line_errors(options, message):
    arguments = {"spacing": SPACING, "names": ["organ"], "device": "cpu"} | options
    with pytest.raises(MetricInputError, match=message) as raised:
        score_masks(block(2, 8)[None], block(3, 9)[None], **arguments)
    assert isinstance(raised.value, SegQualityError) and "\n" not in str(raised.value)


def test_non_boolean_masks_are_refused():
    with pytest.raises(MetricInputError, match="prediction masks must be boolean"):
        score_masks(block(2, 8)[None].astype(np.uint8), block(3, 9)[None], spacing=SPACING, names=["organ"])


def test_scoring_on_cpu_leaves_torch_thread_count_as_it_found_it():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        score(block(2, 8), block(3, 9))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_structures_scored_in_packs_get_the_values_they_get_alone(shared_data):
    from SegQualityReviewLib.io import read_structures

    folder = shared_data / "totalsegmentator" / "ct_sm"
    label_map = shared_data / "labelmaps" / "totalsegmentator_total_v2.json"
    pred = read_structures(folder / "pred_total_fast_v2.nii.gz", label_map=label_map)
    gt = read_structures(folder / "pred_total_v2.nii.gz", label_map=label_map)
    names = [name for name in gt.names if gt.mask(name).any() and pred.find(name) and pred.mask(name).any()]
    together = score_masks(pred.masks(names), gt.masks(names), spacing=gt.geometry.array_spacing, names=names)
    assert len(together) >= 20
    for score in together[::3]:
        (alone,) = score_masks(
            pred.masks([score.structure]),
            gt.masks([score.structure]),
            spacing=gt.geometry.array_spacing,
            names=[score.structure],
        )
        for field in ("dice", "hd", "hd95", "nsd", "assd", "masd"):
            assert getattr(score, field) == pytest.approx(getattr(alone, field), rel=1e-12), field
        assert (score.status, score.failure_mode) == (alone.status, alone.failure_mode)
