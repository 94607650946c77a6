"""The range each scored metric can take, and intervals clipped into it.

A t-interval on a few patients (or a BCa one) can reach past a bound the metric cannot cross, e.g. a Dice
interval up to 1.014. Reported ends are clipped to the range and the values before clipping are kept
beside them, so nothing is hidden and reanalyze recomputes the same clipped numbers.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Optional, Tuple

import numpy as np
import pandas as pd

# Interval methods whose infinite end means "no value on that side can be rejected" (stats.records).
INVERSION_METHODS = ("sign_flip_inversion", "signed_rank_inversion")
# (lowest, highest) value of a metric; None where it has no bound on that side.
ValueRange = Tuple[Optional[float], Optional[float]]

_UNIT = (0.0, 1.0)
_NON_NEGATIVE = (0.0, None)
# The metric core's metrics (metrics/records.py); volume_diff_ml is signed (prediction - reference).
NATURAL_RANGES: dict[str, ValueRange] = {
    "dice": _UNIT,
    "iou": _UNIT,
    "precision": _UNIT,
    "recall": _UNIT,
    "nsd": _UNIT,
    "hd": _NON_NEGATIVE,
    "hd95": _NON_NEGATIVE,
    "assd": _NON_NEGATIVE,
    "masd": _NON_NEGATIVE,
    "volume_pred_ml": _NON_NEGATIVE,
    "volume_gt_ml": _NON_NEGATIVE,
}


def table_value_ranges(table: pd.DataFrame, metrics: Iterable[str]) -> dict[str, ValueRange | None]:
    """The natural range of each metric, or None when it has none or the table's values leave it.

    A table from elsewhere may hold, say, Dice in percent under the name ``dice``: clipping it to [0, 1]
    would be wrong, so a metric with any value outside its natural range is not clipped at all.
    """
    ranges: dict[str, ValueRange | None] = {}
    for metric in metrics:
        natural = NATURAL_RANGES.get(metric)
        values = table.loc[table["metric"] == metric, "value"].to_numpy(dtype=float)
        ranges[metric] = natural if natural is not None and _within(values, natural) else None
    return ranges


def difference_range(value_range: ValueRange | None) -> ValueRange | None:
    """The range of a paired difference of a bounded metric (``[-1, 1]`` for Dice); None when unbounded."""
    if value_range is None or value_range[0] is None or value_range[1] is None:
        return None
    width = value_range[1] - value_range[0]
    return (-width, width)


def clip_interval(interval: Mapping[str, Any], value_range: ValueRange | None) -> dict[str, Any]:
    """An interval dict with its ends inside ``value_range`` and ``clipped``: {end: value before clipping}.

    An inverted test's end that no value can bound is infinite (``null`` in the JSON record): clipped to
    the range when the metric has a bound there (``clipped`` then records ``null``), else left ``null``.
    """
    lowest, highest = value_range or (None, None)
    result = dict(interval)
    moved: dict[str, Any] = {}
    unbounded = interval.get("method") in INVERSION_METHODS
    for end, infinity in (("low", -math.inf), ("high", math.inf)):
        value = interval.get(end)
        if value is None:
            if not unbounded:
                continue
            value = infinity
        inside = value if lowest is None else max(value, lowest)
        inside = inside if highest is None else min(inside, highest)
        if inside != value:
            moved[end] = None if math.isinf(value) else value
        result[end] = None if math.isinf(inside) else inside
    result["clipped"] = moved
    return result


def _within(values: np.ndarray, value_range: ValueRange) -> bool:
    finite = values[np.isfinite(values)]
    lowest, highest = value_range
    return bool(
        (lowest is None or (finite >= lowest).all()) and (highest is None or (finite <= highest).all())
    )
