"""The estimator's signals, one module each, every one usable and evaluated alone before fusion:

- ``vit_head`` (a): a learned head on LiteMedSAM's frozen TinyViT embeddings of full slices;
- ``second_opinion`` (b): LiteMedSAM re-segments from the candidate's boxes; agreement is the signal;
- ``agreement`` (c): Dice against other segmentations, or test-time augmented runs;
- ``classical`` (d): training-free quality control and per-name priors.

Each module names its feature columns in ``FEATURES``; ``SIGNAL_FEATURES`` maps signal -> columns.
"""

from __future__ import annotations

from . import agreement, classical, second_opinion, vit_head

SIGNAL_FEATURES = {
    "vit_head": vit_head.FEATURES,
    "medsam": second_opinion.FEATURES,
    "agreement": agreement.FEATURES,
    "classical": classical.FEATURES,
}

__all__ = ["SIGNAL_FEATURES", "agreement", "classical", "second_opinion", "vit_head"]
