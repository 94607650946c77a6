"""Signal e: the fused model, as plain arrays with a numpy predictor (no pickle, no scikit-learn at run time).

The fusion is fitted with scikit-learn (``fusion_fit``) and shipped as numbers: a gradient-boosted tree
ensemble as its nodes (feature, threshold, which side missing values take, children, leaf values), or
a ridge model as its standardisation and coefficients. Both read whichever signals a case has: a
missing signal is NaN, which the trees route as they learned to and the linear model replaces by its
training mean plus a missing-indicator term. ``predict`` equals scikit-learn's to float rounding
(tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .signals import SIGNAL_FEATURES

FUSION_FEATURES: tuple[str, ...] = (
    *SIGNAL_FEATURES["classical"],
    *SIGNAL_FEATURES["agreement"],
    *SIGNAL_FEATURES["medsam"],
    *SIGNAL_FEATURES["vit_head"],
)


def feature_matrix(rows: Sequence[Mapping[str, float]], features: Sequence[str]) -> np.ndarray:
    """(N, F) float64 matrix of ``features`` from row mappings; absent or None values are NaN."""
    matrix = np.full((len(rows), len(features)), np.nan)
    for i, row in enumerate(rows):
        for j, name in enumerate(features):
            value = row.get(name)
            if value is not None:
                matrix[i, j] = float(value)
    return matrix


@dataclass(frozen=True)
class TreeEnsemble:
    """Boosted regression trees as flat node arrays; tree t starts at node ``roots[t]``.

    At a split node a value goes left when ``x <= threshold``, a NaN goes left when ``missing_left``
    (scikit-learn's HistGradientBoosting rule). The prediction is ``baseline`` plus the leaf values.
    """

    features: tuple[str, ...]
    baseline: float
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    is_leaf: np.ndarray
    value: np.ndarray
    roots: np.ndarray

    kind = "trees"

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        matrix = np.asarray(matrix, dtype=np.float64)
        nodes = np.broadcast_to(self.roots, (matrix.shape[0], self.roots.size)).copy()
        rows = np.arange(matrix.shape[0])[:, None]
        while True:
            active = ~self.is_leaf[nodes]
            if not active.any():
                break
            values = matrix[rows, self.feature[nodes]]
            go_left = np.where(np.isnan(values), self.missing_left[nodes], values <= self.threshold[nodes])
            nodes = np.where(active, np.where(go_left, self.left[nodes], self.right[nodes]), nodes)
        return self.baseline + self.value[nodes].sum(axis=1)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "feature": self.feature.astype(np.int32),
            "threshold": self.threshold.astype(np.float64),
            "missing_left": self.missing_left.astype(np.uint8),
            "left": self.left.astype(np.int32),
            "right": self.right.astype(np.int32),
            "is_leaf": self.is_leaf.astype(np.uint8),
            "value": self.value.astype(np.float64),
            "roots": self.roots.astype(np.int32),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], *, features, baseline: float) -> TreeEnsemble:
        return cls(
            features=tuple(features),
            baseline=float(baseline),
            feature=np.asarray(arrays["feature"], np.int64),
            threshold=np.asarray(arrays["threshold"], np.float64),
            missing_left=np.asarray(arrays["missing_left"]).astype(bool),
            left=np.asarray(arrays["left"], np.int64),
            right=np.asarray(arrays["right"], np.int64),
            is_leaf=np.asarray(arrays["is_leaf"]).astype(bool),
            value=np.asarray(arrays["value"], np.float64),
            roots=np.asarray(arrays["roots"], np.int64),
        )


@dataclass(frozen=True)
class LinearFusion:
    """Ridge regression on standardised features plus one missing-indicator coefficient per feature."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coefficients: np.ndarray
    missing_coefficients: np.ndarray
    intercept: float

    kind = "linear"

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        matrix = np.asarray(matrix, dtype=np.float64)
        missing = np.isnan(matrix)
        standard = np.where(missing, 0.0, (matrix - self.mean) / self.scale)
        return self.intercept + standard @ self.coefficients + missing @ self.missing_coefficients

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "mean": self.mean,
            "scale": self.scale,
            "coefficients": self.coefficients,
            "missing_coefficients": self.missing_coefficients,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], *, features, intercept: float) -> LinearFusion:
        return cls(
            features=tuple(features),
            mean=np.asarray(arrays["mean"], np.float64),
            scale=np.asarray(arrays["scale"], np.float64),
            coefficients=np.asarray(arrays["coefficients"], np.float64),
            missing_coefficients=np.asarray(arrays["missing_coefficients"], np.float64),
            intercept=float(intercept),
        )


def predict_dice(model, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
    """The fused model's Dice for row mappings, clipped to [0, 1]."""
    return np.clip(model.predict(feature_matrix(rows, model.features)), 0.0, 1.0)
