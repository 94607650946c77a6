"""Synthetic segmentation errors: seeded edits of a mask that imitate what segmenters get wrong.

Every edit works on a box around the structure (plus room for the edit) and pastes the result back, so it is
cheap on large volumes while the Dice target is still computed on the whole volume.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import ndimage

from ..errors import SegQualityError

EDIT_KINDS = (
    "erode",
    "dilate",
    "shift",
    "scale",
    "holes",
    "boundary_noise",
    "false_positive_blobs",
    "missing_end_slices",
    "label_swap",
    "empty",
)


class EditError(SegQualityError):
    """An edit kind is unknown, or it cannot apply to the given mask (e.g. a label swap with no neighbour)."""


@dataclass(frozen=True)
class Edit:
    """One applied edit: its kind and strength in [0, 1] (how far from the input it moved the mask)."""

    kind: str
    strength: float


def apply_edit(
    mask: np.ndarray,
    edit: Edit,
    *,
    rng: np.random.Generator,
    neighbour: np.ndarray | None = None,
) -> np.ndarray:
    """A new boolean (z, y, x) mask: ``mask`` changed by ``edit``; ``neighbour`` is needed by ``label_swap``."""
    if edit.kind not in EDIT_KINDS:
        raise EditError(f"unknown edit kind '{edit.kind}' (one of {', '.join(EDIT_KINDS)})")
    if edit.kind == "empty":
        return np.zeros_like(mask, dtype=bool)
    if not mask.any():
        return mask.copy()
    if edit.kind == "label_swap":
        if neighbour is None or not neighbour.any():
            raise EditError("label_swap needs a non-empty neighbouring structure")
        return _label_swap(mask, neighbour, edit.strength, rng)
    box = _box(mask, pad=_pad_for(mask, edit))
    edited = mask.copy()
    edited[box] = _EDITS[edit.kind](mask[box], edit.strength, rng)
    return edited


def random_edit(rng: np.random.Generator, *, kinds: tuple[str, ...] = EDIT_KINDS) -> Edit:
    """An edit of a random kind with a strength drawn uniformly from [0.1, 1]."""
    return Edit(kind=str(rng.choice(kinds)), strength=float(rng.uniform(0.1, 1.0)))


def _box(mask: np.ndarray, *, pad: int) -> tuple[slice, ...]:
    box = []
    for axis in range(mask.ndim):
        occupied = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        box.append(slice(max(0, occupied[0] - pad), min(mask.shape[axis], occupied[-1] + pad + 1)))
    return tuple(box)


def _size(mask: np.ndarray) -> float:
    """A typical in-plane radius in voxels: the equivalent-circle radius of the largest slice."""
    return float(np.sqrt(mask.sum(axis=(1, 2)).max() / np.pi))


def _pad_for(mask: np.ndarray, edit: Edit) -> int:
    return int(np.ceil(_size(mask) * 1.2)) + 4


def _iterations(region: np.ndarray, strength: float) -> int:
    return max(1, int(round(strength * max(1.0, 0.5 * _size(region)))))


_IN_PLANE = ndimage.generate_binary_structure(3, 1)
_IN_PLANE[0] = _IN_PLANE[2] = False


def _erode(region: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    return ndimage.binary_erosion(region, _IN_PLANE, iterations=_iterations(region, strength))


def _dilate(region: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    return ndimage.binary_dilation(region, _IN_PLANE, iterations=_iterations(region, strength))


def _shift(region: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi)
    distance = strength * 1.2 * max(1.0, _size(region))
    offset = (
        int(rng.integers(-1, 2)) if strength > 0.5 else 0,
        distance * np.sin(angle),
        distance * np.cos(angle),
    )
    return ndimage.shift(region.astype(np.uint8), np.round(offset), order=0, mode="constant") > 0


def _scale(region: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    factor = 1.0 + strength * 0.6 * (1 if rng.random() < 0.5 else -1)
    center = np.array(ndimage.center_of_mass(region))
    matrix = np.diag([1.0, 1.0 / factor, 1.0 / factor])
    offset = center - matrix @ center
    return ndimage.affine_transform(region.astype(np.float32), matrix, offset=offset, order=1) > 0.5


def _holes(region: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    return region & ~_blobs(region, strength, rng, inside=True)


def _false_positive_blobs(region: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    return region | _blobs(region, strength, rng, inside=False)


def _blobs(region: np.ndarray, strength: float, rng: np.random.Generator, *, inside: bool) -> np.ndarray:
    """Balls whose total volume is about ``strength`` times the structure's, centred inside or outside it."""
    target = strength * 0.8 * region.sum()
    candidates = np.argwhere(region if inside else ~region)
    blobs = np.zeros_like(region)
    grid = np.indices(region.shape)
    radius = max(1.5, 0.5 * _size(region))
    for _ in range(12):
        if blobs.sum() >= target or candidates.size == 0:
            break
        center = candidates[rng.integers(len(candidates))]
        distance = sum(((grid[a] - center[a]) / (1.0 if a else 0.5)) ** 2 for a in range(3))
        blobs |= distance <= radius**2
    return blobs


def _boundary_noise(region: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Flip a share of the voxels within a few voxels of the boundary, then smooth into ragged edges."""
    width = max(1, int(round(1 + 2 * strength)))
    band = ndimage.binary_dilation(region, _IN_PLANE, iterations=width) & ~ndimage.binary_erosion(
        region, _IN_PLANE, iterations=width
    )
    flips = band & (rng.random(region.shape) < 0.35 + 0.3 * strength)
    return ndimage.binary_opening(region ^ flips, _IN_PLANE)


def _missing_end_slices(region: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    occupied = np.flatnonzero(region.any(axis=(1, 2)))
    ends = rng.choice(("first", "last", "both"))
    most = (occupied.size - 1) // 2 if ends == "both" else occupied.size - 1
    count = min(most, max(1, int(round(strength * 0.6 * occupied.size))))
    edited = region.copy()
    if count <= 0:
        return edited
    if ends in ("first", "both"):
        edited[occupied[0] : occupied[0] + count] = False
    if ends in ("last", "both"):
        edited[max(occupied[-1] - count + 1, 0) : occupied[-1] + 1] = False
    return edited


def _label_swap(
    mask: np.ndarray, neighbour: np.ndarray, strength: float, rng: np.random.Generator
) -> np.ndarray:
    """Voxels of the neighbour near the structure are claimed by it, some of its own go to the neighbour."""
    reach = max(1, int(round(strength * max(2.0, _size(mask)))))
    near = ndimage.binary_dilation(mask, _IN_PLANE, iterations=reach) if reach else mask
    taken = neighbour & near
    lost = mask & ndimage.binary_dilation(neighbour, _IN_PLANE, iterations=reach)
    return (mask | taken) & ~lost if (taken.any() or lost.any()) else neighbour.copy()


_EDITS: dict[str, Callable[[np.ndarray, float, np.random.Generator], np.ndarray]] = {
    "erode": _erode,
    "dilate": _dilate,
    "shift": _shift,
    "scale": _scale,
    "holes": _holes,
    "boundary_noise": _boundary_noise,
    "false_positive_blobs": _false_positive_blobs,
    "missing_end_slices": _missing_end_slices,
}
