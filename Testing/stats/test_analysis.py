"""analyze_metric: one (structure, metric) family on shared resamples, consistent across its parts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from SegQualityReviewLib.stats import (
    analyze_metric,
    compare_models,
    mean_intervals,
    rank_models,
    resample_patients,
)


def test_every_part_of_an_analysis_uses_the_same_resamples_and_agrees_with_the_single_calls():
    rng = np.random.default_rng(1)
    patient_ids = np.repeat([f"case-{i:02d}" for i in range(32)], 2)
    values = (
        rng.beta(8, 2, size=(64, 1)) + np.array([0.0, 0.04, 0.01, 0.04]) + rng.normal(0, 0.03, size=(64, 4))
    )
    names = ["unet", "nnunet", "swin", "mednext"]
    resamples = resample_patients(32, n_resamples=1500, seed=42)
    analysis = analyze_metric(
        values, model_names=names, patient_ids=patient_ids, resamples=resamples, equivalence_margin=0.02
    )
    shared = {"patient_ids": patient_ids, "resamples": resamples}
    assert analysis.means == mean_intervals(values, **shared)
    assert analysis.pairwise == compare_models(values, model_names=names, equivalence_margin=0.02, **shared)
    assert analysis.ranking == rank_models(values, model_names=names, **shared)
    assert {interval.seed for interval in analysis.means + analysis.medians} == {42}
    assert analysis.ranking.n == analysis.power.n == 32
    leaders = set(analysis.ranking.tied_leaders)
    leader = analysis.ranking.models[0].model
    for comparison in analysis.pairwise:
        if leader in (comparison.model_a, comparison.model_b):
            other = comparison.model_b if comparison.model_a == leader else comparison.model_a
            assert (other in leaders) == (not comparison.significant)
    record = json.loads(json.dumps(analysis.as_dict(), allow_nan=False))
    assert record["models"] == names and len(record["pairwise"]) == 6
    assert record["sensitivity"]["schemes"][0]["scheme"] == "mean"


@pytest.mark.filterwarnings("error")
def test_identical_models_give_equivalence_ties_and_null_stability_without_warnings():
    values = np.tile(np.random.default_rng(2).beta(8, 2, size=(40, 1)), (1, 3))
    analysis = analyze_metric(values, model_names=["a", "b", "c"], n_resamples=500, equivalence_margin=0.01)
    assert {comparison.verdict for comparison in analysis.pairwise} == {"equivalent"}
    assert analysis.ranking.tied_leaders == ("a", "b", "c")
    assert all(model.rank == 1 for model in analysis.ranking.models)
    assert analysis.power.n_for_power is None
    record = json.loads(json.dumps(analysis.as_dict(), allow_nan=False))
    assert record["ranking"]["kendall_tau_mean"] is None
