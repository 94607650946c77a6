"""Reading label images of every voxel type, naming structures by label map, and refusing bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from SegQualityReviewLib.errors import GeometryMismatchError, InputFileError, LabelMapError, MaskValueError
from SegQualityReviewLib.io import (
    Geometry,
    LabelMap,
    StructureSet,
    pair_structures,
    read_structure_folder,
    read_structures,
    read_volume,
)


def _write(path, array, *, spacing=(0.8, 0.9, 2.5), origin=(10.0, -5.0, 3.0)):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    sitk.WriteImage(image, str(path))
    return path


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.int16, np.uint16, np.uint8])
def test_every_voxel_type_reads_to_the_same_structures(tmp_path, dtype):
    labels = np.zeros((6, 7, 8), dtype=dtype)
    labels[1:3, 2:5, 2:6] = 1
    labels[4, 1:3, 1:3] = 3
    path = _write(tmp_path / f"labels_{np.dtype(dtype).name}.nii.gz", labels)
    structures = read_structures(path)
    assert structures.names == ("label_1", "label_3")
    assert structures.mask("label_1").sum() == 2 * 3 * 4
    assert structures.mask("label_3").sum() == 4
    assert structures.geometry.spacing == pytest.approx((0.8, 0.9, 2.5))
    assert structures.geometry.array_shape == (6, 7, 8)


def test_real_label_files_of_each_stored_type_read(shared_data):
    cases = {
        "totalsegmentator/ct/pred_total_v1.nii.gz": "float64",
        "deepmedic_brats2015/brats_2013_pat0001_1/gt.nii.gz": "float32",
        "pyradiomics/brain1_label.nrrd": "int32",
        "pyradiomics/lung1_label.nrrd": "int16",
        "sam_med3d/amos_0013_labels_only/gt.nii.gz": "uint16",
        "totalsegmentator/ct_sm/pred_total_v2.nii.gz": "uint8",
    }
    for relative, stored_type in cases.items():
        assert sitk.GetArrayViewFromImage(sitk.ReadImage(str(shared_data / relative))).dtype == np.dtype(
            stored_type
        )
        structures = read_structures(shared_data / relative)
        assert structures.names, relative
        assert any(structures.mask(name).any() for name in structures.names), relative


def test_totalsegmentator_v1_and_v2_labels_match_by_name(shared_data):
    folder = shared_data / "totalsegmentator" / "ct"
    v1 = read_structures(
        folder / "pred_total_v1.nii.gz",
        label_map=shared_data / "labelmaps" / "totalsegmentator_total_v1.json",
    )
    v2 = read_structures(
        folder / "pred_total_fast_v2_forcesplit.nii.gz",
        label_map=shared_data / "labelmaps" / "totalsegmentator_total_v2.json",
        reference=v1.geometry,
    )
    by_name = _dice(v2.mask("aorta"), v1.mask("aorta"))
    assert by_name > 0.85
    aorta_v1 = v1.layers[0] == LabelMap.load(
        shared_data / "labelmaps" / "totalsegmentator_total_v1.json"
    ).value_of("aorta")
    same_id_in_v2 = v2.layers[0] == 7
    assert _dice(same_id_in_v2, aorta_v1) == 0.0
    pairs = {pair.name: pair for pair in pair_structures(v2, v1)}
    assert pairs["liver"].pred_name == "liver"
    assert _dice(v2.mask("liver"), v1.mask("liver")) > 0.9


def test_amos_spacing_mismatch_raises_a_geometry_error_naming_both_files(shared_data):
    folder = shared_data / "sam_med3d" / "amos_0013_labels_only"
    gt = read_structures(folder / "gt.nii.gz", label_map=shared_data / "labelmaps" / "amos.json")
    with pytest.raises(
        GeometryMismatchError, match=r"pred_sammed3d_kidney_right.nii.gz.*spacing \(1.5, 1.5, 1.5\)"
    ):
        read_structures(
            folder / "pred_sammed3d_kidney_right.nii.gz", reference=gt.geometry, reference_name="gt.nii.gz"
        )
    resampled = read_structures(
        folder / "pred_sammed3d_kidney_right.nii.gz", reference=gt.geometry, resample=True
    )
    assert resampled.geometry.differences(gt.geometry) == []


def test_label_value_missing_from_the_label_map_is_an_error(tmp_path):
    labels = np.zeros((4, 4, 4), dtype=np.uint8)
    labels[1, 1, 1], labels[2, 2, 2] = 1, 9
    path = _write(tmp_path / "pred.nii.gz", labels)
    label_map = tmp_path / "labels.json"
    label_map.write_text(json.dumps({"labels": {"0": "background", "1": "liver"}}))
    with pytest.raises(LabelMapError, match=r"pred.nii.gz: label values 9 are not in the label map"):
        read_structures(path, label_map=label_map)


def test_nan_and_fractional_masks_are_refused(tmp_path):
    labels = np.zeros((3, 3, 3), dtype=np.float32)
    labels[1, 1, 1] = np.nan
    with pytest.raises(MaskValueError, match="NaN"):
        read_structures(_write(tmp_path / "nan.nrrd", labels))
    labels[1, 1, 1] = 0.5
    with pytest.raises(MaskValueError, match="non-integer"):
        read_structures(_write(tmp_path / "prob.nii.gz", labels))


def test_missing_and_non_image_files_name_the_file(tmp_path):
    with pytest.raises(InputFileError, match="nowhere.nii.gz: file not found"):
        read_structures(tmp_path / "nowhere.nii.gz")
    text = tmp_path / "notes.nii.gz"
    text.write_text("not an image")
    with pytest.raises(InputFileError, match="notes.nii.gz: not a readable image"):
        read_volume(text)


def test_dicom_series_folder_reads_as_a_volume(shared_data):
    volume = read_volume(shared_data / "totalsegmentator" / "ct_dicom" / "dicom")
    prediction = read_structures(
        shared_data / "totalsegmentator" / "ct_dicom" / "pred_total_v2.nii.gz",
        label_map=shared_data / "labelmaps" / "totalsegmentator_total_v2.json",
    )
    assert volume.array.shape == (20, 512, 512)
    # TotalSegmentator wrote its prediction flipped along y: the same voxels, another orientation.
    assert prediction.geometry.direction[4] == -1.0
    aligned = read_structures(
        shared_data / "totalsegmentator" / "ct_dicom" / "pred_total_v2.nii.gz",
        label_map=shared_data / "labelmaps" / "totalsegmentator_total_v2.json",
        reference=volume.geometry,
    )
    assert aligned.geometry == volume.geometry
    for name in ("liver", "spleen"):
        assert aligned.mask(name).sum() == prediction.mask(name).sum() > 0
        assert np.array_equal(aligned.mask(name), prediction.mask(name)[:, ::-1, :])


def test_folder_of_binary_masks_keeps_overlapping_structures(shared_data):
    oncologist = read_structure_folder(
        shared_data / "deepmind_hn_oar_labels_only" / "0522c0017" / "oncologist"
    )
    assert len(oncologist.names) == 21
    cord, canal = oncologist.mask("Spinal-Cord"), oncologist.mask("spinal_canal")
    assert cord.sum() > 0 and np.logical_and(cord, canal).sum() > 0.9 * cord.sum()


def test_slicer_seg_nrrd_names_come_from_its_header(tmp_path):
    import nrrd

    labels = np.zeros((5, 6, 7), dtype=np.uint8)
    labels[1:3, 1:3, 1:3] = 1
    labels[3:5, 3:5, 3:5] = 2
    header = {
        "space": "left-posterior-superior",
        "space directions": np.diag([0.7, 0.7, 3.0]),
        "space origin": np.array([1.0, 2.0, 3.0]),
        "Segment0_ID": "Segment_1",
        "Segment0_Name": "Liver",
        "Segment0_LabelValue": "1",
        "Segment0_Layer": "0",
        "Segment1_ID": "Segment_2",
        "Segment1_Name": "Right kidney",
        "Segment1_LabelValue": "2",
        "Segment1_Layer": "0",
    }
    path = tmp_path / "review.seg.nrrd"
    nrrd.write(str(path), labels, header, index_order="C")
    structures = read_structures(path)
    assert structures.names == ("Liver", "Right kidney")
    assert structures.mask("right_kidney").sum() == 8
    assert structures.geometry.spacing == pytest.approx((0.7, 0.7, 3.0))


def test_pairing_reports_structures_one_side_does_not_declare():
    geometry = Geometry.from_array_shape((2, 2, 2))
    empty = np.zeros((2, 2, 2), dtype=bool)
    gt = StructureSet.from_masks({"liver": empty, "spleen": empty}, geometry)
    pred = StructureSet.from_masks({"Liver": empty, "pancreas": empty}, geometry)
    pairs = pair_structures(pred, gt)
    assert [(p.name, p.pred_name, p.gt_name) for p in pairs] == [
        ("liver", "Liver", "liver"),
        ("spleen", None, "spleen"),
        ("pancreas", "pancreas", None),
    ]


def test_radiological_layout_puts_the_patients_right_on_the_viewers_left(shared_data):
    from SegQualityReviewLib.io import radiological_axial

    structures = read_structures(
        shared_data / "totalsegmentator" / "ct_sm" / "pred_total_v2.nii.gz",
        label_map=shared_data / "labelmaps" / "totalsegmentator_total_v2.json",
    )
    assert structures.geometry.direction[0] < 0 and structures.geometry.direction[4] < 0
    liver = structures.mask("liver")
    z = int(np.argmax(liver.sum(axis=(1, 2))))
    shown_liver = radiological_axial(liver[z], structures.geometry)
    spine = radiological_axial(structures.mask("vertebrae_L1").any(axis=0), structures.geometry)
    width, height = shown_liver.shape[1], shown_liver.shape[0]
    assert np.argwhere(shown_liver)[:, 1].mean() < width / 2  # the liver lies on the patient's right
    assert np.argwhere(spine)[:, 0].mean() > height / 2  # the spine is posterior: down


def test_a_mask_folder_takes_any_one_foreground_value_and_refuses_two(tmp_path):
    folder = tmp_path / "masks"
    folder.mkdir()
    liver = np.zeros((3, 4, 5), dtype=np.uint8)
    liver[1, 1:3, 1:4] = 255
    sitk.WriteImage(sitk.GetImageFromArray(liver), str(folder / "liver.nii.gz"))
    structures = read_structure_folder(folder)
    assert structures.mask("liver").sum() == 6 and structures.mask("liver")[1, 1, 1]
    labels = liver.copy()
    labels[2, 0, 0] = 7
    sitk.WriteImage(sitk.GetImageFromArray(labels), str(folder / "spleen.nii.gz"))
    with pytest.raises(
        MaskValueError, match=r"spleen.nii.gz: expected a binary mask, found values \[0, 7, 255\]"
    ):
        read_structure_folder(folder)
