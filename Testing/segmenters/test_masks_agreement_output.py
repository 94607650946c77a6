"""Stored predictions as a segmenter, pairwise agreement between segmenters, and the label-image writer."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from SegQualityReviewLib.errors import GeometryMismatchError
from SegQualityReviewLib.io import Geometry, StructureSet, Volume, read_volume
from SegQualityReviewLib.segmenters import (
    ClassicalCTSegmenter,
    ExistingMasksSegmenter,
    Segmenter,
    build_segmenter,
    flip_agreement,
    flip_axes_keeping_laterality,
    pairwise_agreement,
    read_segmentation,
    summarize_agreement,
    write_segmentation,
)
from SegQualityReviewLib.segmenters.output import OverlappingStructuresError


@pytest.fixture(scope="module")
def ct_sm(shared_data):
    return read_volume(shared_data / "totalsegmentator/ct_sm/image.nii.gz")


def test_a_prediction_file_with_its_label_map_is_a_segmenter(shared_data, ct_sm):
    segmenter = build_segmenter(
        f"masks:{shared_data / 'totalsegmentator/ct_sm/pred_total_v2.nii.gz'}",
        config=shared_data / "labelmaps/totalsegmentator_total_v2.json",
    )
    assert isinstance(segmenter, Segmenter) and isinstance(ClassicalCTSegmenter(), Segmenter)
    assert len(segmenter.structures) == 117
    result = segmenter.run(ct_sm)
    assert result.geometry == ct_sm.geometry and result.mask("liver").any()


def test_a_folder_of_predictions_per_case_finds_the_file_named_after_the_image(shared_data, ct_sm, tmp_path):
    classical = ClassicalCTSegmenter().run(ct_sm)
    predictions = tmp_path / "predictions"
    write_segmentation(classical, predictions / "ct_sm.nii.gz")
    image = tmp_path / "images" / "ct_sm.nii.gz"
    image.parent.mkdir()
    shutil.copy(shared_data / "totalsegmentator/ct_sm/image.nii.gz", image)
    segmenter = ExistingMasksSegmenter(path=predictions)
    assert segmenter.structures == ("lung_left", "lung_right", "trachea", "bones")
    result = segmenter.run(read_volume(image))
    assert np.array_equal(result.mask("bones"), classical.mask("bones"))


def test_a_prediction_on_another_grid_is_refused_by_name(shared_data, ct_sm):
    segmenter = ExistingMasksSegmenter(
        path=shared_data / "totalsegmentator/ct/pred_total_v1.nii.gz",
        label_map=shared_data / "labelmaps/totalsegmentator_total_v1.json",
    )
    with pytest.raises(GeometryMismatchError, match=r"pred_total_v1.nii.gz and .*image.nii.gz"):
        segmenter.run(ct_sm)


def test_a_folder_of_binary_masks_is_a_segmenter_with_overlaps_kept(tmp_path):
    geometry = Geometry.from_array_shape((4, 5, 6), spacing=(1.0, 1.0, 2.0))
    big = np.zeros((4, 5, 6), bool)
    big[1:3, 1:4, 1:5] = True
    small = np.zeros_like(big)
    small[1:2, 1:2, 1:2] = True
    for name, mask in {"organ": big, "lesion": small}.items():
        write_segmentation(StructureSet.from_masks({"mask": mask}, geometry), tmp_path / f"{name}.nii.gz")
        (tmp_path / f"{name}.labels.json").unlink()
    segmenter = ExistingMasksSegmenter(path=tmp_path)
    result = segmenter.run(Volume(np.zeros((4, 5, 6), np.float32), geometry, "synthetic"))
    assert set(result.names) == {"organ", "lesion"}
    assert (result.mask("organ") & result.mask("lesion")).sum() == 1


def test_pairwise_agreement_scores_each_shared_structure_with_an_explicit_empty_policy():
    geometry = Geometry.from_array_shape((1, 4, 4))
    a = np.zeros((1, 4, 4), bool)
    a[0, :2] = True
    b = np.zeros_like(a)
    b[0, :1] = True
    empty = np.zeros_like(a)
    records = pairwise_agreement(
        {
            "model_a": StructureSet.from_masks({"liver": a, "spleen": empty, "kidney": a}, geometry),
            "model_b": StructureSet.from_masks({"Liver": b, "spleen": empty, "kidney": empty}, geometry),
        }
    )
    by_structure = {r.structure: r for r in records}
    assert (
        by_structure["liver"].dice == pytest.approx(2 * 4 / (8 + 4)) and by_structure["liver"].status == "ok"
    )
    assert by_structure["kidney"].dice == 0.0 and by_structure["kidney"].status == "one_empty"
    assert math.isnan(by_structure["spleen"].dice) and by_structure["spleen"].status == "both_empty"
    summary = {s.structure: s for s in summarize_agreement(records)}
    assert summary["spleen"].pairs == 0 and math.isnan(summary["spleen"].mean_dice)


def test_flip_agreement_of_the_classical_segmenter_is_high_for_lungs(ct_sm):
    assert flip_axes_keeping_laterality(ct_sm) == (0, 1)
    records = flip_agreement(ClassicalCTSegmenter(structures=("lung_left", "lung_right")), ct_sm, axes=(1,))
    assert {r.structure for r in records} == {"lung_left", "lung_right"}
    assert all(r.dice > 0.95 for r in records)


def test_agreement_against_totalsegmentator_outputs_needs_the_same_grid(shared_data, ct_sm):
    other = read_volume(shared_data / "totalsegmentator/ct/image.nii.gz")
    with pytest.raises(GeometryMismatchError):
        pairwise_agreement(
            {
                "small": ClassicalCTSegmenter(structures=("lung_left",)).run(ct_sm),
                "large": ClassicalCTSegmenter(structures=("lung_left",)).run(other),
            }
        )


def test_written_label_images_round_trip_by_name_and_refuse_overlaps(tmp_path):
    geometry = Geometry(
        size=(6, 5, 4),
        spacing=(0.5, 0.7, 2.5),
        origin=(10.0, -3.0, 7.0),
        direction=(-1, 0, 0, 0, -1, 0, 0, 0, 1),
    )
    first = np.zeros((4, 5, 6), bool)
    first[0] = True
    second = np.zeros_like(first)
    second[2:] = True
    image_path, json_path = write_segmentation(
        StructureSet.from_masks({"lung_left": first, "bones": second}, geometry), tmp_path / "S.nii.gz"
    )
    assert json_path.name == "S.labels.json"
    back = read_segmentation(image_path, reference=geometry)
    assert back.names == ("lung_left", "bones") and np.array_equal(back.mask("bones"), second)
    with pytest.raises(OverlappingStructuresError, match="'lung_left' and 'body' overlap"):
        write_segmentation(
            StructureSet.from_masks({"lung_left": first, "body": np.ones_like(first)}, geometry),
            tmp_path / "B.nii.gz",
        )
