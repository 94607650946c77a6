"""Which full slices to encode: few, shared by every structure that crosses them, spread along each one.

Encoding a slice with LiteMedSAM costs about a second on a CPU, so a case is encoded on a small set of
axial slices (array axis 0) chosen once for all its structures. Each structure asks for ``per_structure``
slices spread over its extent (one in each of that many equal parts of it); the fewest slices meeting every request are found by greedy interval stabbing (optimal for
intervals), and when that exceeds the budget the requests shrink to one per structure, then to the
slices crossing the most structures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np


@dataclass(frozen=True)
class SlicePlan:
    """The z indices to encode and, per structure, the planned slices it crosses (in z order)."""

    slices: tuple[int, ...]
    by_structure: Mapping[str, tuple[int, ...]]


def occupied_slices(mask: np.ndarray) -> np.ndarray:
    """z indices (array axis 0) where a (z, y, x) mask has any voxel."""
    return np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))


def plan_slices(
    extents: Mapping[str, Sequence[int]], *, per_structure: int = 2, budget: int = 24
) -> SlicePlan:
    """Choose at most ``budget`` slices so each structure (its occupied z indices) gets ``per_structure``.

    A structure with fewer occupied slices than asked gets all of them. Structures with no slice are
    left out of ``by_structure``.
    """
    occupied = {name: np.unique(np.asarray(z, int)) for name, z in extents.items() if len(z)}
    chosen: list[int] = []
    for count in (per_structure, 1):
        chosen = _stab(_requests(occupied, count))
        if len(chosen) <= budget:
            break
    if len(chosen) > budget:
        chosen = _most_crossed(occupied, budget)
    slices = tuple(sorted(set(chosen)))
    return SlicePlan(slices=slices, by_structure=crossed_slices(occupied, slices))


def crossed_slices(extents: Mapping[str, Sequence[int]], slices: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """For each structure, the listed slices that it occupies."""
    available = np.asarray(sorted(set(int(z) for z in slices)), int)
    result = {}
    for name, z in extents.items():
        crossed = available[np.isin(available, np.asarray(z, int))]
        if crossed.size:
            result[name] = tuple(int(v) for v in crossed)
    return result


def spread_choice(candidates: Sequence[int], count: int) -> tuple[int, ...]:
    """``count`` of the sorted ``candidates`` nearest the centres of ``count`` equal parts of their range."""
    candidates = np.asarray(sorted(candidates), int)
    if candidates.size <= count:
        return tuple(int(v) for v in candidates)
    picked: list[int] = []
    for target in _targets(candidates[0], candidates[-1], count):
        free = candidates[~np.isin(candidates, picked)]
        picked.append(int(free[np.argmin(np.abs(free - target))]))
    return tuple(sorted(picked))


def _targets(first: int, last: int, count: int) -> np.ndarray:
    part = (last - first + 1) / count
    return first + part * (np.arange(count) + 0.5) - 0.5


def _requests(occupied: Mapping[str, np.ndarray], count: int) -> list[np.ndarray]:
    """Per structure, ``count`` sets of acceptable slices (its occupied slices near each target)."""
    requests = []
    for z in occupied.values():
        if z.size <= count:
            requests.extend(np.array([v]) for v in z)
            continue
        part = (z[-1] - z[0] + 1) / count
        for index, target in enumerate(_targets(z[0], z[-1], count)):
            # The equal parts themselves, so one slice never answers two requests of a structure.
            inside = z[(z >= z[0] + index * part) & (z < z[0] + (index + 1) * part)]
            requests.append(inside if inside.size else z[[np.argmin(np.abs(z - target))]])
    return requests


def _stab(requests: list[np.ndarray]) -> list[int]:
    """Few slices so every request holds one: by earliest last slice, take its last acceptable slice."""
    chosen: list[int] = []
    for request in sorted(requests, key=lambda r: (int(r[-1]), int(r[0]))):
        if chosen and np.isin(request, chosen).any():
            continue
        chosen.append(int(request[-1]))
    return chosen


def _most_crossed(occupied: Mapping[str, np.ndarray], budget: int) -> list[int]:
    """Greedy maximum coverage: each pick is the slice crossing the most structures still without one."""
    waiting = dict(occupied)
    chosen: list[int] = []
    while waiting and len(chosen) < budget:
        counts: dict[int, int] = {}
        for z in waiting.values():
            for value in z.tolist():
                counts[value] = counts.get(value, 0) + 1
        best = max(counts, key=lambda v: (counts[v], -v))
        chosen.append(best)
        waiting = {n: z for n, z in waiting.items() if best not in z}
    return chosen


def dense_slices(
    extents: Mapping[str, Sequence[int]], *, depth: int, margin: int = 3, limit: int = 40
) -> tuple[int, ...]:
    """Evenly thinned slices over the union of the extents plus ``margin``: the training and evaluation
    cache, from which each candidate then takes its own ``spread_choice``."""
    union = sorted({int(z) for zs in extents.values() for z in zs})
    if not union:
        return ()
    covered = sorted(
        {z for value in union for z in range(max(0, value - margin), min(depth, value + margin + 1))}
    )
    step = -(-len(covered) // limit)
    return tuple(covered[::step])
