"""Inputs that used to be read wrongly without a word: each is now kept, or refused in one line naming it."""

from __future__ import annotations

import json
import logging

import nrrd
import numpy as np
import pytest
import SimpleITK as sitk

from SegQualityReviewLib.errors import ImageValueError, InputFileError, LabelMapError, MaskValueError
from SegQualityReviewLib.io import (
    Geometry,
    LabelMap,
    StructureSet,
    check_finite_volume,
    pair_structures,
    read_structure_folder,
    read_structures,
    read_volume,
)

SEG_HEADER = {
    "space": "left-posterior-superior",
    "space directions": np.diag([1.0, 1.0, 2.0]),
    "space origin": np.array([0.0, 0.0, 0.0]),
}


def write_seg_nrrd(path, array, segments, *, kinds=None):
    """A Slicer-style .seg.nrrd: ``segments`` are (name, layer, label value) in header order."""
    header = dict(SEG_HEADER)
    if array.ndim == 4:
        header["space directions"] = np.vstack([np.full(3, np.nan), np.diag([1.0, 1.0, 2.0])])
        header["kinds"] = kinds or ["list", "domain", "domain", "domain"]
    for index, (name, layer, value) in enumerate(segments):
        header[f"Segment{index}_ID"] = f"Segment_{index + 1}"
        header[f"Segment{index}_Name"] = name
        header[f"Segment{index}_Layer"] = str(layer)
        header[f"Segment{index}_LabelValue"] = str(value)
    nrrd.write(str(path), array, header, index_order="C")
    return path


def test_duplicate_segment_names_are_both_kept_with_a_one_line_warning(tmp_path, caplog):
    labels = np.zeros((4, 5, 6), dtype=np.uint8)
    labels[1:3, 1:3, 1:3] = 1
    labels[3, 3:5, 3:5] = 2
    path = write_seg_nrrd(tmp_path / "review.seg.nrrd", labels, [("liver", 0, 1), ("Liver", 0, 2)])
    with caplog.at_level(logging.WARNING, logger="SegQualityReviewLib"):
        structures = read_structures(path)
    assert structures.names == ("liver", "Liver #2")
    assert structures.mask("liver").sum() == 8 and structures.mask("Liver #2").sum() == 4
    [warning] = [record.getMessage() for record in caplog.records]
    assert str(path) in warning and "'liver', 'Liver #2'" in warning and "\n" not in warning


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        ([("liver", 0, "abc")], "Segment0_LabelValue is 'abc', not an integer"),
        ([("liver", 5, 1)], "Segment0_Layer is 5, but the file has 1 layer(s)"),
        ([("liver", "x", 1)], "Segment0_Layer is 'x', not an integer"),
        ([("liver", 0, -3)], "Segment0_LabelValue is -3"),
        ([("liver", 0, 0)], "Segment0_LabelValue is 0, which is the background"),
        ([("liver", 0, 2)], "layer 0 holds label values 1 that no segment declares"),
    ],
)
def test_malformed_segment_fields_are_one_line_errors(tmp_path, segments, message):
    labels = np.zeros((3, 3, 3), dtype=np.uint8)
    labels[1, 1, 1] = 1
    path = write_seg_nrrd(tmp_path / "bad.seg.nrrd", labels, segments)
    with pytest.raises(LabelMapError) as raised:
        read_structures(path)
    assert str(raised.value).startswith(str(path)) and message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_seg_nrrd_layers_get_the_negative_value_check_of_label_images(tmp_path):
    labels = np.zeros((3, 3, 3), dtype=np.int16)
    labels[0, 0, 0] = -1
    path = write_seg_nrrd(tmp_path / "negative.seg.nrrd", labels, [("liver", 0, 1)])
    with pytest.raises(MaskValueError, match="negative label values"):
        read_structures(path)


def test_names_equal_after_normalisation_are_refused_naming_both(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text(json.dumps({"labels": {"1": "Liver", "2": "li-ver"}}), encoding="utf-8")
    with pytest.raises(LabelMapError) as raised:
        LabelMap.load(path)
    assert "'Liver' (label 1) and 'li-ver' (label 2)" in str(raised.value) and str(path) in str(raised.value)
    folder = tmp_path / "masks"
    folder.mkdir()
    for name in ("Spinal Cord", "spinal_cord"):
        image = sitk.GetImageFromArray(np.ones((2, 2, 2), dtype=np.uint8))
        sitk.WriteImage(image, str(folder / f"{name}.nii.gz"))
    with pytest.raises(LabelMapError, match="'Spinal Cord' and 'spinal_cord'"):
        read_structure_folder(folder)


def test_names_match_ignoring_case_spaces_hyphens_and_underscores():
    geometry = Geometry.from_array_shape((2, 2, 2))
    empty = np.zeros((2, 2, 2), dtype=bool)
    gt = StructureSet.from_masks({"li-ver": empty, "Spinal Cord": empty}, geometry)
    pred = StructureSet.from_masks({"Liver": empty, "spinal_cord": empty}, geometry)
    assert [(p.name, p.pred_name) for p in pair_structures(pred, gt)] == [
        ("li-ver", "Liver"),
        ("Spinal Cord", "spinal_cord"),
    ]


def test_a_label_map_with_a_byte_order_mark_reads_and_one_naming_a_value_twice_is_refused(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"labels": {"1": "liver"}}).encode("utf-8"))
    assert LabelMap.load(path).names == ("liver",)
    twice = tmp_path / "twice.json"
    twice.write_text('{"labels": {"1": "liver", "1": "spleen"}}', encoding="utf-8")
    with pytest.raises(LabelMapError, match="label value '1' is given twice"):
        LabelMap.load(twice)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: sitk.GetImageFromArray(np.ones((3, 3, 3), dtype=np.complex64)), MaskValueError, "complex voxels"),
        (lambda: sitk.GetImageFromArray(np.ones((3, 3, 3, 3), dtype=np.uint8), isVector=True), MaskValueError,
         "3 components per voxel"),
        (lambda: sitk.Image([3, 3, 3, 2], sitk.sitkUInt8), InputFileError, "a 4D image (3 x 3 x 3 x 2)"),
    ],
)  # fmt: skip
def test_voxel_types_and_shapes_a_label_image_cannot_have_are_refused(tmp_path, make, error, message):
    path = tmp_path / "labels.nrrd"
    sitk.WriteImage(make(), str(path))
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_structures(path)


def test_nan_or_infinite_image_voxels_are_one_clear_error(tmp_path):
    image = np.zeros((3, 4, 5), dtype=np.float32)
    sitk.WriteImage(sitk.GetImageFromArray(image), str(tmp_path / "ok.nii.gz"))
    check_finite_volume(read_volume(tmp_path / "ok.nii.gz"))
    image[0, 0, 0], image[1, 1, 1] = np.nan, np.inf
    sitk.WriteImage(sitk.GetImageFromArray(image), str(tmp_path / "nan.nrrd"))
    with pytest.raises(ImageValueError) as raised:
        check_finite_volume(read_volume(tmp_path / "nan.nrrd"))
    assert str(raised.value).startswith(str(tmp_path / "nan.nrrd"))
    assert "1 NaN and 1 infinite voxels of 60" in str(raised.value)
