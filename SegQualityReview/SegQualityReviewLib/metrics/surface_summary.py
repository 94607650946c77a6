"""Every surface-distance metric of one structure, from the two directed distance arrays and their weights."""

from __future__ import annotations

from dataclasses import dataclass

import torch

HD95_VARIANTS = ("max", "pooled")


@dataclass(frozen=True)
class DistanceSummary:
    """Surface metrics in mm (``nsd`` is a fraction in [0, 1])."""

    hd: float
    hd95: float
    nsd: float
    assd: float
    masd: float


def summarize_distances(
    gt_to_pred: torch.Tensor,
    gt_weights: torch.Tensor,
    pred_to_gt: torch.Tensor,
    pred_weights: torch.Tensor,
    *,
    nsd_tolerance_mm: float,
    hd95: str,
    weighted_percentile: bool,
) -> DistanceSummary:
    """HD, HD95, NSD at ``nsd_tolerance_mm`` (``<=``), ASSD (pooled mean) and MASD (mean of directed means).

    ``hd95`` "max" takes the larger of the two directed 95th percentiles; "pooled" the 95th percentile of
    both directions together. ``weighted_percentile`` selects the area-weighted percentile of DeepMind
    surface-distance (surfel mode); otherwise the linearly interpolated percentile of numpy and MONAI.
    """
    percentile = _weighted_percentile if weighted_percentile else _interpolated_percentile
    if hd95 == "max":
        hd95_mm = max(percentile(gt_to_pred, gt_weights, 0.95), percentile(pred_to_gt, pred_weights, 0.95))
    else:
        hd95_mm = percentile(torch.cat([gt_to_pred, pred_to_gt]), torch.cat([gt_weights, pred_weights]), 0.95)
    gt_area, pred_area = gt_weights.sum(), pred_weights.sum()
    within = (
        gt_weights[gt_to_pred <= nsd_tolerance_mm].sum() + pred_weights[pred_to_gt <= nsd_tolerance_mm].sum()
    )
    gt_sum, pred_sum = (gt_to_pred * gt_weights).sum(), (pred_to_gt * pred_weights).sum()
    return DistanceSummary(
        hd=float(torch.maximum(gt_to_pred.max(), pred_to_gt.max())),
        hd95=float(hd95_mm),
        nsd=float(within / (gt_area + pred_area)),
        assd=float((gt_sum + pred_sum) / (gt_area + pred_area)),
        masd=float(0.5 * (gt_sum / gt_area + pred_sum / pred_area)),
    )


def _weighted_percentile(distances: torch.Tensor, weights: torch.Tensor, fraction: float) -> float:
    """Smallest distance whose cumulative weight share reaches ``fraction`` (DeepMind's robust Hausdorff)."""
    order = torch.argsort(distances)
    shares = torch.cumsum(weights[order], dim=0) / weights.sum()
    index = torch.searchsorted(shares, torch.tensor([fraction], dtype=shares.dtype, device=shares.device))
    return float(distances[order][min(int(index), distances.shape[0] - 1)])


def _interpolated_percentile(distances: torch.Tensor, weights: torch.Tensor, fraction: float) -> float:
    """Linear interpolation between order statistics, as numpy.percentile; avoids torch.quantile's 2^24 limit."""
    ordered = torch.sort(distances).values
    position = fraction * (ordered.shape[0] - 1)
    lower = int(position)
    upper = min(lower + 1, ordered.shape[0] - 1)
    return float(ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower))
