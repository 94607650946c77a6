"""Box prompts for ``medsam``: voxel boxes, RAS boxes on real grids, a segment's per-slice boxes, prompt files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from SegQualityReviewLib.errors import GeometryMismatchError
from SegQualityReviewLib.io import Geometry, read_image, read_volume
from SegQualityReviewLib.segmenters.box_prompts import (
    BoxPromptError,
    MedSAMPrompt,
    VoxelBox,
    slice_boxes_from_mask,
    voxel_box_from_ras,
)

# Real grids with different orientations: brain1 has j flipped (direction y = -1), the BraTS 2021
# FLAIR has i and j flipped, the TotalSegmentator DICOM series is a plain axial CT.
REAL_IMAGES = (
    "pyradiomics/brain1_image.nrrd",
    "sam_med3d/BraTS2021_01646/image_flair.nii.gz",
    "totalsegmentator/ct_dicom/dicom",
)


def ras_of_voxel(image: sitk.Image, index) -> tuple[float, float, float]:
    """The RAS centre of a voxel, computed by ITK itself (LPS) and turned to RAS as Slicer shows it."""
    x, y, z = image.TransformIndexToPhysicalPoint([int(v) for v in index])
    return (-x, -y, z)


def test_a_voxel_box_is_read_in_itk_order_and_gives_each_of_its_slices_the_i_j_box():
    box = VoxelBox.parse("10,20,3,40,50,5")
    assert box.pixel_box == (10, 20, 40, 50)
    assert list(box.slices) == [3, 4, 5]


@pytest.mark.parametrize(
    "text, problem",
    [
        ("1,2,3", "six comma-separated numbers"),
        ("a,b,c,d,e,f", "six comma-separated numbers"),
        ("1.5,0,0,4,4,4", "must be integers"),
        ("5,0,0,4,1,1", "must not exceed"),
        ("0,0,0,1,1,nan", "six comma-separated numbers"),
    ],
)
def test_a_malformed_box_is_one_line_naming_the_option(text, problem):
    with pytest.raises(BoxPromptError, match=problem) as raised:
        VoxelBox.parse(text)
    assert str(raised.value).startswith(f"--box {text}") and "\n" not in str(raised.value)


def test_a_box_past_the_image_names_the_image_its_size_and_the_axis():
    geometry = Geometry.from_array_shape((25, 256, 200))
    VoxelBox(0, 0, 0, 199, 255, 24).check_inside(geometry, image_name="brain1.nrrd")
    with pytest.raises(BoxPromptError, match=r"k 20\.\.25 lies outside brain1.nrrd \(size 200 x 256 x 25"):
        VoxelBox(0, 0, 20, 10, 10, 25).check_inside(geometry, image_name="brain1.nrrd")


@pytest.mark.parametrize("relative_path", REAL_IMAGES)
def test_a_ras_box_through_two_voxel_centres_selects_exactly_those_voxels(shared_data, relative_path):
    image = read_image(shared_data / relative_path)
    geometry = Geometry.from_sitk(image)
    size = geometry.size
    wanted = VoxelBox(size[0] // 4, size[1] // 3, 0, size[0] // 2, size[1] // 2, size[2] - 1)
    first, last = ras_of_voxel(image, wanted.indices[:3]), ras_of_voxel(image, wanted.indices[3:])
    assert voxel_box_from_ras(first + last, geometry, image_name=relative_path) == wanted
    # The corners may come in any order: the same box from the other two corners of the same face.
    swapped = (last[0], first[1], first[2], first[0], last[1], last[2])
    assert voxel_box_from_ras(swapped, geometry, image_name=relative_path) == wanted


def test_a_ras_box_a_hair_inside_two_voxel_centres_loses_those_faces(shared_data):
    image = read_image(shared_data / REAL_IMAGES[0])
    geometry = Geometry.from_sitk(image)
    first, last = ras_of_voxel(image, (10, 20, 2)), ras_of_voxel(image, (30, 40, 6))
    nudged = tuple(a + np.sign(b - a) * 0.1 for a, b in zip(first, last))  # 0.1 mm towards the other corner
    assert voxel_box_from_ras(nudged + last, geometry, image_name="brain1") == VoxelBox(11, 21, 3, 30, 40, 6)


def test_a_ras_box_larger_than_the_image_is_clipped_and_one_beside_it_is_refused(shared_data):
    geometry = Geometry.from_sitk(read_image(shared_data / REAL_IMAGES[0]))
    everything = voxel_box_from_ras((-1e4, -1e4, -1e4, 1e4, 1e4, 1e4), geometry, image_name="brain1")
    assert everything == VoxelBox(0, 0, 0, *(s - 1 for s in geometry.size))
    with pytest.raises(BoxPromptError, match="holds no voxel centre of brain1"):
        voxel_box_from_ras((5e3, 5e3, 5e3, 6e3, 6e3, 6e3), geometry, image_name="brain1")


def test_on_an_oblique_grid_the_voxel_box_encloses_every_voxel_centre_inside_the_ras_box():
    image = sitk.Image([12, 10, 8], sitk.sitkUInt8)
    image.SetSpacing((1.0, 1.5, 2.0))
    image.SetOrigin((3.0, -4.0, 5.0))
    rotation = sitk.VersorTransform((0.2, 0.3, 0.9), 0.5)  # axis, angle in radians
    image.SetDirection(rotation.GetMatrix())
    geometry = Geometry.from_sitk(image)
    corners = (-12.0, 2.0, 9.0, -3.0, 9.0, 16.0)
    box = voxel_box_from_ras(corners, geometry, image_name="oblique")
    low, high = np.minimum(corners[:3], corners[3:]), np.maximum(corners[:3], corners[3:])
    inside = [
        index
        for index in np.ndindex(*geometry.size)
        if np.all((low <= ras_of_voxel(image, index)) & (ras_of_voxel(image, index) <= high))
    ]
    assert inside, "the test box must hold some voxel centres"
    assert all(
        box.i0 <= i <= box.i1 and box.j0 <= j <= box.j1 and box.k0 <= k <= box.k1 for i, j, k in inside
    )


def test_a_segments_boxes_cover_each_slice_it_touches_grown_by_the_margin():
    mask = np.zeros((6, 20, 30), bool)
    mask[1, 5:8, 10:12] = True
    mask[3, 0:2, 25:30] = True
    boxes = slice_boxes_from_mask(mask, margin_px=3)
    assert boxes.slices == (1, 3)
    assert boxes.boxes[1] == (7, 2, 14, 10)
    assert boxes.boxes[3] == (22, 0, 29, 4)  # clipped to the slice


def test_a_prompt_needs_exactly_one_box_source_and_a_structure_for_a_segment(tmp_path):
    with pytest.raises(BoxPromptError, match="exactly one prompt"):
        MedSAMPrompt()
    with pytest.raises(BoxPromptError, match="exactly one prompt"):
        MedSAMPrompt(box=VoxelBox(0, 0, 0, 1, 1, 1), box_ras=(0.0,) * 6)
    with pytest.raises(BoxPromptError, match="--structure NAME"):
        MedSAMPrompt(boxes_from=tmp_path / "S.nii.gz")
    with pytest.raises(BoxPromptError, match="propagation 'sideways'"):
        MedSAMPrompt(box=VoxelBox(0, 0, 0, 1, 1, 1), propagation="sideways")
    with pytest.raises(BoxPromptError, match="margin -1"):
        MedSAMPrompt(box=VoxelBox(0, 0, 0, 1, 1, 1), margin_px=-1)


def test_a_prompt_file_round_trips_and_resolves_relative_paths_beside_itself(tmp_path):
    prompt = MedSAMPrompt(box=VoxelBox(1, 2, 3, 4, 5, 6), structure="liver", propagation="fixed", margin_px=5)
    assert MedSAMPrompt.load(prompt.write(tmp_path / "prompt.json")) == prompt
    (tmp_path / "prompt.yaml").write_text("boxes_from: seg/S.nii.gz\nstructure: liver\nmodality: CT\n")
    loaded = MedSAMPrompt.load(tmp_path / "prompt.yaml")
    assert loaded.boxes_from == tmp_path / "seg" / "S.nii.gz" and loaded.modality == "CT"


@pytest.mark.parametrize(
    "content, problem",
    [
        ('{"box": [1, 2, 3, 4, 5, 6], "colour": "red"}', "unknown key"),
        ('{"box": [1, 2, 3]}', "six comma-separated numbers"),
        ('{"box": 7}', "expected a list of six numbers"),
        ("[1, 2]", "must be a mapping"),
        ("{not json", "not valid JSON"),
    ],
)
def test_a_bad_prompt_file_is_one_line_naming_it(tmp_path, content, problem):
    path = tmp_path / "prompt.json"
    path.write_text(content)
    with pytest.raises(BoxPromptError, match=problem) as raised:
        MedSAMPrompt.load(path)
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)


def test_a_segment_prompt_reads_its_structure_by_name_on_the_image_grid(shared_data, tmp_path):
    folder = shared_data / "totalsegmentator" / "ct_sm"
    volume = read_volume(folder / "image.nii.gz")
    labels = shared_data / "labelmaps" / "totalsegmentator_total_v2.json"
    prompt = MedSAMPrompt(boxes_from=folder / "pred_total_v2.nii.gz", boxes_labels=labels, structure="Liver")
    boxes = prompt.resolve(volume)
    assert len(boxes.slices) > 5 and all(x0 <= x1 and y0 <= y1 for x0, y0, x1, y1 in boxes.boxes.values())
    missing = MedSAMPrompt(boxes_from=folder / "pred_total_v2.nii.gz", boxes_labels=labels, structure="tail")
    with pytest.raises(BoxPromptError, match="no structure named 'tail' .*liver"):
        missing.resolve(volume)
    other_grid = MedSAMPrompt(
        boxes_from=shared_data / "totalsegmentator/ct/pred_total_v1.nii.gz", structure="x"
    )
    with pytest.raises(GeometryMismatchError, match="not on the same voxel grid"):
        other_grid.resolve(volume)


def test_an_empty_structure_gives_no_boxes_and_says_so(shared_data, tmp_path):
    folder = shared_data / "totalsegmentator" / "ct_sm"
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"labels": {"1": "spleen", "250": "never_there"}}))
    image = sitk.ReadImage(str(folder / "pred_total_v2.nii.gz"))
    spleen_only = sitk.Cast(image == 1, sitk.sitkUInt8)
    sitk.WriteImage(spleen_only, str(tmp_path / "S.nii.gz"))
    prompt = MedSAMPrompt(boxes_from=tmp_path / "S.nii.gz", boxes_labels=labels, structure="never_there")
    with pytest.raises(BoxPromptError, match="structure 'never_there' is empty"):
        prompt.resolve(read_volume(folder / "image.nii.gz"))
