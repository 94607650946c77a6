"""The weights file: safetensors without pickle, numbers that round-trip, the figures of its model card
in its metadata, and never trained on an evaluation-only (non-commercial) patient."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from SegQualityReviewLib.quality import DEFAULT_WEIGHTS, load_bundle
from SegQualityReviewLib.quality.calibration import ConformalIntervals, MonotoneCalibration
from SegQualityReviewLib.quality.crossval import PriorBank, fit_with_calibration, with_priors
from SegQualityReviewLib.quality.fusion import feature_matrix
from SegQualityReviewLib.quality.fusion_fit import FusionOptions
from SegQualityReviewLib.quality.signals.vit_head import build_head_net
from SegQualityReviewLib.quality.weights import EstimatorBundle, WeightsError, save_bundle

SHIPPED_LIMIT_BYTES = 5_000_000


def test_a_fitted_bundle_round_trips_through_the_file(classical_tables, tmp_path):
    train = [t for t in classical_tables if t.role == "train"]
    bank = PriorBank(by_patient={t.patient: t.observations for t in train})
    rows = with_priors([dict(r) for t in train for r in t.rows], bank, excluded=set())
    fit = fit_with_calibration(rows, FusionOptions(min_samples_leaf=5, max_iter=40), alpha=0.1)[0]["isotonic"]
    head = {k: v.detach().numpy() for k, v in build_head_net().state_dict().items()}
    bundle = EstimatorBundle(
        head, fit.model, fit.calibration, fit.intervals, bank.without(set()), {"note": "test"}
    )
    path = save_bundle(bundle, tmp_path / "estimator.safetensors")
    again = load_bundle(path)
    matrix = feature_matrix(rows, fit.model.features)
    assert np.array_equal(again.fusion.predict(matrix), fit.model.predict(matrix))
    assert again.calibration == fit.calibration and again.intervals.widths == fit.intervals.widths
    assert again.priors.volume == bank.without(set()).volume and again.summary == {"note": "test"}
    assert set(again.head_state) == set(head)
    assert all(np.allclose(again.head_state[k], head[k], atol=2e-3) for k in head)  # float16 on disk


def test_files_of_another_format_or_not_safetensors_are_refused(tmp_path):
    bogus = tmp_path / "weights.safetensors"
    bogus.write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(WeightsError, match="weights.safetensors"):
        load_bundle(bogus)
    old = tmp_path / "old.safetensors"
    save_file({"x": np.zeros(2, np.float32)}, str(old), metadata={"format": "2"})
    with pytest.raises(WeightsError, match="format '2'"):
        load_bundle(old)


def test_the_shipped_file_is_small_pickle_free_and_loads():
    assert DEFAULT_WEIGHTS.stat().st_size < SHIPPED_LIMIT_BYTES
    with safe_open(str(DEFAULT_WEIGHTS), framework="numpy") as handle:
        assert handle.metadata()["format"] == "3"
    bundle = load_bundle()
    assert bundle.head_state and bundle.fusion.kind in ("trees", "linear")
    assert isinstance(bundle.calibration, MonotoneCalibration) and isinstance(
        bundle.intervals, ConformalIntervals
    )
    for signal_set in ("medsam", "head", "classical"):
        assert 0.0 < bundle.intervals.half_width(0.8, signal_set) < 1.0


def test_the_shipped_weights_never_saw_an_evaluation_only_patient(shared_data):
    from SegQualityReviewLib.quality.cases import shared_data_cases

    summary = load_bundle().summary
    evaluation_only = {c.case_id for c in shared_data_cases(shared_data) if c.role == "evaluation"}
    assert evaluation_only == {f"brats2013_pat{n}" for n in range(1, 5)}
    assert summary["trained_on"] and not evaluation_only & set(summary["trained_on"])
    assert set(summary["never_trained_on"]) == evaluation_only


def test_the_shipped_weights_carry_the_figures_of_their_model_card():
    report = load_bundle().summary["report"]
    pooled = report["lopo"]["fused"]["pooled"]
    for metric in (
        "mae",
        "pearson",
        "spearman",
        "auroc_below_threshold",
        "flag_precision",
        "flag_recall",
        "coverage",
    ):
        assert pooled[metric] is not None, metric
    assert pooled["interval_95"]["mae"] is not None
    for baseline in (
        "constant",
        "shape_heuristic",
        "agreement_alone",
        "classical_model",
        "medsam_model",
        "head_alone",
    ):
        assert report["lopo"][baseline]["pooled"]["n"] > 0, baseline
    assert report["heldout_family"]["family"] == "brats2020_algorithms"
    assert report["never_trained"]["fused"]["pooled"]["n"] > 0
