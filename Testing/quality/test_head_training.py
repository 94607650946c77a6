"""The ViT head is trained per held-out patient: a patient's head features never saw its own targets."""

from __future__ import annotations

import numpy as np
from conftest import needs_medsam

from SegQualityReviewLib.quality.head_training import HeadTrainingOptions
from SegQualityReviewLib.quality.pipeline import head_out_of_patient
from SegQualityReviewLib.quality.signals import vit_head

OPTIONS = HeadTrainingOptions(epochs=10)


@needs_medsam
def test_scrambling_a_patients_slice_targets_leaves_its_own_head_features_unchanged(encoder_tables, tmp_path):
    first, state = head_out_of_patient(
        encoder_tables, options=OPTIONS, cache_folder=tmp_path / "a", progress=lambda m: None
    )
    scrambled = []
    for table in encoder_tables:
        arrays = dict(table.arrays)
        if table.patient == "brain2":
            arrays["head_slice_target"] = (
                np.random.default_rng(0).uniform(size=arrays["head_slice_target"].shape).astype(np.float32)
            )
        scrambled.append(type(table)(**{**table.__dict__, "arrays": arrays}))
    second, _ = head_out_of_patient(
        scrambled, options=OPTIONS, cache_folder=tmp_path / "b", progress=lambda m: None
    )
    own = np.concatenate([[t.patient == "brain2"] * len(t.rows) for t in encoder_tables])
    head = [vit_head.FEATURES.index("head_dice")]
    assert np.isfinite(first[:, head]).all() and state
    assert np.array_equal(first[own][:, head], second[own][:, head], equal_nan=True)
    assert not np.allclose(first[~own][:, head], second[~own][:, head])
    contrast = vit_head.FEATURES.index("vit_contrast")
    assert np.array_equal(first[:, contrast], second[:, contrast])  # training-free: no targets involved
