"""Training and evaluation targets: Dice from the metric core, on whole structures and on single slices."""

from __future__ import annotations

from typing import Sequence

import numpy as np

# Cells the metric core scores without an overlap value; 0/0 means nothing to correct, so its Dice is 1.
_BOTH_EMPTY = "both_empty"


def structure_dice(
    candidates: np.ndarray, reference: np.ndarray, *, spacing_zyx: Sequence[float]
) -> np.ndarray:
    """Dice of each candidate (N, z, y, x) against one reference (z, y, x), over the whole volume.

    Computed by ``metrics.score_masks`` (distances off); a pair where both masks are empty scores 1.
    """
    references = np.broadcast_to(reference, candidates.shape)
    return _dice(candidates, references, spacing_zyx=spacing_zyx)


def slice_dice(candidate: np.ndarray, reference: np.ndarray, *, slice_indices: Sequence[int]) -> np.ndarray:
    """Dice of the candidate against the reference on each listed z slice (the whole slice, never a crop)."""
    index = list(slice_indices)
    candidates = candidate[index][:, None]
    references = reference[index][:, None]
    return _dice(candidates, references, spacing_zyx=(1.0, 1.0, 1.0))


def _dice(candidates: np.ndarray, references: np.ndarray, *, spacing_zyx: Sequence[float]) -> np.ndarray:
    from ..metrics import score_masks

    names = [f"item_{i}" for i in range(candidates.shape[0])]
    scores = score_masks(
        np.ascontiguousarray(candidates, dtype=bool),
        np.ascontiguousarray(references, dtype=bool),
        spacing=tuple(float(s) for s in spacing_zyx),
        names=names,
        compute_distances=False,
        device="cpu",
    )
    return np.array([1.0 if score.status == _BOTH_EMPTY else float(score.dice) for score in scores])
