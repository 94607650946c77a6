"""The fused model ships as arrays: its numpy predictor equals scikit-learn's on real features, with
missing signals, and both learners fit and predict the same rows."""

from __future__ import annotations

import numpy as np
import pytest

from SegQualityReviewLib.quality.crossval import expand
from SegQualityReviewLib.quality.fusion import FUSION_FEATURES, TreeEnsemble, feature_matrix
from SegQualityReviewLib.quality.fusion_fit import (
    FusionOptions,
    export_trees,
    fit_fusion,
    fit_sklearn_trees,
    usable_columns,
)


@pytest.fixture(scope="module")
def real_matrix(classical_tables):
    rows = [dict(r) for t in classical_tables for r in t.rows if t.role == "train"]
    matrix, target, weights = expand(rows, FUSION_FEATURES)
    return matrix, target, weights


def test_exported_trees_predict_exactly_what_scikit_learn_predicts(real_matrix):
    matrix, target, weights = real_matrix
    matrix = matrix[:, usable_columns(matrix)]
    model = fit_sklearn_trees(matrix, target, weights=weights, options=FusionOptions(min_samples_leaf=5))
    exported = export_trees(model, [f"f{j}" for j in range(matrix.shape[1])])
    probe = matrix.copy()
    probe[::3, 5] = np.nan  # missing values where training had none go where scikit-learn sends them
    assert np.allclose(exported.predict(probe), model.predict(probe), atol=1e-12)
    assert np.ptp(exported.predict(matrix)) > 0.1


def test_tree_arrays_round_trip(real_matrix):
    matrix, target, weights = real_matrix
    fused = fit_fusion(
        matrix, target, features=FUSION_FEATURES, weights=weights, options=FusionOptions(min_samples_leaf=5)
    )
    again = TreeEnsemble.from_arrays(fused.arrays(), features=fused.features, baseline=fused.baseline)
    assert np.array_equal(
        again.predict(feature_matrix([{}], fused.features)),
        fused.predict(feature_matrix([{}], fused.features)),
    )


def test_the_linear_learner_reads_missing_signals_through_indicators(real_matrix):
    matrix, target, weights = real_matrix
    linear = fit_fusion(
        matrix, target, features=FUSION_FEATURES, weights=weights, options=FusionOptions(learner="linear")
    )
    predicted = linear.predict(feature_matrix([{}], linear.features))
    assert np.isfinite(predicted).all()
    assert (
        np.corrcoef(linear.predict(matrix[:, [FUSION_FEATURES.index(f) for f in linear.features]]), target)[
            0, 1
        ]
        > 0.3
    )


def test_a_column_no_row_has_is_left_out_of_the_model(real_matrix):
    matrix, target, weights = real_matrix
    fused = fit_fusion(matrix, target, features=FUSION_FEATURES, weights=weights)
    assert "head_dice" not in fused.features and "ms_dice" not in fused.features
    assert "qc_edge_alignment" in fused.features
