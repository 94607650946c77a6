"""Leave-one-patient-out: nothing that scores a patient's candidates has seen that patient, priors
included; and the fusion learns to work with only some signals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from SegQualityReviewLib.quality.crossval import PriorBank, with_priors
from SegQualityReviewLib.quality.fusion_fit import FusionOptions
from SegQualityReviewLib.quality.pipeline import TrainingOptions, cross_validate
from SegQualityReviewLib.quality.signal_sets import reachable_sets, restrict, signal_set_of

OPTIONS = TrainingOptions(fusion=FusionOptions(min_samples_leaf=5, max_iter=60))


@pytest.fixture(scope="module")
def bank_and_rows(classical_tables):
    train = [t for t in classical_tables if t.role == "train"]
    bank = PriorBank(by_patient={t.patient: t.observations for t in train})
    return bank, [dict(r) for t in train for r in t.rows]


def test_a_patients_own_references_never_enter_its_prior_z_scores(bank_and_rows):
    bank, rows = bank_and_rows
    lung = [r for r in rows if r["patient"] == "lung1" and r["kind"] == "reference"][0]
    own_excluded = with_priors([lung], bank, excluded=set())[0]
    with_own = dict(lung)
    from SegQualityReviewLib.quality.signals.classical import prior_features

    with_own.update(prior_features(lung["structure"], lung, lung["qc_raw_intensity"], bank.without(set())))
    assert math.isfinite(own_excluded["qc_volume_z"]) and math.isfinite(with_own["qc_volume_z"])
    assert own_excluded["qc_volume_z"] != with_own["qc_volume_z"]
    assert own_excluded["qc_volume_z"] == pytest.approx(
        prior_features(lung["structure"], lung, lung["qc_raw_intensity"], bank.without({"lung1"}))[
            "qc_volume_z"
        ]
    )


def test_scrambling_a_patients_true_dice_leaves_its_own_predictions_unchanged(bank_and_rows):
    bank, rows = bank_and_rows
    first, _ = cross_validate(rows, bank, OPTIONS, progress=lambda message: None)
    scrambled = [dict(r) for r in rows]
    rng = np.random.default_rng(0)
    for row in scrambled:
        if row["patient"] == "brain2":
            row["true_dice"] = float(rng.uniform())
    second, _ = cross_validate(scrambled, bank, OPTIONS, progress=lambda message: None)
    own = np.array([r["patient"] == "brain2" for r in rows])
    assert np.array_equal(first["fused"][own], second["fused"][own])
    assert not np.allclose(first["fused"][~own], second["fused"][~own])


def test_every_row_is_trained_under_each_signal_set_it_allows():
    row = {"patient": "p", "true_dice": 0.5, "ms_dice": 0.8, "head_dice": 0.7, "agr_dice_mean": 0.9}
    assert signal_set_of(row) == "medsam+agreement"
    assert reachable_sets(row) == [
        "medsam+agreement",
        "medsam",
        "head+agreement",
        "head",
        "classical+agreement",
        "classical",
    ]
    reduced = restrict(row, "head")
    assert (
        math.isnan(reduced["ms_dice"])
        and math.isnan(reduced["agr_dice_mean"])
        and reduced["head_dice"] == 0.7
    )
