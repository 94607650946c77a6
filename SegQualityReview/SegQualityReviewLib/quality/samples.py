"""Training and evaluation samples: candidate masks with their true Dice, encoded slice by slice.

Candidates for each reference structure are the reference itself, seeded synthetic edits of it, the real
model outputs for that structure and edits of those outputs. Targets come from the metric core on the whole
volume (structure Dice) and on whole slices (slice Dice), never inside the crop.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from scipy import ndimage

from ..errors import SegQualityError
from ..io import StructureSet, read_structures, read_volume
from .cases import LabelledCase
from .encoding import EncodingConfig, encode_structure, normalize_intensity, structure_slice_indices
from .synthetic import EDIT_KINDS, apply_edit, random_edit
from .targets import slice_dice, structure_dice

# The network never sees empty candidates: an empty mask is scored by rule at inference.
NETWORK_EDIT_KINDS = tuple(kind for kind in EDIT_KINDS if kind != "empty")


class SplitError(SegQualityError):
    """A patient appears in two splits, which would leak test data into training."""


@dataclass(frozen=True)
class SampleOptions:
    """How many candidates and slices each structure yields; ``slices_per_candidate`` None keeps all.

    A case with few structures gets more edits per structure, at least ``edits_per_case_floor`` in all, so
    single-lesion MR cases are not drowned by 100-organ CT cases.
    """

    edits_per_structure: int = 6
    edits_per_case_floor: int = 96
    edits_per_model_output: int = 1
    slices_per_candidate: int | None = 8
    balance_bins: int = 5
    seed: int = 0


@dataclass(frozen=True)
class CandidateSample:
    """One candidate mask of one structure, encoded, with its true Dice and per-slice Dice targets."""

    case_id: str
    patient: str
    split: str
    structure: str
    source: str
    family: str
    true_dice: float
    slices: torch.Tensor
    slice_indices: tuple[int, ...]
    slice_targets: np.ndarray
    candidate_areas: np.ndarray
    agreement_dice: float | None = None


def check_patient_splits(cases: Sequence[LabelledCase]) -> None:
    """Raise ``SplitError`` if one patient's cases are in different splits."""
    seen: dict[str, tuple[str, str]] = {}
    for case in cases:
        if case.patient in seen and seen[case.patient][0] != case.split:
            first_split, first_case = seen[case.patient]
            raise SplitError(
                f"patient '{case.patient}' is in split '{first_split}' ({first_case}) and '{case.split}' ({case.case_id})"
            )
        seen.setdefault(case.patient, (case.split, case.case_id))


def build_samples(
    cases: Iterable[LabelledCase],
    *,
    encoding: EncodingConfig,
    options: SampleOptions,
    progress: Callable[[str], None] | None = None,
) -> list[CandidateSample]:
    """Samples for every case; seeded per case so adding a case does not change another case's samples."""
    cases = list(cases)
    check_patient_splits(cases)
    samples: list[CandidateSample] = []
    for number, case in enumerate(cases):
        if progress is not None:
            progress(f"case {number + 1}/{len(cases)}: {case.case_id}")
        rng = np.random.default_rng([options.seed, _stable_hash(case.case_id)])
        samples.extend(_case_samples(case, encoding=encoding, options=options, rng=rng))
    return samples


def balance_by_dice(samples: Sequence[CandidateSample], *, bins: int, seed: int) -> list[CandidateSample]:
    """Subsample so no Dice bin (equal-width over [0, 1]) holds more than the median bin's count."""
    rng = np.random.default_rng(seed)
    dice = np.array([s.true_dice for s in samples])
    bin_of = np.minimum((dice * bins).astype(int), bins - 1)
    counts = np.bincount(bin_of, minlength=bins)
    cap = int(np.median(counts[counts > 0])) if counts.any() else 0
    keep = []
    for index in range(bins):
        members = np.flatnonzero(bin_of == index)
        if members.size > cap:
            members = rng.choice(members, size=cap, replace=False)
        keep.extend(members.tolist())
    return [samples[i] for i in sorted(keep)]


