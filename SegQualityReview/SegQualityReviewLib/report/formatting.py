"""How numbers, intervals, metrics and methods are written in the report: the jinja2 filters and labels."""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

# The interval method of each number, in the reader's words (results.json keeps the short names).
METHOD_LABELS = {
    "t": "t interval",
    "bca": "BCa bootstrap",
    "bootstrap_t": "bootstrap-t",
    "percentile": "percentile bootstrap",
    "wilson": "Wilson",
    "sign_flip_inversion": "sign-flip test inverted",
    "signed_rank_inversion": "signed-rank test inverted (Hodges-Lehmann)",
    "none": "no interval",
}
INVERSION_METHODS = ("sign_flip_inversion", "signed_rank_inversion")
METRIC_NAMES = {
    "dice": "Dice",
    "iou": "IoU",
    "precision": "precision",
    "recall": "recall",
    "nsd": "NSD",
    "hd": "HD",
    "hd95": "HD95",
    "assd": "ASSD",
    "masd": "MASD",
    "volume_pred_ml": "predicted volume",
    "volume_gt_ml": "reference volume",
    "volume_diff_ml": "volume difference",
}
VERDICT_LABELS = {
    "a_better": "{a} better",
    "b_better": "{b} better",
    "equivalent": "equivalent",
    "not_separable": "not separable",
}


def format_number(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals (one above 100); an em dash for a missing one.

    Anything smaller in magnitude than half the last shown decimal prints as 0 (a Wilson bound of 5.55e-17
    is 0), never in exponent notation; huge values get thousands separators.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2014"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if math.isinf(value):
        return "\u221e" if value > 0 else "\u2212\u221e"
    if abs(value) < 0.5 * 10**-digits:
        value = 0.0
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.{digits}f}"


def format_p_value(value: Any) -> str:
    """A p-value: three decimals, ``<0.001`` below."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2014"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def format_interval(interval: Optional[Mapping[str, Any]], digits: int = 3) -> str:
    """``estimate [low, high]``; an end clipped to the metric's range marked with a double dagger, an end no
    test at that level can bound written as an infinity; just the estimate when it has no interval."""
    if not interval:
        return "\u2014"
    estimate = format_number(interval.get("estimate"), digits)
    if interval.get("method") in (None, "none"):
        return estimate
    clipped = interval.get("clipped") or {}
    ends = []
    for end, infinity in (("low", "\u2212\u221e"), ("high", "\u221e")):
        value = interval.get(end)
        unbounded = value is None or end in clipped and clipped[end] is None
        text = infinity if value is None else format_number(value, digits)
        if end in clipped:
            text += "\u2021"
        elif unbounded:
            text = infinity
        ends.append(text)
    return f"{estimate} [{ends[0]}, {ends[1]}]"


def format_level(level: Any) -> str:
    """A confidence level as a percentage with the decimals it needs (95%, 99.7%, 99.71%)."""
    if level is None:
        return "\u2014"
    percent = 100.0 * float(level)
    for decimals in range(0, 4):
        if abs(round(percent, decimals) - percent) < 1e-9:
            return f"{percent:.{decimals}f}%"
    return f"{percent:.3f}%"


def method_label(method: Optional[str]) -> str:
    return METHOD_LABELS.get(method or "none", method or "")


def metric_label(metric: str, *, unit: str = "", nsd_tolerance_mm: Optional[float] = None) -> str:
    """``Dice``, ``HD95 (mm)``, ``NSD @ 2 mm``: the name every header and axis uses."""
    name = METRIC_NAMES.get(metric, metric)
    if metric == "nsd":
        return (
            f"{name} @ {format_number(nsd_tolerance_mm, 1)} mm"
            if nsd_tolerance_mm
            else f"{name} (tolerance not recorded)"
        )
    return f"{name} ({unit})" if unit else name


def verdict_label(pair: Mapping[str, Any]) -> str:
    return VERDICT_LABELS[pair["verdict"]].format(a=pair["model_a"], b=pair["model_b"])
