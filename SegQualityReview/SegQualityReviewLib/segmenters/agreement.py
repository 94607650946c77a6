"""Agreement between segmenters (or test-time flips of one) as pairwise Dice per structure.

Disagreement between plausible segmentations is a ground-truth-free warning sign; the quality
estimator fuses these numbers with its own prediction.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..io import StructureSet, Volume, check_same_geometry, normalize_structure_name
from .anatomy import PatientAxes
from .base import RunControl, Segmenter


@dataclass(frozen=True)
class PairAgreement:
    """Dice between two segmenters' masks of one structure.

    ``status`` follows the metrics' empty policy: ``ok``, ``one_empty`` (Dice 0) or ``both_empty``
    (Dice NaN, excluded from means), never a smoothing epsilon.
    """

    structure: str
    first: str
    second: str
    dice: float
    status: str


@dataclass(frozen=True)
class StructureAgreement:
    """Mean and minimum pairwise Dice of one structure over the pairs where it is not empty in both."""

    structure: str
    mean_dice: float
    min_dice: float
    pairs: int


def pairwise_agreement(segmentations: Mapping[str, StructureSet]) -> list[PairAgreement]:
    """Pairwise Dice per structure between named segmentations of one volume, for the structures they share."""
    names = list(segmentations)
    for first, second in itertools.combinations(names, 2):
        check_same_geometry(
            segmentations[first].geometry,
            segmentations[second].geometry,
            first_name=first,
            second_name=second,
        )
    records = []
    for first, second in itertools.combinations(names, 2):
        a, b = segmentations[first], segmentations[second]
        for structure in a.names:
            if b.find(structure) is None:
                continue
            records.append(_pair(structure, first, second, a.mask(structure), b.mask(structure)))
    return records


def summarize_agreement(records: Sequence[PairAgreement]) -> list[StructureAgreement]:
    """Per structure (normalised name), the mean and minimum Dice over pairs not empty in both."""
    by_structure: dict[str, list[PairAgreement]] = {}
    for record in records:
        by_structure.setdefault(normalize_structure_name(record.structure), []).append(record)
    summaries = []
    for group in by_structure.values():
        scores = [r.dice for r in group if r.status != "both_empty"]
        summaries.append(
            StructureAgreement(
                structure=group[0].structure,
                mean_dice=float(np.mean(scores)) if scores else math.nan,
                min_dice=float(np.min(scores)) if scores else math.nan,
                pairs=len(scores),
            )
        )
    return summaries


def flip_axes_keeping_laterality(volume: Volume) -> tuple[int, ...]:
    """Array axes that can be flipped at test time without swapping the patient's left and right.

    Flipping left-right would turn ``lung_left`` into ``lung_right`` for any segmenter that knows
    laterality, so that axis is left out.
    """
    left_axis = PatientAxes.from_geometry(volume.geometry).left_axis
    return tuple(axis for axis in range(3) if axis != left_axis)


def flip_agreement(
    segmenter: Segmenter,
    volume: Volume,
    *,
    axes: Sequence[int] | None = None,
    control: RunControl | None = None,
) -> list[PairAgreement]:
    """Run ``segmenter`` on the volume and on its flips along ``axes``, flip back, and compare all runs pairwise.

    ``axes`` defaults to ``flip_axes_keeping_laterality(volume)``.
    """
    control = control or RunControl()
    axes = tuple(flip_axes_keeping_laterality(volume) if axes is None else axes)
    runs: dict[str, StructureSet] = {}
    for step, axis in enumerate((None, *axes)):
        sub_control = control.scaled(step / (len(axes) + 1), (step + 1) / (len(axes) + 1))
        if axis is None:
            runs["original"] = segmenter.run(volume, control=sub_control)
            continue
        flipped = Volume(
            array=np.flip(volume.array, axis=axis).copy(), geometry=volume.geometry, source=volume.source
        )
        result = segmenter.run(flipped, control=sub_control)
        masks = {name: np.flip(result.mask(name), axis=axis) for name in result.names}
        runs[f"flip_axis{axis}"] = StructureSet.from_masks(
            masks, volume.geometry, source=f"{segmenter.name} flip {axis}"
        )
    return pairwise_agreement(runs)


def _pair(structure: str, first: str, second: str, a: np.ndarray, b: np.ndarray) -> PairAgreement:
    size_a, size_b = int(a.sum()), int(b.sum())
    if size_a == 0 and size_b == 0:
        return PairAgreement(structure, first, second, math.nan, "both_empty")
    dice = 2.0 * int(np.logical_and(a, b).sum()) / (size_a + size_b)
    status = "one_empty" if size_a == 0 or size_b == 0 else "ok"
    return PairAgreement(structure, first, second, dice, status)
