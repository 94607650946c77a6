"""The Logic's select: two real models' segmentation nodes in, one new node out with the chosen model per
segment, the inputs untouched."""

from __future__ import annotations

import numpy as np

from SegQualityReviewLib import mrml_bridge
from SegQualityReviewLib.io import StructureSet, read_structures, read_volume

ORGANS = ("liver", "spleen", "kidney_left", "kidney_right", "stomach")


def _snapshot(node, volume_node):
    structures = mrml_bridge.structures_from_segmentation_node(node, reference_volume_node=volume_node)
    segmentation = node.GetSegmentation()
    segments = [segmentation.GetNthSegmentID(i) for i in range(segmentation.GetNumberOfSegments())]
    tags = {
        s: mrml_bridge.segment_tags(node, s, keys=["selected_from", "selection_predicted_dice"])
        for s in structures.names
    }
    return node.GetName(), segments, {n: structures.mask(n) for n in structures.names}, tags


def test_select_returns_a_new_node_with_the_chosen_model_per_segment(scene, module, shared_data, tmp_path):
    folder = shared_data / "totalsegmentator" / "ct_sm"
    maps = shared_data / "labelmaps"
    volume = read_volume(folder / "image.nii.gz")
    volume_node = mrml_bridge.add_volume_node(scene, volume, name="ct_sm")
    models = {
        "fast": read_structures(
            folder / "pred_total_fast_v2.nii.gz", label_map=maps / "totalsegmentator_total_v2.json"
        ),
        "total 2023": read_structures(
            folder / "pred_total_v2_nnunetv2.1_2023-10.nii.gz",
            label_map=maps / "totalsegmentator_total_v2_before_2024-03-14.json",
        ),
    }
    nodes = [
        mrml_bridge.add_segmentation_node(
            scene,
            StructureSet.from_masks({o: s.mask(o) for o in ORGANS}, volume.geometry),
            name=name,
            reference_volume_node=volume_node,
        )
        for name, s in models.items()
    ]
    before = [_snapshot(node, volume_node) for node in nodes]
    count = scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode")
    logic = module.SegQualityReviewLogic(autosaveFolder=str(tmp_path))
    seen = []
    selected = logic.select(
        volume_node, nodes, mode="classical", progress=lambda fraction, step: seen.append(fraction)
    )
    assert selected.GetName() == "Selected by predicted quality" and selected not in nodes
    assert scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == count + 1
    assert seen and seen[-1] == 1.0
    assert selected.GetAttribute("SegQualityReview.selectionModels") == "fast,total 2023"
    structures = mrml_bridge.structures_from_segmentation_node(selected, reference_volume_node=volume_node)
    assert structures.names == ORGANS
    for organ in ORGANS:
        tags = mrml_bridge.segment_tags(
            selected, organ, keys=["selected_from", "selection_predicted_dice", "selection_candidates"]
        )
        candidates = dict(item.split("=") for item in tags["selection_candidates"].split(";"))
        assert list(candidates) == ["fast", "total 2023"]
        # The chosen model is the one predicted best, and the segment holds its mask.
        assert tags["selected_from"] == max(candidates, key=lambda m: float(candidates[m]))
        assert tags["selection_predicted_dice"] == candidates[tags["selected_from"]]
        chosen = models[tags["selected_from"]].mask(organ)
        mask = structures.mask(organ)
        assert mask.sum() > 0 and not (mask & ~chosen).any()
        assert np.count_nonzero(chosen & ~mask) <= 0.02 * chosen.sum()
    # The inputs are only read: same names, segments, masks, and no selection tags on them.
    after = [_snapshot(node, volume_node) for node in nodes]
    for (name, segments, masks, tags), (name2, segments2, masks2, tags2) in zip(before, after):
        assert (name, segments, tags) == (name2, segments2, tags2)
        assert all(not t for t in tags2.values())
        for organ in masks:
            np.testing.assert_array_equal(masks[organ], masks2[organ])
