"""Ground-truth-free segmentation quality: predicted Dice per structure, its interval, and where to look.

Public API::

    estimate_quality(volume, structures, *, threshold=0.7, weights=None, device="auto",
                     other_segmentations=(), modality="auto", progress=None) -> list[QualityEstimate]
    QualityEstimate(structure, predicted_dice, interval_low, interval_high, flagged, worst_slice, slice_scores)
    load_bundle(path=None) -> EstimatorBundle      (None: the shipped weights, DEFAULT_WEIGHTS)
    EncodingConfig, encode_structure                (the network input, documented in docs/estimator.md)

A timm network (shipped: EfficientNet-Lite0) scores 2D slices of each structure (cropped around the
candidate mask); slice scores are aggregated to one Dice, mapped by the weights' monotone calibration,
optionally fused with inter-model agreement, and given a split-conformal interval. Training, fine-tuning
(``init_weights``) and evaluation: ``pipeline.train_estimator`` / ``evaluate_estimator``.
"""

from .encoding import EncodingConfig, encode_structure
from .estimator import QualityEstimate, estimate_quality
from .weights import DEFAULT_WEIGHTS, EstimatorBundle, load_bundle

__all__ = [
    "DEFAULT_WEIGHTS",
    "EncodingConfig",
    "EstimatorBundle",
    "QualityEstimate",
    "encode_structure",
    "estimate_quality",
    "load_bundle",
]
