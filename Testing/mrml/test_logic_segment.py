"""The Logic's segment: a segmenter run in a separate process comes back as a named segmentation node."""

from __future__ import annotations

import numpy as np

from SegQualityReviewLib import mrml_bridge
from SegQualityReviewLib.io import read_volume


def test_segment_runs_a_segmenter_out_of_process_into_a_named_segmentation(
    scene, module, shared_data, tmp_path
):
    volume = read_volume(shared_data / "totalsegmentator" / "ct_sm" / "image.nii.gz")
    volume_node = mrml_bridge.add_volume_node(scene, volume, name="ct_sm")
    logic = module.SegQualityReviewLogic(autosaveFolder=str(tmp_path))
    assert "classical-body" in logic.availableSegmenters()
    seen = []
    node = logic.segment(
        volume_node, "classical-body", progress=lambda fraction, message: seen.append(fraction)
    )
    structures = mrml_bridge.structures_from_segmentation_node(node, reference_volume_node=volume_node)
    assert node.GetName() == "ct_sm classical-body" and seen
    body = structures.mask(structures.names[0])
    # The body outline covers the patient (air outside is HU < -500), not the whole field of view.
    assert 0.2 < body.mean() < 0.95
    assert np.median(volume.array[body]) > -200 > np.median(volume.array[~body])
