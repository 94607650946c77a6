"""Choosing and orienting the worst slice of a case."""

from __future__ import annotations

import numpy as np

from SegQualityReviewLib.batch.thumbnails import _crop_window, _radiological, worst_slice


def test_the_worst_slice_is_where_reference_and_prediction_disagree_most():
    reference = np.zeros((5, 8, 8), bool)
    reference[1:4, 2:6, 2:6] = True
    prediction = reference.copy()
    prediction[3, 2:6, 2:4] = False  # 8 voxels missed on slice 3
    prediction[1, 0, 0] = True  # 1 false positive on slice 1
    assert worst_slice(reference, prediction) == 3
    assert worst_slice(reference, reference) == 1  # no disagreement: largest reference slice (first of ties)


def test_planes_are_flipped_to_lps_and_cropped_around_the_structure():
    plane = np.arange(12).reshape(3, 4)
    flipped_xy = (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)
    assert _radiological(plane, flipped_xy)[0, 0] == plane[-1, -1]
    assert _radiological(plane, (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)) is plane
    mask = np.zeros((200, 300), bool)
    mask[100:110, 150:160] = True
    rows, columns = _crop_window(mask, margin=16, min_size=64)
    assert rows.start <= 100 and rows.stop >= 110 and rows.stop - rows.start <= 70
    assert columns.start <= 150 and columns.stop >= 160 and columns.stop - columns.start <= 70
    assert _crop_window(np.zeros((4, 4), bool)) == (slice(None), slice(None))
