"""Fitting the fused model with scikit-learn (training only) and turning it into ``fusion`` arrays.

Two learners, chosen between by leave-one-patient-out error: scikit-learn's
``HistGradientBoostingRegressor`` (takes missing values natively; small trees, strong L2, many samples
per leaf, because a handful of patients give few independent examples) and a ridge model on
standardised features with missing indicators. scikit-learn is imported here only, never at run time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from .fusion import LinearFusion, TreeEnsemble

LEARNERS = ("trees", "linear")


# The learned ViT head's own value is left out of the fusion by default: out of patient, fusing it
# lowered Pearson (docs/estimator.md, "Which signals are fused"); it is still reported beside the estimate.
NOT_FUSED = ("head_dice", "head_dice_min")


@dataclass(frozen=True)
class FusionOptions:
    """The fusion learner and its settings; ``exclude`` names features kept out of the fusion."""

    learner: str = "trees"
    max_iter: int = 300
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 30
    l2_regularization: float = 1.0
    ridge_alpha: float = 3.0
    seed: int = 0
    exclude: tuple[str, ...] = NOT_FUSED

    def __post_init__(self) -> None:
        object.__setattr__(self, "exclude", tuple(self.exclude))

    def as_dict(self) -> dict:
        return {**asdict(self), "exclude": list(self.exclude)}


def fit_fusion(
    matrix: np.ndarray,
    target: np.ndarray,
    *,
    features: Sequence[str],
    weights: np.ndarray | None = None,
    options: FusionOptions = FusionOptions(),
):
    """A ``TreeEnsemble`` or ``LinearFusion`` fitted on (N, F) features and Dice targets.

    Columns with fewer than two distinct values (a signal no training row has) are left out of the
    model: they could not split anything, and scikit-learn's binning refuses them.
    """
    keep = [j for j in usable_columns(matrix) if features[j] not in options.exclude]
    matrix, features = matrix[:, keep], [features[j] for j in keep]
    if options.learner == "trees":
        return export_trees(fit_sklearn_trees(matrix, target, weights=weights, options=options), features)
    if options.learner == "linear":
        return _fit_linear(matrix, target, features=features, weights=weights, alpha=options.ridge_alpha)
    raise ValueError(f"unknown learner '{options.learner}' (one of {LEARNERS})")


def usable_columns(matrix: np.ndarray) -> list[int]:
    """Columns with at least two distinct finite values."""
    return [j for j in range(matrix.shape[1]) if np.unique(matrix[np.isfinite(matrix[:, j]), j]).size >= 2]


def fit_sklearn_trees(matrix, target, *, weights=None, options: FusionOptions = FusionOptions()):
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(
        loss="squared_error",
        max_iter=options.max_iter,
        learning_rate=options.learning_rate,
        max_leaf_nodes=options.max_leaf_nodes,
        min_samples_leaf=options.min_samples_leaf,
        l2_regularization=options.l2_regularization,
        early_stopping=False,
        random_state=options.seed,
    )
    return model.fit(matrix, target, sample_weight=weights)


def export_trees(model, features: Sequence[str]) -> TreeEnsemble:
    """The fitted trees' node arrays (one regression tree per boosting iteration) as a ``TreeEnsemble``."""
    parts = {k: [] for k in ("feature", "threshold", "missing_left", "left", "right", "is_leaf", "value")}
    roots, offset = [], 0
    for iteration in model._predictors:
        nodes = iteration[0].nodes
        roots.append(offset)
        parts["feature"].append(nodes["feature_idx"])
        parts["threshold"].append(nodes["num_threshold"])
        parts["missing_left"].append(nodes["missing_go_to_left"])
        parts["left"].append(nodes["left"].astype(np.int64) + offset)
        parts["right"].append(nodes["right"].astype(np.int64) + offset)
        parts["is_leaf"].append(nodes["is_leaf"])
        parts["value"].append(nodes["value"])
        offset += len(nodes)
    arrays = {k: np.concatenate(v) for k, v in parts.items()}
    arrays["roots"] = np.asarray(roots)
    baseline = float(np.ravel(model._baseline_prediction)[0])
    return TreeEnsemble.from_arrays(arrays, features=features, baseline=baseline)


def _fit_linear(matrix, target, *, features, weights, alpha: float) -> LinearFusion:
    from sklearn.linear_model import Ridge

    missing = np.isnan(matrix)
    mean = np.nanmean(np.where(missing.all(axis=0), 0.0, matrix), axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    scale = np.nanstd(matrix, axis=0)
    scale = np.where(np.isfinite(scale) & (scale > 1e-9), scale, 1.0)
    standard = np.where(missing, 0.0, (matrix - mean) / scale)
    design = np.hstack([standard, missing.astype(float)])
    ridge = Ridge(alpha=alpha).fit(design, target, sample_weight=weights)
    count = matrix.shape[1]
    return LinearFusion(
        features=tuple(features),
        mean=mean,
        scale=scale,
        coefficients=ridge.coef_[:count].copy(),
        missing_coefficients=ridge.coef_[count:].copy(),
        intercept=float(ridge.intercept_),
    )
