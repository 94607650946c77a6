"""Candidate masks of one labelled case, with their true Dice: what the estimator learns and is judged on.

Per reference structure: the reference itself, seeded synthetic edits of it (``synthetic``), each real
model output and an edit of it, and, where every slice of the structure is encoded, MedSAM answers to
jittered boxes (a real segmenter's output: box-prompted LiteMedSAM). The true Dice of each against the
reference of the name it claims is exact over the whole volume (``crops.crop_dice``). Candidates are
then balanced over Dice bins within the case (real outputs are always kept).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import ndimage

from .crops import StructureCrop, crop_dice, crop_of
from .names import identify, partner_names
from .synthetic import CONTEXT_EDITS, LOCAL_EDITS, EditContext, apply_edit, random_edit


@dataclass(frozen=True)
class CandidateOptions:
    """How many candidates a case yields; a case with few structures gets more edits per structure
    (at least ``edits_per_case_floor`` in all), so single-lesion cases are not drowned by 100-organ CTs."""

    edits_per_structure: int = 4
    edits_per_case_floor: int = 96
    edits_per_output: int = 1
    medsam_box_candidates: int = 2
    balance_bins: int = 5
    seed: int = 0


@dataclass(frozen=True)
class Candidate:
    """One candidate mask under the name it claims, where it came from, and its true Dice."""

    structure: str
    source: str
    family: str
    kind: str
    crop: StructureCrop
    true_dice: float

    @property
    def is_real_output(self) -> bool:
        return self.family not in ("reference", "synthetic")


def case_seed(seed: int, case_id: str) -> np.random.Generator:
    """A generator per case, so adding a case never changes another case's candidates."""
    return np.random.default_rng([seed, zlib.crc32(case_id.encode("utf-8"))])


def edit_context(
    name: str,
    references: dict[str, StructureCrop],
    *,
    left_axis: int,
    midline: float,
    rng: np.random.Generator,
) -> EditContext:
    """The neighbour (most contact), the structure a wrong label takes (the other side's, else another
    tumour compartment, else the neighbour) and the mirror axis for ``name``."""
    own = references[name]
    neighbour = _touching(own, references)
    names = tuple(n for n, c in references.items() if n != name and not c.empty)
    other = None
    partners = partner_names(name, names)
    if partners:
        other = references[partners[0]].full()
    else:
        group = identify(name).group
        compartments = [
            n for n in names if identify(n).group in ("enhancing_tumor", "necrotic_core", "edema")
        ]
        if group in ("enhancing_tumor", "necrotic_core", "edema") and compartments:
            preferred = [
                n for n in compartments if {identify(n).group, group} == {"enhancing_tumor", "necrotic_core"}
            ]
            other = references[(preferred or compartments)[0]].full()
        elif neighbour is not None:
            other = neighbour
    return EditContext(neighbour=neighbour, other=other, left_axis=left_axis, midline=midline)


def synthetic_candidates(
    name: str,
    reference: StructureCrop,
    context: EditContext,
    *,
    count: int,
    margin: tuple[int, int, int],
    rng: np.random.Generator,
    base: StructureCrop | None = None,
    base_label: str = "",
) -> list[Candidate]:
    """``count`` seeded edits of ``base`` (the reference by default), scored against the reference."""
    base = base or reference
    full = base.full()
    kinds = tuple(k for k in LOCAL_EDITS + CONTEXT_EDITS if context.allows(k))
    if base is not reference:
        kinds = tuple(k for k in kinds if k in LOCAL_EDITS)
    candidates = []
    for _ in range(count):
        edit = random_edit(rng, kinds=kinds)
        edited = apply_edit(full, edit, rng=rng, context=context)
        if not edited.any():
            continue
        crop = crop_of(name, edited, margin=margin)
        label = f"synthetic:{edit.kind}" + (f"+{base_label}" if base_label else "")
        candidates.append(Candidate(name, label, "synthetic", edit.kind, crop, crop_dice(crop, reference)))
    return candidates


def balance(candidates: Sequence[Candidate], *, bins: int, rng: np.random.Generator) -> list[Candidate]:
    """Keep every real output; subsample the others so no Dice bin holds more than the median bin."""
    dice = np.array([c.true_dice for c in candidates])
    bin_of = np.minimum((dice * bins).astype(int), bins - 1)
    counts = np.bincount(bin_of, minlength=bins)
    cap = int(np.median(counts[counts > 0])) if counts.any() else 0
    keep = [i for i, c in enumerate(candidates) if c.is_real_output]
    for index in range(bins):
        members = [i for i in np.flatnonzero(bin_of == index) if not candidates[i].is_real_output]
        if len(members) > cap:
            members = rng.choice(members, size=cap, replace=False).tolist()
        keep.extend(int(i) for i in members)
    return [candidates[i] for i in sorted(set(keep))]


def _touching(own: StructureCrop, references: dict[str, StructureCrop]) -> np.ndarray | None:
    """The reference structure with the most voxels in a 2-voxel ring around ``own`` (full mask), or None."""
    if own.empty:
        return None
    ring = ndimage.binary_dilation(own.crop, iterations=2) & ~own.crop
    best, best_count = None, 0
    for other_name, other in references.items():
        if other is own or other.empty:
            continue
        lows = [max(p.start, q.start) for p, q in zip(own.box, other.box)]
        highs = [min(p.stop, q.stop) for p, q in zip(own.box, other.box)]
        if any(lo >= hi for lo, hi in zip(lows, highs)):
            continue
        mine = tuple(slice(lo - p.start, hi - p.start) for lo, hi, p in zip(lows, highs, own.box))
        theirs = tuple(slice(lo - q.start, hi - q.start) for lo, hi, q in zip(lows, highs, other.box))
        count = int(np.count_nonzero(ring[mine] & other.crop[theirs]))
        if count > best_count:
            best, best_count = other_name, count
    return references[best].full() if best is not None else None
