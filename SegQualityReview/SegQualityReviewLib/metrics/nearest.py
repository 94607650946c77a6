"""Exact Euclidean distance in mm from every point of one surface to the nearest point of another."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from scipy.spatial import cKDTree

from .surfaces import Surface

NEAREST_METHODS = ("auto", "kdtree", "cdist")
# Cells of the (chunk, targets) distance matrix per torch.cdist call: ~0.5 GB of float64.
_CDIST_CELLS = 2**26


def nearest_distances(
    sources: Surface, targets: Surface, *, spacing: Sequence[float], method: str = "auto"
) -> torch.Tensor:
    """Distance in mm (float64, on the surfaces' device) from each source point to the nearest target point.

    Source points that are also target points get 0 from a grid look-up; only the others are searched.
    ``method`` "kdtree" queries a scipy KD-tree (fastest on CPU); "cdist" takes the minimum of exact
    pairwise distances in chunks with torch (the GPU path); "auto" picks by the surfaces' device.
    """
    if method == "auto":
        method = "kdtree" if sources.positions.device.type == "cpu" else "cdist"
    found = torch.zeros(sources.positions.shape[0], dtype=torch.float64, device=sources.positions.device)
    shared = targets.grid[tuple(sources.positions.T)]
    apart = ~shared
    if not bool(apart.any()):
        return found
    scale = torch.tensor([float(s) for s in spacing], dtype=torch.float64, device=found.device)
    source_mm = sources.positions[apart].to(torch.float64) * scale
    target_mm = targets.positions.to(torch.float64) * scale
    if method == "kdtree":
        tree = cKDTree(target_mm.cpu().numpy(), leafsize=32, balanced_tree=False, compact_nodes=False)
        distances, _ = tree.query(source_mm.cpu().numpy(), k=1, workers=-1)
        found[apart] = torch.as_tensor(np.asarray(distances, dtype=np.float64), device=found.device)
    else:
        found[apart] = _cdist_minimum(source_mm, target_mm)
    return found


def _cdist_minimum(source_mm: torch.Tensor, target_mm: torch.Tensor) -> torch.Tensor:
    rows = max(1, _CDIST_CELLS // max(1, target_mm.shape[0]))
    minima = [
        torch.cdist(chunk, target_mm, compute_mode="donot_use_mm_for_euclid_dist").amin(dim=1)
        for chunk in torch.split(source_mm, rows)
    ]
    return torch.cat(minima)
