"""Signal c: agreement with other segmentations of the same structure (other models, or test-time
augmented runs of the same model), as Dice over the whole structure.

Several plausible segmentations that agree are rarely all wrong in the same way; one that disagrees
with the rest is worth a look. The fusion learns how far to trust this (mixing it 0.5/0.5 with a
network's value, as the estimator did before, made the error worse), and it is missing, not zero,
when no other segmentation declares the structure.

Test-time agreement (``tta_dice_mean``: the candidate against augmented runs of its own segmenter) is
measured and reported beside the estimate, but not fused: no training case has such runs, so the
fusion could only ignore it.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..crops import StructureCrop, crop_dice

FEATURES = ("agr_dice_mean", "agr_dice_min", "agr_count", "agr_log_volume_ratio")
REPORTED = ("tta_dice_mean",)


def agreement_features(
    candidate: StructureCrop,
    others: Sequence[StructureCrop],
    *,
    augmented: Sequence[StructureCrop] = (),
) -> dict[str, float]:
    """Dice of the candidate against each other segmentation that declares the structure (an empty one
    counts: Dice 0), their mean and minimum, how many there are, and the log10 ratio of the candidate's
    volume to theirs; ``tta_dice_mean`` from the augmented runs of the candidate's own segmenter."""
    features = dict.fromkeys(FEATURES + REPORTED, math.nan)
    if others:
        dice = np.array([crop_dice(candidate, other) for other in others])
        volumes = np.array([max(1, other.voxels) for other in others], float)
        features.update(
            agr_dice_mean=float(dice.mean()),
            agr_dice_min=float(dice.min()),
            agr_count=float(len(others)),
            agr_log_volume_ratio=float(math.log10(max(1, candidate.voxels) / volumes.mean())),
        )
    if augmented:
        features["tta_dice_mean"] = float(np.mean([crop_dice(candidate, run) for run in augmented]))
    return features
