"""Review items: one row per structure with its predicted quality, flag, true metrics and decision."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from enum import Enum
from typing import Any, Iterable, Mapping, Sequence

from ..errors import SegQualityError


class ReviewRecordError(SegQualityError):
    """A review record (a table row, a JSON item or a decision) is malformed."""


class Flag(str, Enum):
    """How urgently a structure needs a human look, from its predicted (or true) Dice."""

    BELOW_THRESHOLD = "below_threshold"
    BORDERLINE = "borderline"
    FINE = "fine"
    UNKNOWN = "unknown"


class Decision(str, Enum):
    """What the reviewer decided about a structure."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NEEDS_EDIT = "needs_edit"


@dataclass(frozen=True)
class ReviewItem:
    """One structure under review.

    ``predicted_dice`` and its interval come from the ground-truth-free estimator (None when it did not
    run); ``true_*`` from the metric core when a reference segmentation was given. ``worst_slice`` is a
    z index of the (z, y, x) array: the slice the reviewer is sent to first.
    """

    structure: str
    flag: Flag
    predicted_dice: float | None = None
    interval_low: float | None = None
    interval_high: float | None = None
    worst_slice: int | None = None
    true_dice: float | None = None
    true_hd95_mm: float | None = None
    true_nsd: float | None = None
    metric_status: str = ""
    failure_mode: str = ""
    decision: Decision = Decision.PENDING
    note: str = ""
    reviewer: str = ""
    decided_at: str = ""

    @property
    def quality(self) -> float | None:
        """The number the review is sorted and flagged by: predicted Dice, else true Dice."""
        return self.predicted_dice if self.predicted_dice is not None else self.true_dice

    @property
    def needs_review(self) -> bool:
        """Below the threshold and not decided yet."""
        return self.flag is Flag.BELOW_THRESHOLD and self.decision is Decision.PENDING

    def as_row(self) -> dict[str, str]:
        """The item as strings (a CSV or MRML table row); empty cells for missing numbers."""
        row = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, Enum):
                row[field.name] = value.value
            elif value is None:
                row[field.name] = ""
            elif isinstance(value, float):
                row[field.name] = repr(value)
            else:
                row[field.name] = str(value)
        return row

    def as_dict(self) -> dict[str, Any]:
        """The item as JSON-ready values (None for missing numbers)."""
        return {
            field.name: (lambda v: v.value if isinstance(v, Enum) else v)(getattr(self, field.name))
            for field in fields(self)
        }

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, source: str = "review record") -> ReviewItem:
        """Rebuild an item from ``as_row`` or ``as_dict`` output (columns it does not know are ignored)."""
        if not str(values.get("structure", "")).strip():
            raise ReviewRecordError(f"{source}: a row has no structure name")
        name = values["structure"]
        try:
            return cls(
                structure=str(name),
                flag=Flag(values.get("flag") or Flag.UNKNOWN.value),
                predicted_dice=_number(values.get("predicted_dice")),
                interval_low=_number(values.get("interval_low")),
                interval_high=_number(values.get("interval_high")),
                worst_slice=_integer(values.get("worst_slice")),
                true_dice=_number(values.get("true_dice")),
                true_hd95_mm=_number(values.get("true_hd95_mm")),
                true_nsd=_number(values.get("true_nsd")),
                metric_status=str(values.get("metric_status") or ""),
                failure_mode=str(values.get("failure_mode") or ""),
                decision=Decision(values.get("decision") or Decision.PENDING.value),
                note=str(values.get("note") or ""),
                reviewer=str(values.get("reviewer") or ""),
                decided_at=str(values.get("decided_at") or ""),
            )
        except ValueError as error:
            raise ReviewRecordError(f"{source}: structure '{name}': {error}") from None


COLUMNS: tuple[str, ...] = tuple(field.name for field in fields(ReviewItem))


def flag_for(
    quality: float | None,
    *,
    threshold: float,
    interval_low: float | None = None,
    borderline_margin: float = 0.05,
) -> Flag:
    """Below the threshold, borderline (within ``borderline_margin`` above it, or its interval reaches
    below it), fine, or unknown when there is no number to judge by."""
    if quality is None or math.isnan(quality):
        return Flag.UNKNOWN
    if quality < threshold:
        return Flag.BELOW_THRESHOLD
    if quality < threshold + borderline_margin or (interval_low is not None and interval_low < threshold):
        return Flag.BORDERLINE
    return Flag.FINE


def build_items(
    *,
    estimates: Iterable[Any] = (),
    scores: Iterable[Any] = (),
    worst_slices: Mapping[str, int] | None = None,
    threshold: float = 0.7,
    borderline_margin: float = 0.05,
) -> list[ReviewItem]:
    """Merge estimator output (``QualityEstimate``-like) and metric scores (``StructureScore``-like) by
    structure name into review items, worst first.

    ``worst_slices`` fills in the slice to show for structures the estimator did not give one for.
    """
    by_name: dict[str, dict[str, Any]] = {}
    for estimate in estimates:
        by_name.setdefault(estimate.structure, {}).update(
            predicted_dice=_number(estimate.predicted_dice),
            interval_low=_number(estimate.interval_low),
            interval_high=_number(estimate.interval_high),
            worst_slice=_integer(estimate.worst_slice),
        )
    for score in scores:
        by_name.setdefault(score.structure, {}).update(
            true_dice=_number(score.dice),
            true_hd95_mm=_number(score.hd95),
            true_nsd=_number(score.nsd),
            metric_status=str(score.status),
            failure_mode=str(score.failure_mode or ""),
        )
    items = []
    for name, values in by_name.items():
        if values.get("worst_slice") is None and worst_slices and name in worst_slices:
            values["worst_slice"] = int(worst_slices[name])
        quality = values.get("predicted_dice")
        if quality is None:
            quality = values.get("true_dice")
        flag = flag_for(
            quality,
            threshold=threshold,
            interval_low=values.get("interval_low"),
            borderline_margin=borderline_margin,
        )
        items.append(ReviewItem(structure=name, flag=flag, **values))
    return sort_items(items)


def sort_items(items: Sequence[ReviewItem]) -> list[ReviewItem]:
    """Worst predicted quality first; structures without a number last, by name."""
    return sorted(items, key=lambda item: (item.quality is None, item.quality or 0.0, item.structure))


def reflag(
    items: Sequence[ReviewItem], *, threshold: float, borderline_margin: float = 0.05
) -> list[ReviewItem]:
    """The same items flagged against a new threshold (decisions are kept)."""
    return [
        replace(
            item,
            flag=flag_for(
                item.quality,
                threshold=threshold,
                interval_low=item.interval_low,
                borderline_margin=borderline_margin,
            ),
        )
        for item in items
    ]


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _integer(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(float(value))
