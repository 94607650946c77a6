"""Per-case selection by predicted quality, on real multi-model cases (classical mode: the choice rule,
the agreement wiring and the label image are the point here, not the estimator's accuracy)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from SegQualityReviewLib.errors import GeometryMismatchError
from SegQualityReviewLib.io import LabelMap, StructureSet, read_structures, read_volume
from SegQualityReviewLib.quality import estimate_quality
from SegQualityReviewLib.quality.selection import (
    CandidateEstimate,
    SelectionInputError,
    choose,
    select_by_predicted_quality,
)
from SegQualityReviewLib.quality.selection_scores import score_selection
from SegQualityReviewLib.segmenters.output import read_segmentation, write_segmentation

BRATS_MODELS = ("hnfnetv1-20", "isen-20", "sanet0-20", "scan-20", "yixinmpl-20")


@pytest.fixture(scope="module")
def brats(shared_data):
    folder = shared_data / "brats_toolkit" / "TCGA-DU-7294"
    labels = shared_data / "labelmaps" / "brats_2017_2020.json"
    volume = read_volume(folder / "image_flair.nii.gz")
    channels = {seq: read_volume(folder / f"image_{seq.lower()}.nii.gz") for seq in ("T1", "T1c", "T2")}
    candidates = {
        model: read_structures(folder / f"pred_{model}.nii.gz", label_map=labels, reference=volume.geometry)
        for model in BRATS_MODELS
    }
    selection = select_by_predicted_quality(
        volume, candidates, channels=channels, sequence="FLAIR", mode="classical"
    )
    return volume, channels, candidates, selection


@pytest.fixture(scope="module")
def ct_sm(shared_data):
    folder = shared_data / "totalsegmentator" / "ct_sm"
    v2 = shared_data / "labelmaps" / "totalsegmentator_total_v2.json"
    volume = read_volume(folder / "image.nii.gz")

    def read(name, label_map=v2):
        return read_structures(folder / f"{name}.nii.gz", label_map=label_map, reference=volume.geometry)

    return volume, read


def _estimate(model, value, *, empty=False):
    return CandidateEstimate(model, value, value - 0.1, value + 0.1, "ok", empty)


def test_the_rule_takes_the_highest_non_empty_candidate_and_the_first_on_a_tie():
    mask = np.zeros((2, 2, 2), bool)
    assert choose([("a", mask, _estimate("a", 0.6)), ("b", mask, _estimate("b", 0.8))])[0] == "b"
    assert choose([("a", mask, _estimate("a", 0.8)), ("b", mask, _estimate("b", 0.8))])[0] == "a"
    # An empty mask is never chosen over a non-empty one, whatever its number...
    assert choose([("a", mask, _estimate("a", 0.9, empty=True)), ("b", mask, _estimate("b", 0.2))])[0] == "b"
    # ...only when every candidate is empty (then the first), and a NaN never beats a number.
    assert choose([("a", mask, _estimate("a", math.nan, empty=True)),
                   ("b", mask, _estimate("b", math.nan, empty=True))])[0] == "a"  # fmt: skip
    assert choose([("a", mask, _estimate("a", math.nan)), ("b", mask, _estimate("b", 0.1))])[0] == "b"


def test_each_brats_structure_goes_to_the_candidate_predicted_best(brats):
    _, _, candidates, selection = brats
    assert [r.structure for r in selection.structures] == list(candidates["isen-20"].names)
    spread = 0
    for record in selection.structures:
        assert [c.model for c in record.candidates] == list(BRATS_MODELS)
        filled = [c for c in record.candidates if not c.empty]
        best = max(c.predicted_dice for c in filled)
        chosen = record.chosen
        assert not chosen.empty and chosen.predicted_dice == best, record
        assert chosen == next(c for c in filled if c.predicted_dice == best)  # the first of equals
        spread += best - min(c.predicted_dice for c in filled)
    # The candidates' numbers differ, so an argmin (or first-given) rule would choose differently.
    assert spread > 0.05
    assert {r.chosen_model for r in selection.structures} != {BRATS_MODELS[0]}


def test_every_candidate_is_estimated_with_the_other_candidates_as_agreement(brats):
    volume, channels, candidates, selection = brats
    for record in selection.structures:
        for estimate in record.candidates:
            if estimate.empty:
                continue
            own = candidates[estimate.model].mask(record.structure)
            dice = [
                2 * np.count_nonzero(own & other) / (own.sum() + other.sum()) if other.any() else 0.0
                for other in (
                    candidates[m].mask(record.structure) for m in BRATS_MODELS if m != estimate.model
                )
            ]
            assert estimate.agreement_dice == pytest.approx(np.mean(dice), abs=1e-9), (
                record.structure,
                estimate,
            )
    # The predicted Dice is the estimator's with the four others, not the estimator's alone.
    model = "sanet0-20"
    others = [candidates[m] for m in BRATS_MODELS if m != model]
    with_others = estimate_quality(volume, candidates[model], other_segmentations=others, channels=channels,
                                   sequence="FLAIR", mode="classical")  # fmt: skip
    alone = estimate_quality(volume, candidates[model], channels=channels, sequence="FLAIR", mode="classical")
    for record, expected in zip(selection.structures, with_others):
        assert record.candidate(model).predicted_dice == pytest.approx(expected.predicted_dice)
    assert any(
        abs(e.predicted_dice - a.predicted_dice) > 1e-3
        for e, a in zip(with_others, alone)
        if e.status == "ok"
    )


def test_the_selected_label_image_round_trips_with_its_label_map(brats, tmp_path):
    volume, _, candidates, selection = brats
    image, label_json = write_segmentation(selection.segmentation, tmp_path / "selected.nii.gz")
    assert label_json.name == "selected.labels.json"
    back = read_segmentation(image, reference=volume.geometry)
    assert back.names == tuple(r.structure for r in selection.structures)
    for record in selection.structures:
        written = back.mask(record.structure)
        chosen = candidates[record.chosen_model].mask(record.structure)
        np.testing.assert_array_equal(written, selection.segmentation.mask(record.structure))
        # Only voxels another chosen mask also claimed may be missing, and they are counted.
        assert not (written & ~chosen).any()
        assert np.count_nonzero(chosen & ~written) == record.reassigned_voxels


def test_structures_only_some_candidates_declare_are_chosen_among_them(ct_sm):
    volume, read = ct_sm
    candidates = {
        "liver_only": read("pred_total_v2_roi_subset_liver", LabelMap(names_by_value={5: "liver"})),
        "fast": read("pred_total_fast_v2"),
    }
    selection = select_by_predicted_quality(volume, candidates, mode="classical")
    by_name = {r.structure: r for r in selection.structures}
    # Nothing is dropped: liver first (the first candidate declares it), then every structure of "fast".
    assert list(by_name) == ["liver", *(n for n in candidates["fast"].names if n != "liver")]
    assert [c.model for c in by_name["liver"].candidates] == ["liver_only", "fast"]
    assert [c.model for c in by_name["spleen"].candidates] == ["fast"]
    assert by_name["spleen"].chosen_model == "fast"
    np.testing.assert_array_equal(selection.segmentation.mask("spleen"), candidates["fast"].mask("spleen"))
    # A structure every candidate has empty stays declared, with an empty mask from the first declaring it.
    empty = [r for r in selection.structures if all(c.empty for c in r.candidates)]
    assert empty and all(r.chosen_model == r.candidates[0].model for r in empty)
    assert not any(selection.segmentation.mask(r.structure).any() for r in empty)


def test_scores_compare_the_selection_with_every_model_the_oracle_and_a_random_pick(ct_sm):
    volume, read = ct_sm
    candidates = {"fast": read("pred_total_fast_v2"), "bodyseg": read("pred_total_fast_bodyseg_v2")}
    selection = select_by_predicted_quality(volume, candidates, mode="classical")
    scores = score_selection(selection, candidates, read("pred_total_v2"), device="cpu")
    assert len(scores.structures) >= 30
    reassigned = {r.structure: r.reassigned_voxels for r in selection.structures}
    for row in scores.structures:
        if not reassigned[row.structure]:  # the label image holds the chosen mask whole
            assert row.selection_dice == pytest.approx(row.dice_by_model[row.chosen_model], abs=1e-6)
        assert row.oracle_dice == max(row.dice_by_model.values())
        assert row.random_dice == pytest.approx(np.mean(list(row.dice_by_model.values())))
    assert scores.oracle_mean_dice >= max(scores.mean_dice_by_model.values())
    assert scores.dice_gain == pytest.approx(
        scores.selection_mean_dice - max(scores.mean_dice_by_model.values())
    )


def test_too_few_candidates_duplicate_names_and_other_grids_are_refused(ct_sm, shared_data):
    volume, read = ct_sm
    fast = read("pred_total_fast_v2")
    with pytest.raises(SelectionInputError, match="at least two"):
        select_by_predicted_quality(volume, {"fast": fast}, mode="classical")
    with pytest.raises(SelectionInputError, match="'Fast' and 'fast'"):
        select_by_predicted_quality(volume, {"Fast": fast, "fast": fast}, mode="classical")
    other_grid = StructureSet.from_label_array(
        np.zeros((5, 6, 7), np.uint8), read_volume(shared_data / "pyradiomics" / "brain1_image.nrrd").geometry
    )
    with pytest.raises(GeometryMismatchError):
        select_by_predicted_quality(volume, {"fast": fast, "other": other_grid}, mode="classical")
