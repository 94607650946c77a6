"""Each signal on real images: it measures what it claims, so removing or short-circuiting it shows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import needs_medsam

from SegQualityReviewLib.io import read_structures, read_volume
from SegQualityReviewLib.quality.case_data import ImageChannels
from SegQualityReviewLib.quality.context import CaseContext
from SegQualityReviewLib.quality.crops import crop_dice, crop_of, structure_crops
from SegQualityReviewLib.quality.embeddings import SliceEncoder
from SegQualityReviewLib.quality.priors import StructurePriors
from SegQualityReviewLib.quality.signals import agreement, classical, second_opinion, vit_head
from SegQualityReviewLib.quality.slice_plan import spread_choice
from SegQualityReviewLib.quality.synthetic import Edit, EditContext, apply_edit


@pytest.fixture(scope="module")
def ct_context(ts_ct):
    volume, reference = ts_ct
    context = CaseContext.build(ImageChannels.from_volumes({"CT": volume}, modality="CT"), StructurePriors())
    crops = structure_crops(
        reference, margin=context.crop_margin(), names=["kidney_left", "kidney_right", "liver", "spleen"]
    )
    return context, crops


def _edited(crop, kind, context, strength=0.8, **fields):
    edit_context = EditContext(left_axis=context.body.left_axis, midline=context.body.midline, **fields)
    mask = apply_edit(crop.full(), Edit(kind, strength), rng=np.random.default_rng(0), context=edit_context)
    return crop_of(crop.name, mask, margin=context.crop_margin())


def test_qc_sees_a_boundary_off_the_image_edges(ct_context):
    context, crops = ct_context
    laterals = classical.lateral_offsets(crops, context)
    reference, _ = classical.classical_features(crops["liver"], context, laterals=laterals)
    for kind in ("erode", "shift"):
        edited, _ = classical.classical_features(
            _edited(crops["liver"], kind, context), context, laterals=laterals
        )
        assert edited["qc_edge_alignment"] < reference["qc_edge_alignment"] - 0.05, kind
        assert edited["qc_contrast"] < reference["qc_contrast"], kind


def test_qc_sees_a_left_kidney_mirrored_onto_the_right(ct_context):
    context, crops = ct_context
    laterals = classical.lateral_offsets(crops, context)
    reference, _ = classical.classical_features(crops["kidney_left"], context, laterals=laterals)
    mirrored = _edited(crops["kidney_left"], "mirror", context)
    table = dict(laterals, kidney_left=context.body.lateral_offset(mirrored.crop, mirrored.box))
    moved, _ = classical.classical_features(mirrored, context, laterals=table)
    assert reference["qc_side_agreement"] > 0.2 and moved["qc_side_agreement"] < -0.2
    assert reference["qc_partner_order"] == 1.0 and moved["qc_partner_order"] == -1.0


def test_qc_sees_boxes_gaps_and_blobs(ct_context):
    context, crops = ct_context
    laterals = classical.lateral_offsets(crops, context)
    reference, _ = classical.classical_features(crops["spleen"], context, laterals=laterals)
    boxed, _ = classical.classical_features(
        _edited(crops["spleen"], "slice_box", context), context, laterals=laterals
    )
    gaps, _ = classical.classical_features(
        _edited(crops["spleen"], "dropped_slices", context), context, laterals=laterals
    )
    blobs, _ = classical.classical_features(
        _edited(crops["spleen"], "false_positive_blobs", context), context, laterals=laterals
    )
    assert boxed["qc_box_fill"] == 1.0 > reference["qc_box_fill"]
    assert gaps["qc_z_gap_fraction"] > reference["qc_z_gap_fraction"] == 0.0
    assert blobs["qc_largest_fraction"] < reference["qc_largest_fraction"]


def test_priors_turn_a_volume_into_a_z_score_by_concept(ct_context):
    context, crops = ct_context
    features, intensities = classical.classical_features(crops["liver"], context, laterals={})
    from SegQualityReviewLib.quality.priors import Observation

    priors = StructurePriors.build([Observation("liver", log_volume=features["qc_log_volume"] - 0.5)])
    z = classical.prior_features("liver", features, intensities, priors)
    assert z["qc_volume_z"] > 2.0 and math.isnan(z["qc_lateral_z"])


def test_agreement_is_dice_against_each_other_segmentation_and_missing_without_one(ct_context, shared_data):
    context, crops = ct_context
    fast = read_structures(
        shared_data / "totalsegmentator/ct/pred_total_fast_v1.nii.gz",
        label_map=shared_data / "labelmaps/totalsegmentator_total_v1.json",
    )
    other = structure_crops(fast, margin=context.crop_margin(), names=["liver"])["liver"]
    empty = crop_of("liver", np.zeros(context.shape, bool), margin=(1, 1, 1))
    features = agreement.agreement_features(crops["liver"], [other, empty])
    assert features["agr_dice_mean"] == pytest.approx((crop_dice(crops["liver"], other) + 0.0) / 2)
    assert features["agr_dice_min"] == 0.0 and features["agr_count"] == 2.0
    assert crop_dice(crops["liver"], other) > 0.85
    assert all(math.isnan(v) for v in agreement.agreement_features(crops["liver"], []).values())


@pytest.fixture(scope="module")
def dicom_liver(shared_data, embedding_cache):
    folder = shared_data / "totalsegmentator" / "ct_dicom"
    volume = read_volume(folder / "dicom")
    labels = read_structures(
        folder / "pred_total_v2.nii.gz",
        label_map=shared_data / "labelmaps" / "totalsegmentator_total_v2.json",
        reference=volume.geometry,
        resample=True,
    )
    context = CaseContext.build(ImageChannels.from_volumes({"CT": volume}, modality="CT"), StructurePriors())
    crop = structure_crops(labels, margin=context.crop_margin(), names=["liver"])["liver"]
    slices = spread_choice(crop.occupied.tolist(), 2)
    encoder = SliceEncoder(cache_folder=embedding_cache)
    embeddings = [
        encoder.encode(context.channels.normalised[0], slices, orientation=context.orientation, sequence="CT")
    ]
    return context, crop, slices, encoder, embeddings


@needs_medsam
def test_medsam_agrees_with_a_real_liver_and_not_with_a_shifted_one(dicom_liver):
    context, crop, slices, encoder, embeddings = dicom_liver
    values = {}
    for label, candidate in (("reference", crop), ("shifted", _edited(crop, "shift", context, strength=0.5))):
        requests = second_opinion.box_requests(
            candidate, slices, orientation=context.orientation, frame=embeddings[0].frame
        )
        answers = second_opinion.run_second_opinion(
            encoder, requests, embeddings, spacing_yx=context.spacing[1:]
        )
        values[label] = second_opinion.second_opinion_features(
            [a for a in answers if a is not None],
            equivalent_radius_mm=second_opinion.equivalent_radius_mm(candidate, context.spacing),
        )
    assert values["reference"]["ms_dice"] > 0.8
    assert values["shifted"]["ms_dice"] < values["reference"]["ms_dice"] - 0.1
    assert values["shifted"]["ms_boundary_mm"] > values["reference"]["ms_boundary_mm"]


@needs_medsam
def test_the_heads_inputs_pool_the_full_slice_embedding_under_the_mask_and_around_it(dicom_liver):
    context, crop, slices, _, embeddings = dicom_liver
    inputs = vit_head.head_inputs(
        crop,
        slices,
        embeddings,
        orientation=context.orientation,
        spacing_z=context.spacing[0],
        modality="CT",
        lateral=-0.4,
    )
    assert (
        inputs.masks.shape == (len(slices), 3, 64, 64) and inputs.identity.shape[1] == vit_head.IDENTITY_SIZE
    )
    vectors, scalars = vit_head.pool_rows(
        lambda key: embeddings[key[0]].by_slice[key[1]], inputs.masks, inputs.embedding_keys
    )
    inside, ring = vectors[:, 0], vectors[:, 1]
    assert np.linalg.norm(inside - ring, axis=1).min() > 0.1 * np.linalg.norm(inside, axis=1).min()
    assert (scalars[:, 0] > 0.5).all()  # the liver 5 mm below overlaps this slice's liver
    net = vit_head.build_head_net()
    predictions = vit_head.predict_rows(net, inputs, vectors, scalars)
    assert predictions.shape == (len(slices),) and ((predictions > 0) & (predictions < 1)).all()
    features = vit_head.head_features(inputs, predictions, vectors)
    assert set(features) == set(vit_head.FEATURES) and all(math.isfinite(v) for v in features.values())


@needs_medsam
def test_the_embedding_contrast_drops_when_the_mask_leaves_its_organ(dicom_liver):
    context, crop, slices, _, embeddings = dicom_liver
    values = {}
    for label, candidate in (("reference", crop), ("shifted", _edited(crop, "shift", context, strength=0.6))):
        crossed = [z for z in slices if z in set(candidate.occupied.tolist())]
        inputs = vit_head.head_inputs(
            candidate,
            crossed,
            embeddings,
            orientation=context.orientation,
            spacing_z=context.spacing[0],
            modality="CT",
            lateral=0.0,
        )
        vectors, _ = vit_head.pool_inputs(inputs, embeddings)
        values[label] = vit_head.head_features(inputs, None, vectors)
    assert values["shifted"]["vit_contrast"] < values["reference"]["vit_contrast"]
    assert math.isnan(values["reference"]["head_dice"])  # no trained head given: absent, not invented
