"""Synthetic segmentation errors: seeded edits of a mask that imitate what segmenters get wrong.

Besides boundary errors (erode, dilate, boundary noise, holes, scale) the edits include the failures
that fool a label-blind, candidate-centred estimator: a shift in plane or along z, a mirror across the
body midline, a wrong label (the mask of another structure, preferably the other side's), a partial
label swap and a union with a touching neighbour, the per-slice bounding box, dropped slices, missing
end slices, false-positive blobs, and empty. Local edits work on a box around the structure and paste
the result back (whole-volume edits: z shift, mirror and the label edits), so they are cheap on large volumes; the Dice target is always computed on the whole
volume.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import ndimage

from ..errors import SegQualityError

LOCAL_EDITS = (
    "erode",
    "dilate",
    "shift",
    "scale",
    "holes",
    "boundary_noise",
    "false_positive_blobs",
    "missing_end_slices",
    "dropped_slices",
    "slice_box",
)
CONTEXT_EDITS = ("z_shift", "mirror", "wrong_label", "label_swap", "union_neighbour")
EDIT_KINDS = LOCAL_EDITS + CONTEXT_EDITS + ("empty",)


class EditError(SegQualityError):
    """An edit kind is unknown, or it cannot apply to the given mask (e.g. a label swap with no neighbour)."""


@dataclass(frozen=True)
class Edit:
    """One applied edit: its kind and strength in [0, 1] (how far from the input it moved the mask)."""

    kind: str
    strength: float


@dataclass(frozen=True)
class EditContext:
    """What the context edits need besides the mask.

    ``neighbour``: the touching structure (label swap, union); ``other``: a structure whose mask a wrong
    label takes, the other side's when there is one; ``left_axis`` and ``midline``: the array axis along
    patient left-right and the body's centre index on it (mirror).
    """

    neighbour: np.ndarray | None = None
    other: np.ndarray | None = None
    left_axis: int = 2
    midline: float | None = None

    def allows(self, kind: str) -> bool:
        if kind in ("label_swap", "union_neighbour"):
            return self.neighbour is not None and bool(self.neighbour.any())
        if kind == "wrong_label":
            return self.other is not None and bool(self.other.any())
        if kind == "mirror":
            return self.midline is not None
        return kind in EDIT_KINDS


def apply_edit(
    mask: np.ndarray, edit: Edit, *, rng: np.random.Generator, context: EditContext | None = None
) -> np.ndarray:
    """A new boolean (z, y, x) mask: ``mask`` changed by ``edit``."""
    context = context or EditContext()
    if edit.kind not in EDIT_KINDS:
        raise EditError(f"unknown edit kind '{edit.kind}' (one of {', '.join(EDIT_KINDS)})")
    if edit.kind == "empty":
        return np.zeros_like(mask, dtype=bool)
    if not mask.any():
        return mask.copy()
    if edit.kind in CONTEXT_EDITS:
        if not context.allows(edit.kind):
            raise EditError(f"{edit.kind} needs context this structure does not have")
        return _CONTEXT[edit.kind](mask, edit.strength, rng, context)
    box = _box(mask, pad=_pad_for(mask))
    edited = mask.copy()
    edited[box] = _LOCAL[edit.kind](mask[box], edit.strength, rng)
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


def _pad_for(mask: np.ndarray) -> int:
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
    offset = (0.0, distance * np.sin(angle), distance * np.cos(angle))
    return ndimage.shift(region.astype(np.uint8), np.round(offset), order=0, mode="constant") > 0


def _z_shift(mask: np.ndarray, strength: float, rng: np.random.Generator, context: EditContext) -> np.ndarray:
    """Along array axis 0 by up to 60 % of the structure's extent (at least one slice), on the whole
    volume: a local box would clip a long structure's shift."""
    extent = int(np.count_nonzero(mask.any(axis=(1, 2))))
    slices = max(1, int(round(strength * 0.6 * extent)))
    offset = slices if rng.random() < 0.5 else -slices
    shifted = np.zeros_like(mask)
    if offset > 0:
        shifted[offset:] = mask[:-offset]
    else:
        shifted[:offset] = mask[-offset:]
    return shifted


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


def _dropped_slices(region: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Empty a random share (up to 70 %) of the occupied slices, keeping at least one."""
    occupied = np.flatnonzero(region.any(axis=(1, 2)))
    count = min(occupied.size - 1, max(1, int(round(strength * 0.7 * occupied.size))))
    edited = region.copy()
    if count > 0:
        edited[rng.choice(occupied, size=count, replace=False)] = False
    return edited


def _slice_box(region: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Each occupied slice filled to its bounding box (a box-prompt answer taken as the segmentation)."""
    edited = np.zeros_like(region)
    for z in np.flatnonzero(region.any(axis=(1, 2))):
        rows = np.flatnonzero(region[z].any(axis=1))
        cols = np.flatnonzero(region[z].any(axis=0))
        edited[z, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] = True
    return edited


def _mirror(mask: np.ndarray, strength: float, rng: np.random.Generator, context: EditContext) -> np.ndarray:
    """Reflected across the body midline along the patient's left-right axis."""
    axis, size = context.left_axis, mask.shape[context.left_axis]
    source = np.round(2.0 * float(context.midline) - np.arange(size)).astype(int)
    valid = (source >= 0) & (source < size)
    mirrored = np.zeros_like(mask)
    target = [slice(None)] * 3
    origin = [slice(None)] * 3
    target[axis], origin[axis] = np.flatnonzero(valid), source[valid]
    mirrored[tuple(target)] = mask[tuple(origin)]
    return mirrored


def _wrong_label(
    mask: np.ndarray, strength: float, rng: np.random.Generator, context: EditContext
) -> np.ndarray:
    """Another structure's whole mask under this name (left for right, necrosis for enhancing tumour)."""
    return context.other.copy()


def _label_swap(
    mask: np.ndarray, strength: float, rng: np.random.Generator, context: EditContext
) -> np.ndarray:
    """Voxels of the neighbour near the structure are claimed by it, some of its own go to the neighbour."""
    neighbour = context.neighbour
    reach = max(1, int(round(strength * max(2.0, _size(mask)))))
    near = ndimage.binary_dilation(mask, _IN_PLANE, iterations=reach)
    taken = neighbour & near
    lost = mask & ndimage.binary_dilation(neighbour, _IN_PLANE, iterations=reach)
    return (mask | taken) & ~lost if (taken.any() or lost.any()) else neighbour.copy()


def _union_neighbour(
    mask: np.ndarray, strength: float, rng: np.random.Generator, context: EditContext
) -> np.ndarray:
    """The structure merged with its touching neighbour (two labels painted as one)."""
    return mask | context.neighbour


_LOCAL: dict[str, Callable[[np.ndarray, float, np.random.Generator], np.ndarray]] = {
    "erode": _erode,
    "dilate": _dilate,
    "shift": _shift,
    "scale": _scale,
    "holes": _holes,
    "boundary_noise": _boundary_noise,
    "false_positive_blobs": _false_positive_blobs,
    "missing_end_slices": _missing_end_slices,
    "dropped_slices": _dropped_slices,
    "slice_box": _slice_box,
}
_CONTEXT: dict[str, Callable[[np.ndarray, float, np.random.Generator, EditContext], np.ndarray]] = {
    "z_shift": _z_shift,
    "mirror": _mirror,
    "wrong_label": _wrong_label,
    "label_swap": _label_swap,
    "union_neighbour": _union_neighbour,
}