def _case_samples(
    case: LabelledCase, *, encoding: EncodingConfig, options: SampleOptions, rng: np.random.Generator
) -> list[CandidateSample]:
    volume = read_volume(case.image)
    reference = read_structures(
        case.reference,
        label_map=case.reference_label_map,
        reference=volume.geometry,
        reference_name=str(case.image),
        resample=True,
    )
    outputs = [
        (
            output,
            read_structures(
                output.path,
                label_map=output.label_map,
                reference=volume.geometry,
                reference_name=str(case.image),
                resample=True,
            ),
        )
        for output in case.model_outputs
    ]
    image = normalize_intensity(volume.array, modality=case.modality, config=encoding)
    spacing = volume.geometry.array_spacing
    samples = []
    edits = max(options.edits_per_structure, -(-options.edits_per_case_floor // max(1, len(reference.names))))
    for name in reference.names:
        reference_mask = reference.mask(name)
        real = [(o, s.mask(s.find(name))) for o, s in outputs if s.find(name) is not None]
        if not reference_mask.any() and not any(mask.any() for _, mask in real):
            continue
        candidates = _candidates(name, reference, reference_mask, real, edits=edits, options=options, rng=rng)
        masks = np.stack([mask for _, _, mask in candidates])
        true_dice = structure_dice(masks, reference_mask, spacing_zyx=spacing)
        agreement = _agreement(candidates, spacing)
        for (source, family, mask), dice, agree in zip(candidates, true_dice, agreement):
            if not mask.any():
                continue
            indices = structure_slice_indices(mask, config=encoding)
            if options.slices_per_candidate is not None:
                indices = _training_slices(mask, indices, count=options.slices_per_candidate, rng=rng)
            encoded = encode_structure(
                image, mask, spacing_zyx=spacing, config=encoding, slice_indices=indices
            )
            samples.append(
                CandidateSample(
                    case_id=case.case_id,
                    patient=case.patient,
                    split=case.split,
                    structure=name,
                    source=source,
                    family=family,
                    true_dice=float(dice),
                    slices=encoded.slices.to(torch.float16),
                    slice_indices=encoded.slice_indices,
                    slice_targets=slice_dice(mask, reference_mask, slice_indices=encoded.slice_indices),
                    candidate_areas=encoded.candidate_areas,
                    agreement_dice=agree,
                )
            )
    return samples


def _training_slices(
    mask: np.ndarray, indices: tuple[int, ...], *, count: int, rng: np.random.Generator
) -> tuple[int, ...]:
    """``count`` slices: the first slice beyond each end of the candidate (where missing ends show) plus random ones."""
    if len(indices) <= count:
        return indices
    occupied = np.flatnonzero(mask.any(axis=(1, 2)))
    beyond = {int(occupied[0]) - 1, int(occupied[-1]) + 1} & set(indices)
    rest = [i for i in indices if i not in beyond]
    chosen = rng.choice(rest, size=count - len(beyond), replace=False).tolist()
    return tuple(sorted(beyond | set(int(i) for i in chosen)))


def _candidates(
    name: str,
    reference: StructureSet,
    reference_mask: np.ndarray,
    real: list,
    *,
    edits: int,
    options: SampleOptions,
    rng: np.random.Generator,
) -> list[tuple[str, str, np.ndarray]]:
    """(source, family, mask) for the reference, its edits, each real output and edits of those outputs."""
    neighbour = _nearest_neighbour(name, reference, reference_mask)
    kinds = (
        NETWORK_EDIT_KINDS
        if neighbour is not None
        else tuple(k for k in NETWORK_EDIT_KINDS if k != "label_swap")
    )
    candidates = [("reference", "reference", reference_mask)]
    if reference_mask.any():
        for _ in range(edits):
            edit = random_edit(rng, kinds=kinds)
            mask = apply_edit(reference_mask, edit, rng=rng, neighbour=neighbour)
            candidates.append((f"synthetic:{edit.kind}", "synthetic", mask))
    for output, mask in real:
        candidates.append((f"model:{output.model}", output.family, mask))
        for _ in range(options.edits_per_model_output if mask.any() else 0):
            edit = random_edit(rng, kinds=tuple(k for k in kinds if k != "label_swap"))
            candidates.append(
                (f"synthetic:{edit.kind}+{output.model}", "synthetic", apply_edit(mask, edit, rng=rng))
            )
    return candidates


def _nearest_neighbour(name: str, reference: StructureSet, mask: np.ndarray) -> np.ndarray | None:
    """The other reference structure with the most voxels in a 2-voxel ring around this one, or None."""
    if not mask.any() or len(reference.names) < 2:
        return None
    box = tuple(slice(max(0, first - 3), last + 4) for first, last in _extent(mask))
    ring = ndimage.binary_dilation(mask[box], iterations=2) & ~mask[box]
    names_by_location = {location: other for other, location in reference.locations.items() if other != name}
    contacts: dict[str, int] = {}
    for layer_index, layer in enumerate(reference.layers):
        values, counts = np.unique(layer[box][ring], return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist()):
            other = names_by_location.get((layer_index, value))
            if other is not None:
                contacts[other] = contacts.get(other, 0) + count
    if not contacts:
        return None
    return reference.mask(max(contacts, key=contacts.get))


def _extent(mask: np.ndarray) -> list[tuple[int, int]]:
    extent = []
    for axis in range(mask.ndim):
        occupied = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        extent.append((int(occupied[0]), int(occupied[-1])))
    return extent


def _agreement(candidates: list[tuple[str, str, np.ndarray]], spacing: Sequence[float]) -> list[float | None]:
    """For real model outputs: mean Dice against the other real outputs of the structure (metric core)."""
    real = [index for index, (source, _, _) in enumerate(candidates) if source.startswith("model:")]
    agreement: list[float | None] = [None] * len(candidates)
    if len(real) < 2:
        return agreement
    for index in real:
        others = np.stack([candidates[j][2] for j in real if j != index])
        agreement[index] = float(structure_dice(others, candidates[index][2], spacing_zyx=spacing).mean())
    return agreement


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))
