"""The MRML bridge on real MRML nodes: volumes and segmentations round trip with their geometry,
Slicer's own .seg.nrrd writer agrees with the core's reader, tables and segment tags survive a save."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import reload_scene, save_scene

from SegQualityReviewLib import mrml_bridge
from SegQualityReviewLib.io import Geometry, StructureSet, Volume, read_structures, read_volume

OBLIQUE = Geometry(
    size=(9, 7, 5),
    spacing=(0.8, 1.1, 2.5),
    origin=(12.5, -30.0, 44.0),
    direction=(0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0),
)


def _assert_same_geometry(first: Geometry, second: Geometry) -> None:
    assert first.size == second.size
    np.testing.assert_allclose(first.spacing, second.spacing, atol=1e-6)
    np.testing.assert_allclose(first.origin, second.origin, atol=1e-4)
    np.testing.assert_allclose(first.direction, second.direction, atol=1e-6)


def test_volume_round_trip_keeps_voxels_and_lps_geometry_and_node_is_in_ras(scene, shared_data):
    volume = read_volume(shared_data / "totalsegmentator" / "ct_sm" / "image.nii.gz")
    node = mrml_bridge.add_volume_node(scene, volume, name="ct")
    x, y, z = volume.geometry.origin
    np.testing.assert_allclose(node.GetOrigin(), (-x, -y, z), atol=1e-4)
    back = mrml_bridge.volume_from_node(node)
    np.testing.assert_array_equal(back.array, volume.array)
    _assert_same_geometry(back.geometry, volume.geometry)


def test_oblique_geometry_maps_voxels_to_the_same_ras_point_as_slicer(scene):
    volume = Volume(
        array=np.arange(5 * 7 * 9, dtype=np.float32).reshape(5, 7, 9), geometry=OBLIQUE, source="s"
    )
    node = mrml_bridge.add_volume_node(scene, volume, name="oblique")
    _assert_same_geometry(mrml_bridge.geometry_from_volume_node(node), OBLIQUE)
    import vtk

    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    for z, y, x in [(0, 0, 0), (4, 6, 8), (2, 3, 1)]:
        slicer_ras = matrix.MultiplyPoint((x, y, z, 1.0))[:3]
        np.testing.assert_allclose(mrml_bridge.ras_of_voxel(OBLIQUE, (z, y, x)), slicer_ras, atol=1e-9)


def test_segmentation_round_trip_of_totalsegmentator_by_segment_name(scene, shared_data):
    folder = shared_data / "totalsegmentator" / "ct_sm"
    volume = read_volume(folder / "image.nii.gz")
    structures = read_structures(
        folder / "pred_total_v2.nii.gz",
        label_map=shared_data / "labelmaps" / "totalsegmentator_total_v2.json",
    )
    present = [name for name in structures.names if structures.mask(name).any()][:12]
    subset = StructureSet.from_masks({name: structures.mask(name) for name in present}, structures.geometry)
    volume_node = mrml_bridge.add_volume_node(scene, volume, name="ct")
    segmentation_node = mrml_bridge.add_segmentation_node(
        scene, subset, name="total", reference_volume_node=volume_node
    )
    back = mrml_bridge.structures_from_segmentation_node(segmentation_node, reference_volume_node=volume_node)
    assert back.names == tuple(present)
    _assert_same_geometry(back.geometry, volume.geometry)
    for name in present:
        np.testing.assert_array_equal(back.mask(name), structures.mask(name), err_msg=name)


def test_overlapping_segments_stay_overlapping_and_empty_ones_stay_empty(scene):
    inner = np.zeros(OBLIQUE.array_shape, bool)
    inner[1:4, 2:5, 3:7] = True
    outer = np.zeros_like(inner)
    outer[0:5, 1:6, 2:8] = True
    structures = StructureSet.from_masks(
        {"tumour": inner, "organ": outer, "empty": np.zeros_like(inner)}, OBLIQUE
    )
    volume_node = mrml_bridge.add_volume_node(
        scene, Volume(array=np.zeros(OBLIQUE.array_shape, np.float32), geometry=OBLIQUE, source="v"), name="v"
    )
    node = mrml_bridge.add_segmentation_node(scene, structures, name="seg", reference_volume_node=volume_node)
    back = mrml_bridge.structures_from_segmentation_node(node, reference_volume_node=volume_node)
    for name in ("tumour", "organ", "empty"):
        np.testing.assert_array_equal(back.mask(name), structures.mask(name), err_msg=name)


def test_slicer_written_seg_nrrd_reads_back_with_the_core_reader(scene, shared_data, tmp_path):
    folder = shared_data / "totalsegmentator" / "ct_sm"
    volume = read_volume(folder / "image.nii.gz")
    liver = read_structures(folder / "pred_total_v2_roi_subset_liver.nii.gz")
    name = liver.names[0]
    volume_node = mrml_bridge.add_volume_node(scene, volume, name="ct")
    mrml_bridge.add_segmentation_node(scene, liver, name="liver seg", reference_volume_node=volume_node)
    save_scene(scene, tmp_path / "bundle")
    written = next((tmp_path / "bundle" / "Data").glob("*.seg.nrrd"))
    read_back = read_structures(written, reference=volume.geometry, resample=True)
    np.testing.assert_array_equal(read_back.mask(name), liver.mask(name))


def test_table_rows_and_segment_tags_survive_scene_save_and_reload(scene, tmp_path):
    masks = {"a": np.ones(OBLIQUE.array_shape, bool), "b": np.zeros(OBLIQUE.array_shape, bool)}
    volume_node = mrml_bridge.add_volume_node(
        scene, Volume(array=np.zeros(OBLIQUE.array_shape, np.float32), geometry=OBLIQUE, source="v"), name="v"
    )
    segmentation = mrml_bridge.add_segmentation_node(
        scene, StructureSet.from_masks(masks, OBLIQUE), name="seg", reference_volume_node=volume_node
    )
    table = mrml_bridge.review_table_node(scene, segmentation, role="items")
    rows = [{"structure": "a", "note": "tab\tand ünïcode"}, {"structure": "b", "note": ""}]
    mrml_bridge.write_table(table, rows, columns=["structure", "note"])
    mrml_bridge.set_segment_tags(segmentation, "a", {"decision": "accepted", "note": "ok"})
    mrml = save_scene(scene, tmp_path / "bundle")
    reload_scene(scene, mrml)
    reloaded = scene.GetFirstNodeByName("seg")
    table = mrml_bridge.review_table_node(scene, reloaded, role="items", create=False)
    assert table is not None
    assert mrml_bridge.read_table(table) == [{"structure": "a", "note": "tab and ünïcode"}, rows[1]]
    assert mrml_bridge.segment_tags(reloaded, "a", keys=["decision", "note", "flag"]) == {
        "decision": "accepted",
        "note": "ok",
    }
    assert mrml_bridge.review_table_node(scene, reloaded, role="audit", create=False) is None


def test_errors_name_the_node(scene):
    empty = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "no data")
    with pytest.raises(mrml_bridge.MRMLBridgeError, match="no data: the volume has no image data"):
        mrml_bridge.volume_from_node(empty)
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "seg")
    with pytest.raises(mrml_bridge.MRMLBridgeError, match="seg: no segment named 'liver'"):
        mrml_bridge.set_segment_tags(segmentation, "liver", {"decision": "accepted"})
    volume = mrml_bridge.add_volume_node(
        scene,
        Volume(array=np.zeros(OBLIQUE.array_shape, np.float32), geometry=OBLIQUE, source="v"),
        name="ct",
    )
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "shift")
    segmentation.SetAndObserveTransformNodeID(transform.GetID())
    with pytest.raises(mrml_bridge.MRMLBridgeError, match="seg: it is under the transform 'shift'"):
        mrml_bridge.structures_from_segmentation_node(segmentation, reference_volume_node=volume)


def test_show_only_segment_hides_the_others_and_slice_centre_is_the_structure_centroid(scene):
    organ = np.zeros(OBLIQUE.array_shape, bool)
    organ[2, 1:4, 5:8] = True  # centroid on slice 2 at row 2, column 6
    structures = StructureSet.from_masks({"organ": organ, "other": ~organ}, OBLIQUE)
    node = mrml_bridge.add_segmentation_node(scene, structures, name="seg")
    mrml_bridge.show_only_segment(node, "organ")
    display = node.GetDisplayNode()
    assert display.GetSegmentVisibility(mrml_bridge.segment_id(node, "organ"))
    assert not display.GetSegmentVisibility(mrml_bridge.segment_id(node, "other"))
    np.testing.assert_allclose(
        mrml_bridge.slice_center_ras(structures, "organ", 2), mrml_bridge.ras_of_voxel(OBLIQUE, (2, 2, 6))
    )
    np.testing.assert_allclose(
        mrml_bridge.slice_center_ras(structures, "organ", 0), mrml_bridge.ras_of_voxel(OBLIQUE, (0, 3, 4))
    )


def test_a_segmentation_larger_than_its_volume_is_cropped_to_the_volume(scene):
    # The labelmap was made on a larger image (or painted past the volume's edge): read on the volume's
    # grid, the part inside the volume is kept exactly and the rest is cut away.
    large = Geometry(
        size=(15, 13, 9), spacing=(0.8, 1.1, 2.5), origin=OBLIQUE.origin, direction=OBLIQUE.direction
    )
    shift = (2, 3, 3)  # (z, y, x) voxels from the large grid's corner to the volume's
    origin = np.array(large.origin) + np.array(large.direction).reshape(3, 3) @ (
        np.array(shift[::-1]) * np.array(large.spacing)
    )
    small = Geometry(
        size=OBLIQUE.size, spacing=OBLIQUE.spacing, origin=tuple(origin), direction=OBLIQUE.direction
    )
    mask = np.zeros(large.array_shape, bool)
    mask[1:6, 2:10, 1:12] = True  # crosses every side of the volume's box
    segmentation = mrml_bridge.add_segmentation_node(
        scene, StructureSet.from_masks({"organ": mask}, large), name="large"
    )
    volume_node = mrml_bridge.add_volume_node(
        scene, Volume(array=np.zeros(small.array_shape, np.float32), geometry=small, source="v"), name="small"
    )
    structures = mrml_bridge.structures_from_segmentation_node(
        segmentation, reference_volume_node=volume_node
    )
    z, y, x = shift
    expected = mask[z : z + small.array_shape[0], y : y + small.array_shape[1], x : x + small.array_shape[2]]
    assert structures.mask("organ").shape == small.array_shape
    np.testing.assert_array_equal(structures.mask("organ"), expected)
    assert expected.any() and not expected.all()


def test_notes_with_bars_and_line_breaks_survive_the_seg_nrrd_header(scene, tmp_path):
    masks = {"a": np.ones(OBLIQUE.array_shape, bool), "b": np.ones(OBLIQUE.array_shape, bool)}
    volume_node = mrml_bridge.add_volume_node(
        scene, Volume(array=np.zeros(OBLIQUE.array_shape, np.float32), geometry=OBLIQUE, source="v"), name="v"
    )
    segmentation = mrml_bridge.add_segmentation_node(
        scene, StructureSet.from_masks(masks, OBLIQUE), name="seg", reference_volume_node=volume_node
    )
    note = "leaks | see 50%\nsecond line\r\nthird: done"
    mrml_bridge.set_segment_tags(segmentation, "a", {"note": note, "decision": "rejected"})
    mrml_bridge.set_segment_tags(segmentation, "b", {"note": "plain", "decision": "accepted"})
    reload_scene(scene, save_scene(scene, tmp_path / "bundle"))
    reloaded = scene.GetFirstNodeByName("seg")
    assert mrml_bridge.segment_tags(reloaded, "a", keys=["note", "decision"]) == {
        "note": note,
        "decision": "rejected",
    }
    assert mrml_bridge.segment_tags(reloaded, "b", keys=["note", "decision"]) == {
        "note": "plain",
        "decision": "accepted",
    }
    assert mrml_bridge.decode_tag_value(mrml_bridge.encode_tag_value(note)) == note
    assert "|" not in mrml_bridge.encode_tag_value(note) and "\n" not in mrml_bridge.encode_tag_value(note)
