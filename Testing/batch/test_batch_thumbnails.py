"""The failure gallery's views: centred on the failure, windowed in mm, in radiological orientation."""

from __future__ import annotations

import numpy as np

from SegQualityReviewLib.report.thumbnails import WINDOW_MM, _orient, _window, failure_centre


def organ_with_blob() -> tuple[np.ndarray, np.ndarray]:
    reference = np.zeros((20, 40, 40), bool)
    reference[8:12, 10:20, 10:20] = True
    prediction = reference.copy()
    prediction[2:4, 32:35, 30:33] = True  # a distant false-positive blob
    return reference, prediction


def test_views_centre_on_the_blob_of_a_distant_false_positive_and_on_the_organ_when_missed():
    reference, prediction = organ_with_blob()
    assert failure_centre(reference, prediction, failure_mode="distant_false_positive") == (2, 33, 31)
    assert failure_centre(reference, np.zeros_like(reference), failure_mode="missed") == (10, 14, 14)
    assert failure_centre(np.zeros_like(reference), prediction, failure_mode="hallucinated") != (10, 14, 14)


def test_a_distant_false_positive_is_shown_at_the_far_island_not_at_a_near_speck():
    reference, prediction = organ_with_blob()
    prediction[9, 22, 12] = True  # a one-voxel speck 2 voxels off the organ, smaller than the far blob
    assert failure_centre(reference, prediction, failure_mode="distant_false_positive") == (2, 33, 31)


def test_a_fragmented_prediction_is_shown_at_its_smallest_piece():
    reference, prediction = organ_with_blob()
    prediction[8:12, 10:20, 15] = False  # splits the organ into two halves of 200 voxels each
    assert failure_centre(reference, prediction, failure_mode="fragmented") == (2, 33, 31)


def test_windows_span_the_same_millimetres_whatever_the_spacing():
    rows, columns = _window((512, 512), (256, 256), (0.5, 2.0))
    assert (rows.stop - rows.start) * 0.5 == WINDOW_MM and (columns.stop - columns.start) * 2.0 == WINDOW_MM
    near_edge, _ = _window((512, 512), (3, 256), (0.5, 2.0))
    assert near_edge.start == 0 and near_edge.stop - near_edge.start == WINDOW_MM / 0.5


def test_planes_are_shown_radiologically_with_the_marker_moved_along():
    plane = np.arange(12).reshape(3, 4)
    lps = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    (axial,), marker = _orient("axial", [plane], (0, 1), lps)
    assert axial is plane and marker == (0, 1)
    flipped = (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)
    (axial,), marker = _orient("axial", [plane], (0, 1), flipped)
    assert axial[0, 0] == plane[-1, -1] and marker == (2, 2)
    # Coronal and sagittal planes put superior (higher z in LPS) at the top.
    (coronal,), marker = _orient("coronal", [plane], (0, 0), lps)
    assert coronal[0, 0] == plane[-1, 0] and marker == (2, 0)
