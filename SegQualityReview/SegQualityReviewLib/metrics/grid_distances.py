"""Exact Euclidean distance from grid points to the nearest marked cell of a grid, in torch (CPU or CUDA).

A separable distance transform on the cropped box, computed only as far as the sources need it:

1. along the *scan axis* (the finest spacing), for every cell: the distance to the nearest marked cell of
   its line, exactly, from two cumulative scans (the last marked index before the cell and the first after);
2. along the *band axis* (the coarser of the other two), for every cell: the minimum over line offsets
   ``|k| <= K`` of pass 1 plus ``(s k)^2`` (a windowed lower envelope of parabolas);
3. along the *row axis*, at the source points only: the same windowed minimum over pass 2.

A window of ``K`` offsets leaves out only cells more than ``s (K + 1)`` mm away along its axis, so a
squared result no larger than ``min (s (K + 1))^2`` over the windowed axes is exact (docs/metrics.md
gives the argument). Sources beyond that are redone with windows four times wider, until a window spans its
whole axis and leaves nothing out. The work is two scans and ``2 K + 1`` shifted minima over the box plus
``2 K + 1`` look-ups per source: it grows with the box and the surface, never with sources x targets, and
every operation is a plain tensor operation, so the same code runs on CPU and CUDA, in float64 throughout.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

# First window radius, in multiples of the coarsest spacing: most surface pairs worth scoring are closer.
_FIRST_RADIUS_IN_SPACINGS = 8.0
_WIDENING = 4.0
# Cells of the (sources, window) look-up block per step: ~128 MB of float64.
_LOOKUP_CELLS = 2**24


def grid_nearest_distances(
    sources: torch.Tensor, targets: torch.Tensor, *, spacing: Sequence[float]
) -> torch.Tensor:
    """Distance in mm (float64) from each (M, D) grid position ``sources`` to the nearest true cell of the
    boolean grid ``targets``, with ``spacing`` mm per (z, y, x) axis.

    ``targets`` is (z, y, x), or a (K, z, y, x) stack whose grids are apart: a source (k, z, y, x) is
    measured against grid k only, which must hold a true cell.
    """
    spatial = [float(s) for s in spacing]
    stacked = targets.ndim - 3
    spacing = [0.0] * stacked + spatial
    shape = tuple(targets.shape)
    axes = range(stacked, targets.ndim)
    scan_axis = min(axes, key=lambda axis: spacing[axis])
    band_axis, row_axis = sorted((axis for axis in axes if axis != scan_axis), key=lambda a: -spacing[a])
    along_scan = _scan_pass(targets, scan_axis, spacing[scan_axis])
    squared = torch.full((sources.shape[0],), math.inf, dtype=torch.float64, device=targets.device)
    pending = torch.arange(sources.shape[0], device=targets.device)
    radius = _FIRST_RADIUS_IN_SPACINGS * max(spatial)
    band_reach = -1
    while pending.numel():
        band_reach_now = min(shape[band_axis] - 1, int(radius / spacing[band_axis]))
        row_reach = min(shape[row_axis] - 1, int(radius / spacing[row_axis]))
        if band_reach_now != band_reach:
            band_reach = band_reach_now
            along_band = _window_pass(along_scan, band_axis, spacing[band_axis], band_reach)
        found = _row_pass(along_band, sources[pending], row_axis, spacing[row_axis], row_reach)
        squared[pending] = found
        exact_up_to = min(
            _reach_bound(band_reach, shape[band_axis], spacing[band_axis]),
            _reach_bound(row_reach, shape[row_axis], spacing[row_axis]),
        )
        pending = pending[found > exact_up_to]
        radius *= _WIDENING
    return torch.sqrt(squared)


def _reach_bound(reach: int, length: int, step: float) -> float:
    """Squared mm below which a window of ``reach`` offsets misses nothing along its axis."""
    return math.inf if reach >= length - 1 else (step * (reach + 1)) ** 2


def _scan_pass(targets: torch.Tensor, axis: int, step: float) -> torch.Tensor:
    """Squared mm to the nearest true cell in the same line along ``axis`` (inf for a line without one)."""
    lines = targets.movedim(axis, -1)
    length = lines.shape[-1]
    index = torch.arange(length, device=targets.device, dtype=torch.int32).expand(lines.shape)
    before = torch.where(lines, index, torch.full_like(index, -length)).cummax(dim=-1).values
    after = torch.where(lines, index, torch.full_like(index, 2 * length)).flip(-1).cummin(dim=-1).values
    nearest = torch.minimum(index - before, after.flip(-1) - index).to(torch.float64)
    squared = torch.where(nearest < length, (nearest * step) ** 2, torch.full_like(nearest, math.inf))
    return squared.movedim(-1, axis).contiguous()


def _window_pass(values: torch.Tensor, axis: int, step: float, reach: int) -> torch.Tensor:
    """For every cell, the minimum over offsets |k| <= reach along ``axis`` of values + (step k)^2."""
    result = values.clone()
    length = values.shape[axis]
    for offset in range(1, reach + 1):
        penalty = (step * offset) ** 2
        kept = length - offset
        result.narrow(axis, 0, kept).clamp_(max=values.narrow(axis, offset, kept) + penalty)
        result.narrow(axis, offset, kept).clamp_(max=values.narrow(axis, 0, kept) + penalty)
    return result


def _row_pass(
    values: torch.Tensor, sources: torch.Tensor, axis: int, step: float, reach: int
) -> torch.Tensor:
    """At each source, the minimum over offsets |k| <= reach along ``axis`` of values + (step k)^2."""
    offsets = torch.arange(-reach, reach + 1, device=values.device)
    penalties = (offsets.to(torch.float64) * step) ** 2
    flat_values = values.reshape(-1)
    stride = values.stride(axis)
    length = values.shape[axis]
    strides = torch.tensor(values.stride(), device=values.device)
    per_block = max(1, _LOOKUP_CELLS // offsets.numel())
    found = []
    for block in torch.split(sources, per_block):
        origin = (block * strides).sum(dim=1, keepdim=True)
        along = block[:, axis : axis + 1] + offsets
        inside = (along >= 0) & (along < length)
        looked_up = flat_values[(origin + offsets * stride).clamp_(0, flat_values.numel() - 1)]
        candidates = torch.where(inside, looked_up + penalties, torch.full_like(looked_up, math.inf))
        found.append(candidates.amin(dim=1))
    return torch.cat(found) if found else torch.empty(0, dtype=torch.float64, device=values.device)
