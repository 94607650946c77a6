"""The built-in classical CT segmenters against TotalSegmentator's outputs on the shared CT cases, by name."""

from __future__ import annotations

import numpy as np
import pytest

from SegQualityReviewLib.io import Volume, read_structures, read_volume
from SegQualityReviewLib.segmenters import ClassicalCTSegmenter, RunControl, SegmenterError, union_mask
from SegQualityReviewLib.segmenters.anatomy import PatientAxes
from SegQualityReviewLib.segmenters.base import SegmentationCancelledError


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


@pytest.fixture(scope="module")
def ct_case(shared_data):
    volume = read_volume(shared_data / "totalsegmentator/ct/image.nii.gz")
    return volume, ClassicalCTSegmenter().run(volume)


@pytest.mark.parametrize(
    ("prediction", "label_map", "minimum_dice"),
    [
        (
            "pred_total_v1.nii.gz",
            "totalsegmentator_total_v1.json",
            {"lung_left": 0.94, "lung_right": 0.95, "bones": 0.60},
        ),
        (
            "pred_total_fast_v2_forcesplit.nii.gz",
            "totalsegmentator_total_v2.json",
            {"lung_left": 0.94, "lung_right": 0.94, "bones": 0.62},
        ),
    ],
)
def test_lungs_and_bones_agree_with_totalsegmentator_v1_and_v2_by_name(
    shared_data, ct_case, prediction, label_map, minimum_dice
):
    volume, ours = ct_case
    reference = read_structures(
        shared_data / "totalsegmentator/ct" / prediction,
        label_map=shared_data / "labelmaps" / label_map,
        reference=volume.geometry,
    )
    for structure, minimum in minimum_dice.items():
        assert dice(ours.mask(structure), union_mask(reference, structure)) >= minimum, structure


def test_left_and_right_lungs_are_not_swapped(shared_data, ct_case):
    volume, ours = ct_case
    reference = read_structures(
        shared_data / "totalsegmentator/ct/pred_total_v1.nii.gz",
        label_map=shared_data / "labelmaps/totalsegmentator_total_v1.json",
    )
    assert dice(ours.mask("lung_left"), union_mask(reference, "lung_right")) < 0.05
    assert dice(ours.mask("lung_right"), union_mask(reference, "lung_left")) < 0.05


def test_no_trachea_is_invented_in_an_abdominal_scan(ct_case):
    _, ours = ct_case
    assert ours.names == ("lung_left", "lung_right", "trachea", "bones")
    assert not ours.mask("trachea").any()


def test_bones_on_the_tuning_case_with_a_flipped_reference_grid(shared_data):
    volume = read_volume(shared_data / "totalsegmentator/ct_dicom/dicom")
    reference = read_structures(
        shared_data / "totalsegmentator/ct_dicom/pred_total_v2.nii.gz",
        label_map=shared_data / "labelmaps/totalsegmentator_total_v2.json",
        reference=volume.geometry,
    )
    bones = ClassicalCTSegmenter(structures=("bones",)).run(volume).mask("bones")
    assert dice(bones, union_mask(reference, "bones")) >= 0.72


def test_body_contains_every_totalsegmentator_structure(shared_data):
    volume = read_volume(shared_data / "totalsegmentator/ct_sm/image.nii.gz")
    body = ClassicalCTSegmenter(structures=("body",), name="classical-body").run(volume).mask("body")
    reference = read_structures(
        shared_data / "totalsegmentator/ct_sm/pred_total_v2.nii.gz",
        label_map=shared_data / "labelmaps/totalsegmentator_total_v2.json",
    )
    labelled = reference.layers[0] > 0
    assert (labelled & body).sum() / labelled.sum() > 0.995
    assert body.sum() < 0.8 * body.size


def test_trachea_is_found_as_a_midline_tube_in_a_chest_ct(shared_data):
    volume = read_volume(shared_data / "pyradiomics/lung1_image.nrrd")
    # Every second voxel in-plane (1.14 mm) keeps the test short; the rules work in mm.
    small = Volume(
        array=volume.array[:, ::2, ::2].copy(),
        geometry=volume.geometry.__class__(
            size=(256, 256, volume.geometry.size[2]),
            spacing=(
                volume.geometry.spacing[0] * 2,
                volume.geometry.spacing[1] * 2,
                volume.geometry.spacing[2],
            ),
            origin=volume.geometry.origin,
            direction=volume.geometry.direction,
        ),
        source=volume.source,
    )
    result = ClassicalCTSegmenter(structures=("trachea", "lung_left", "lung_right")).run(small)
    trachea = result.mask("trachea")
    voxel_ml = float(np.prod(small.geometry.spacing)) / 1000.0
    assert 5.0 <= trachea.sum() * voxel_ml <= 60.0
    axes = PatientAxes.from_geometry(small.geometry)
    trachea_x = np.nonzero(trachea)[axes.left_axis].mean()
    lungs_x = [np.nonzero(result.mask(side))[axes.left_axis].mean() for side in ("lung_left", "lung_right")]
    assert min(lungs_x) < trachea_x < max(lungs_x)
    assert not (trachea & (result.mask("lung_left") | result.mask("lung_right"))).any()


def test_an_mr_image_is_refused_with_a_clear_error(shared_data):
    volume = read_volume(shared_data / "pyradiomics/breast1_image.nrrd")
    with pytest.raises(SegmenterError, match="do not look like CT"):
        ClassicalCTSegmenter().run(volume)


def test_progress_is_reported_in_order_and_cancellation_stops_the_run(shared_data):
    volume = read_volume(shared_data / "totalsegmentator/ct_sm/image.nii.gz")
    seen = []
    ClassicalCTSegmenter().run(volume, control=RunControl(on_progress=lambda f, m: seen.append((f, m))))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0

    def cancel_after_body(fraction, message):
        if message == "trachea":
            control.cancel_event.set()

    control = RunControl(on_progress=cancel_after_body)
    with pytest.raises(SegmentationCancelledError):
        ClassicalCTSegmenter().run(volume, control=control)


def test_unknown_structure_names_are_rejected():
    with pytest.raises(SegmenterError, match="unknown structures liver"):
        ClassicalCTSegmenter(structures=("liver",))


def test_the_docs_table_rows_report_dice_volumes_and_absent_structures(shared_data, ct_case):
    from SegQualityReviewLib.segmenters.evaluation import compare_with_totalsegmentator

    volume, ours = ct_case
    reference = read_structures(
        shared_data / "totalsegmentator/ct/pred_total_v1.nii.gz",
        label_map=shared_data / "labelmaps/totalsegmentator_total_v1.json",
        reference=volume.geometry,
    )
    rows = {
        r.structure: r
        for r in compare_with_totalsegmentator(ours, reference, case="ct", reference_name="v1", seconds=0.0)
    }
    assert set(rows) == {"lung_left", "lung_right", "trachea", "bones"}
    assert rows["trachea"].status == "both_empty"
    assert rows["lung_right"].reference_ml == pytest.approx(71.8, abs=0.1)
    assert rows["bones"].ours_ml < rows["bones"].reference_ml  # the 200 HU rule misses cancellous bone
