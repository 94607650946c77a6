"""Ground-truth-free segmentation quality: predicted Dice per structure, its interval, and where to look.

Public API::

    estimate_quality(volume, structures, *, threshold=0.7, weights=None, device="auto",
                     other_segmentations=(), modality="auto", progress=None, channels=None,
                     sequence=None, mode="default", augmented_segmentations=(), cache_folder=None)
        -> list[QualityEstimate]
    estimate_files(*, image, segmentation, label_map=None, channels=None, sequence=None,
                   other_segmentations=(), other_label_map=None, **options) -> list[QualityEstimate]
    QualityEstimate(structure, predicted_dice, interval_low, interval_high, flagged, worst_slice,
                    slice_scores, status, signals)
    load_bundle(path=None) -> EstimatorBundle      (None: the shipped weights, DEFAULT_WEIGHTS)

Signals (``signals``): a ViT head on LiteMedSAM's frozen TinyViT embeddings of full slices, the MedSAM
second opinion from the candidate's boxes, agreement with other segmentations, classical QC with
per-name priors; fused by a gradient-boosted tree model shipped as arrays (``fusion``), calibrated and
given a split-conformal interval per signal set (``calibration``). Training and leave-one-patient-out
evaluation: ``pipeline.train_and_evaluate``. Model card: docs/estimator.md.
"""

from .estimator import MODES, QualityEstimate, estimate_quality
from .files import estimate_files
from .weights import DEFAULT_WEIGHTS, EstimatorBundle, load_bundle

__all__ = [
    "DEFAULT_WEIGHTS",
    "MODES",
    "EstimatorBundle",
    "QualityEstimate",
    "estimate_files",
    "estimate_quality",
    "load_bundle",
]
