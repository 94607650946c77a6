"""Synthetic edits of real masks: seeded, and each changes the mask the way its name says; the Dice
target is exact over the whole volume (the metric core's value)."""

from __future__ import annotations

import numpy as np
import pytest

from SegQualityReviewLib.io.intensity import normalize_intensity
from SegQualityReviewLib.metrics import score_masks
from SegQualityReviewLib.quality.body import BodyFrame
from SegQualityReviewLib.quality.crops import crop_dice, crop_of
from SegQualityReviewLib.quality.synthetic import EDIT_KINDS, Edit, EditContext, EditError, apply_edit


@pytest.fixture(scope="module")
def kidneys(ts_ct):
    volume, reference = ts_ct
    body = BodyFrame.from_image(
        volume.array, normalize_intensity(volume.array, modality="CT"), volume.geometry, modality="CT"
    )
    left, right = reference.mask("kidney_left"), reference.mask("kidney_right")
    context = EditContext(
        neighbour=reference.mask("spleen"), other=right, left_axis=body.left_axis, midline=body.midline
    )
    return left, right, context, body


@pytest.mark.parametrize("kind", [k for k in EDIT_KINDS if k != "empty"])
def test_every_edit_of_a_real_kidney_is_reproducible_and_changes_it(kidneys, kind):
    left, _, context, _ = kidneys
    first = apply_edit(left, Edit(kind, 0.6), rng=np.random.default_rng(3), context=context)
    second = apply_edit(left, Edit(kind, 0.6), rng=np.random.default_rng(3), context=context)
    assert np.array_equal(first, second)
    assert not np.array_equal(first, left)


def test_a_mirrored_left_kidney_lies_on_the_patients_right_over_the_right_kidney(kidneys):
    left, right, context, body = kidneys
    mirrored = apply_edit(left, Edit("mirror", 1.0), rng=np.random.default_rng(0), context=context)
    box = (slice(None),) * 3
    assert body.lateral_offset(left, box) > 0.2 and body.lateral_offset(mirrored, box) < -0.2
    overlap = 2 * (mirrored & right).sum() / (mirrored.sum() + right.sum())
    assert overlap > 0.3


def test_a_wrong_label_is_the_other_structure_and_scores_zero(kidneys):
    left, right, context, _ = kidneys
    wrong = apply_edit(left, Edit("wrong_label", 0.5), rng=np.random.default_rng(0), context=context)
    assert np.array_equal(wrong, right)
    assert (
        crop_dice(
            crop_of("kidney_left", wrong, margin=(1, 1, 1)), crop_of("kidney_left", left, margin=(1, 1, 1))
        )
        == 0.0
    )


def test_box_gap_shift_and_union_edits_do_what_they_say(kidneys):
    left, _, context, _ = kidneys
    rng = np.random.default_rng(1)
    boxed = apply_edit(left, Edit("slice_box", 0.5), rng=rng, context=context)
    for z in np.flatnonzero(left.any(axis=(1, 2))):
        rows, cols = np.flatnonzero(left[z].any(axis=1)), np.flatnonzero(left[z].any(axis=0))
        assert boxed[z, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].all()
    dropped = apply_edit(left, Edit("dropped_slices", 0.8), rng=rng, context=context)
    occupied = np.flatnonzero(dropped.any(axis=(1, 2)))
    assert occupied.size < np.count_nonzero(left.any(axis=(1, 2))) and np.diff(occupied).max() > 1
    shifted = apply_edit(left, Edit("z_shift", 1.0), rng=rng, context=context)
    assert shifted.sum() <= left.sum() and shifted.any()
    assert not np.array_equal(np.flatnonzero(shifted.any(axis=(1, 2))), np.flatnonzero(left.any(axis=(1, 2))))
    union = apply_edit(left, Edit("union_neighbour", 0.5), rng=rng, context=context)
    assert (union >= left).all() and (union >= context.neighbour).all()


def test_context_edits_without_their_context_and_unknown_kinds_are_refused(kidneys):
    left, _, _, _ = kidneys
    with pytest.raises(EditError, match="wrong_label"):
        apply_edit(left, Edit("wrong_label", 0.5), rng=np.random.default_rng(0))
    with pytest.raises(EditError, match="unknown edit"):
        apply_edit(left, Edit("melt", 0.5), rng=np.random.default_rng(0))


def test_crop_dice_equals_the_metric_cores_dice_over_the_whole_volume(kidneys, ts_ct):
    left, _, context, _ = kidneys
    volume, _ = ts_ct
    rng = np.random.default_rng(2)
    edited = [
        apply_edit(left, Edit(kind, 0.7), rng=rng, context=context)
        for kind in ("shift", "dilate", "mirror", "holes")
    ]
    reference = crop_of("kidney_left", left, margin=(2, 2, 2))
    scores = score_masks(
        np.stack(edited),
        np.broadcast_to(left, (len(edited),) + left.shape).copy(),
        spacing=volume.geometry.array_spacing,
        names=[f"e{i}" for i in range(len(edited))],
        compute_distances=False,
        device="cpu",
    )
    for mask, score in zip(edited, scores):
        assert crop_dice(crop_of("kidney_left", mask, margin=(3, 1, 2)), reference) == pytest.approx(
            score.dice, abs=1e-12
        )
