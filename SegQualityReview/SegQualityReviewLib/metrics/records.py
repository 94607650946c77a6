"""The per-structure score record, its statuses and failure modes."""

from __future__ import annotations

from dataclasses import asdict, dataclass

STATUSES = ("ok", "empty_gt", "empty_pred", "both_empty", "not_supported", "failed")
FAILURE_MODES = (
    "missed",
    "hallucinated",
    "disjoint",
    "distant_false_positive",
    "fragmented",
    "boundary_bias",
    "",
)

DISTANCE_FIELDS = ("hd", "hd95", "nsd", "assd", "masd")


@dataclass(frozen=True)
class StructureScore:
    """Metrics of one structure of a prediction against the reference; NaN where a value is undefined.

    Distances are in mm, volumes in ml, ``nsd`` is a fraction. ``status`` says which empty-mask rule
    applied (docs/metrics.md); ``failure_mode`` is one of ``FAILURE_MODES`` ("" for none).
    """

    structure: str
    status: str
    failure_mode: str
    dice: float
    iou: float
    precision: float
    recall: float
    hd: float
    hd95: float
    nsd: float
    assd: float
    masd: float
    volume_pred_ml: float
    volume_gt_ml: float
    volume_diff_ml: float

    def as_row(self) -> dict[str, object]:
        """The record as one CSV row, columns in field order."""
        return asdict(self)
