"""Every surface-distance metric of a set of structures, from the two directed distance arrays and weights.

The points of several structures come together, each labelled with its structure's index; each
structure's points are laid out as one row of a padded (structures, points) table, so every metric of
every structure comes from a handful of tensor operations whatever the number of structures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

HD95_VARIANTS = ("max", "pooled")
PERCENTILE = 0.95


@dataclass(frozen=True)
class DistanceSummary:
    """Surface metrics in mm (``nsd`` is a fraction in [0, 1])."""

    hd: float
    hd95: float
    nsd: float
    assd: float
    masd: float


@dataclass(frozen=True)
class Directed:
    """Distances from one side's surface points to the other side's surface, with the points' weights and
    the index of their structure (non-decreasing: points come structure by structure)."""

    distances: torch.Tensor
    weights: torch.Tensor
    structures: torch.Tensor


def summarize_distances(
    gt_to_pred: Directed,
    pred_to_gt: Directed,
    *,
    nsd_tolerances_mm: Sequence[float],
    hd95: str,
    weighted_percentile: bool,
) -> list[DistanceSummary]:
    """HD, HD95, NSD at each structure's tolerance (``<=``), ASSD (pooled mean) and MASD (mean of the
    directed means) for each of ``len(nsd_tolerances_mm)`` structures, every one with points on both sides.

    ``hd95`` "max" takes the larger of the two directed 95th percentiles; "pooled" the 95th percentile of
    both directions together. ``weighted_percentile`` selects the area-weighted percentile of DeepMind
    surface-distance (surfel mode); otherwise the linearly interpolated percentile of numpy and MONAI.
    """
    count = len(nsd_tolerances_mm)
    gt_rows, pred_rows = _Rows.of(gt_to_pred, count), _Rows.of(pred_to_gt, count)
    percentile = _Rows.weighted_percentile if weighted_percentile else _Rows.interpolated_percentile
    if hd95 == "max":
        hd95_mm = torch.maximum(percentile(gt_rows), percentile(pred_rows))
    else:
        hd95_mm = percentile(gt_rows.joined(pred_rows))
    tolerance = torch.tensor(nsd_tolerances_mm, dtype=torch.float64, device=gt_rows.distances.device)[:, None]
    gt_area, pred_area = gt_rows.weights.sum(dim=1), pred_rows.weights.sum(dim=1)
    within = gt_rows.weight_where(gt_rows.distances <= tolerance) + pred_rows.weight_where(
        pred_rows.distances <= tolerance
    )
    gt_sum, pred_sum = gt_rows.weighted_sum(), pred_rows.weighted_sum()
    columns = {
        "hd": torch.maximum(gt_rows.largest(), pred_rows.largest()),
        "hd95": hd95_mm,
        "nsd": within / (gt_area + pred_area),
        "assd": (gt_sum + pred_sum) / (gt_area + pred_area),
        "masd": 0.5 * (gt_sum / gt_area + pred_sum / pred_area),
    }
    values = {name: column.tolist() for name, column in columns.items()}
    return [DistanceSummary(**{name: values[name][k] for name in values}) for k in range(count)]


@dataclass(frozen=True)
class _Rows:
    """One structure per row: its distances (padded with +inf), weights (padded with 0) and point count."""

    distances: torch.Tensor
    weights: torch.Tensor
    lengths: torch.Tensor

    @classmethod
    def of(cls, directed: Directed, count: int) -> _Rows:
        device = directed.distances.device
        lengths = torch.bincount(directed.structures, minlength=count)
        starts = torch.cumsum(lengths, dim=0) - lengths
        within = torch.arange(directed.structures.numel(), device=device) - starts[directed.structures]
        width = int(lengths.max())
        distances = torch.full((count, width), math.inf, dtype=torch.float64, device=device)
        weights = torch.zeros((count, width), dtype=torch.float64, device=device)
        distances[directed.structures, within] = directed.distances.to(torch.float64)
        weights[directed.structures, within] = directed.weights.to(torch.float64)
        return cls(distances, weights, lengths)

    def joined(self, other: _Rows) -> _Rows:
        return _Rows(
            torch.cat([self.distances, other.distances], dim=1),
            torch.cat([self.weights, other.weights], dim=1),
            self.lengths + other.lengths,
        )

    def largest(self) -> torch.Tensor:
        return self.distances.masked_fill(torch.isinf(self.distances), -math.inf).amax(dim=1)

    def weight_where(self, selected: torch.Tensor) -> torch.Tensor:
        return (self.weights * selected).sum(dim=1)

    def weighted_sum(self) -> torch.Tensor:
        real = ~torch.isinf(self.distances)
        return torch.where(real, self.distances * self.weights, torch.zeros_like(self.weights)).sum(dim=1)

    def weighted_percentile(self) -> torch.Tensor:
        """Per row the smallest distance whose cumulative weight share reaches 95% (DeepMind's robust
        Hausdorff); padding sorts last with weight 0."""
        ordered, order = torch.sort(self.distances, dim=1)
        shares = torch.cumsum(self.weights.gather(1, order), dim=1) / self.weights.sum(dim=1, keepdim=True)
        wanted = torch.full((shares.shape[0], 1), PERCENTILE, dtype=shares.dtype, device=shares.device)
        index = torch.minimum(torch.searchsorted(shares, wanted), (self.lengths - 1)[:, None])
        return ordered.gather(1, index).squeeze(1)

    def interpolated_percentile(self) -> torch.Tensor:
        """Per row the linear interpolation between order statistics, as numpy.percentile (without
        torch.quantile, which refuses more than 2^24 elements)."""
        ordered = torch.sort(self.distances, dim=1).values
        position = PERCENTILE * (self.lengths - 1).to(torch.float64)
        lower = position.floor().long()
        upper = torch.minimum(lower + 1, self.lengths - 1)
        low, high = ordered.gather(1, lower[:, None]).squeeze(1), ordered.gather(1, upper[:, None]).squeeze(1)
        return low + (high - low) * (position - lower)
