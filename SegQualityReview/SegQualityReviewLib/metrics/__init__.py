"""Segmentation metrics per structure on torch tensors (cuda when available, else cpu).

Public API::

    score_structure_sets(pred, gt, *, nsd_tolerance_mm=2.0, surface="surfel", hd95="max",
                         device="auto", compute_distances=True) -> list[StructureScore]
    score_masks(pred, gt, *, spacing, names, ...same options) -> list[StructureScore]
    StructureScore, STATUSES, FAILURE_MODES, MetricInputError

Dice, IoU, precision, recall, HD, HD95, NSD, ASSD, MASD and volumes in ml, with an explicit status per
structure for empty masks and a failure mode. Definitions and peer differences: docs/metrics.md.
"""

from .options import MetricInputError
from .records import FAILURE_MODES, STATUSES, StructureScore
from .scoring import score_masks, score_structure_sets

__all__ = [
    "FAILURE_MODES",
    "STATUSES",
    "MetricInputError",
    "StructureScore",
    "score_masks",
    "score_structure_sets",
]
