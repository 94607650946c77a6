"""Per-case selection by predicted quality: of N models' segmentations of one case, keep per structure
the one the estimator predicts best, without a reference.

Each candidate is estimated with the OTHER candidates as ``other_segmentations``: when several models
segment the same case, agreement between them is the estimator's strongest signal. Per structure the
candidate with the highest predicted Dice wins (ties: the first given). A candidate whose mask is empty
can win only when every candidate declaring the structure is empty; a structure only some candidates
declare is chosen among those. The chosen masks are assembled into one label image; where two chosen
masks overlap (they come from different models), the voxel goes to the structure predicted better.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from ..errors import SegQualityError
from ..io import LabelMap, StructureSet, Volume, check_same_geometry, normalize_structure_name
from .estimator import QualityEstimate, estimate_quality

Progress = Callable[[float, str], None]


class SelectionInputError(SegQualityError):
    """The candidates of a selection cannot be compared (too few, duplicate names, other grids)."""


@dataclass(frozen=True)
class CandidateEstimate:
    """One candidate's predicted quality for one structure; ``empty`` when its mask has no voxel.

    ``agreement_dice`` is the mean Dice with the other candidates that declare the structure (NaN when
    the estimator had none to compare with)."""

    model: str
    predicted_dice: float
    interval_low: float
    interval_high: float
    status: str
    empty: bool
    agreement_dice: float = math.nan


@dataclass(frozen=True)
class StructureSelection:
    """The choice for one structure: the chosen model and every declaring candidate's estimate, in the
    order the candidates were given. ``reassigned_voxels``: voxels of the chosen mask given to another
    structure in the label image because both chosen masks claimed them."""

    structure: str
    chosen_model: str
    candidates: tuple[CandidateEstimate, ...]
    reassigned_voxels: int = 0

    @property
    def chosen(self) -> CandidateEstimate:
        return next(c for c in self.candidates if c.model == self.chosen_model)

    def candidate(self, model: str) -> CandidateEstimate | None:
        return next((c for c in self.candidates if c.model == model), None)

    def as_row(self, models: Sequence[str]) -> dict:
        """One CSV row: structure, chosen model, its predicted Dice, the voxels it lost to a better-predicted
        structure, then each model's predicted Dice (blank where a model does not declare the structure
        or the estimator gave no number)."""
        row = {
            "structure": self.structure,
            "chosen_model": self.chosen_model,
            "chosen_predicted_dice": _cell(self.chosen.predicted_dice),
            "reassigned_voxels": self.reassigned_voxels,
        }
        for model in models:
            found = self.candidate(model)
            row[f"predicted_dice_{model}"] = "" if found is None else _cell(found.predicted_dice)
        return row


@dataclass(frozen=True)
class Selection:
    """The result of ``select_by_predicted_quality``: one record per structure (in first-declared order),
    the candidate names, and the selected masks as one label image with its label map."""

    structures: tuple[StructureSelection, ...]
    models: tuple[str, ...]
    segmentation: StructureSet

    @property
    def label_map(self) -> LabelMap:
        names = self.segmentation.locations
        return LabelMap(
            names_by_value={value: name for name, (_, value) in names.items()}, source="selection"
        )

    @property
    def labels(self) -> np.ndarray:
        """The (z, y, x) uint16 label image: value i is the i-th structure of ``structures``."""
        return self.segmentation.layers[0]

    def chosen_model(self, structure: str) -> str:
        key = normalize_structure_name(structure)
        for record in self.structures:
            if normalize_structure_name(record.structure) == key:
                return record.chosen_model
        raise KeyError(structure)

    def rows(self) -> list[dict]:
        return [record.as_row(self.models) for record in self.structures]


def select_by_predicted_quality(
    volume: Volume,
    candidates: Mapping[str, StructureSet],
    *,
    channels: Mapping[str, Volume] | None = None,
    sequence: str | None = None,
    mode: str = "default",
    progress: Progress | None = None,
    **options,
) -> Selection:
    """Estimate every candidate's quality per structure (the other candidates as agreement) and keep per
    structure the candidate predicted best.

    ``candidates`` maps model names to segmentations of ``volume``'s case on its grid (at least two).
    ``options`` go to ``estimate_quality`` (``weights``, ``device``, ``modality``, ``threshold``,
    ``cache_folder``). Raises ``SelectionInputError`` for fewer than two candidates, two model names
    that are one once normalised, or a candidate on another grid.
    """
    models = _checked_models(volume, candidates)
    report = progress or (lambda fraction, message: None)
    estimates: dict[str, dict[str, QualityEstimate]] = {}
    for number, model in enumerate(models):
        others = [candidates[other] for other in models if other != model]
        start, width = number / len(models), 1 / len(models)

        def on_progress(fraction: float, step: str, start=start, width=width, model=model) -> None:
            report(start + width * fraction, f"{model}: {step}")

        found = estimate_quality(
            volume,
            candidates[model],
            other_segmentations=others,
            channels=channels,
            sequence=sequence,
            mode=mode,
            progress=on_progress,
            **options,
        )
        estimates[model] = {normalize_structure_name(e.structure): e for e in found}
    records = []
    masks = {}
    for name in _structure_names(candidates, models):
        declaring = [m for m in models if candidates[m].find(name) is not None]
        scored = []
        for model in declaring:
            mask = candidates[model].mask(name)
            estimate = estimates[model][normalize_structure_name(candidates[model].find(name))]
            scored.append((model, mask, _candidate_estimate(model, estimate, empty=not mask.any())))
        chosen_model, chosen_mask = choose(scored)
        masks[name] = chosen_mask
        records.append(
            StructureSelection(
                structure=name, chosen_model=chosen_model, candidates=tuple(s[2] for s in scored)
            )
        )
    labels, reassigned = _assemble(records, masks, volume.geometry.array_shape)
    records = [
        StructureSelection(
            r.structure, r.chosen_model, r.candidates, reassigned_voxels=reassigned[r.structure]
        )
        for r in records
    ]
    label_map = LabelMap(
        names_by_value={i: r.structure for i, r in enumerate(records, 1)}, source="selection"
    )
    segmentation = StructureSet.from_label_array(
        labels, volume.geometry, label_map=label_map, source="selection by predicted quality"
    )
    report(1.0, "done")
    return Selection(structures=tuple(records), models=models, segmentation=segmentation)


def choose(scored: Sequence[tuple[str, np.ndarray, CandidateEstimate]]) -> tuple[str, np.ndarray]:
    """The (model, mask) with the highest predicted Dice among the non-empty candidates (the first on a
    tie, or when no number is finite); the first candidate when all are empty."""
    non_empty = [item for item in scored if not item[2].empty]
    if not non_empty:
        return scored[0][0], scored[0][1]
    best = non_empty[0]
    for item in non_empty[1:]:
        value, best_value = item[2].predicted_dice, best[2].predicted_dice
        if math.isfinite(value) and (not math.isfinite(best_value) or value > best_value):
            best = item
    return best[0], best[1]


def _candidate_estimate(model: str, estimate: QualityEstimate, *, empty: bool) -> CandidateEstimate:
    agreement = estimate.signal("agr_dice_mean")
    return CandidateEstimate(
        model=model,
        predicted_dice=float(estimate.predicted_dice),
        interval_low=float(estimate.interval_low),
        interval_high=float(estimate.interval_high),
        status=estimate.status,
        empty=empty,
        agreement_dice=float(agreement) if agreement is not None else math.nan,
    )


def _assemble(
    records: Sequence[StructureSelection], masks: Mapping[str, np.ndarray], shape: tuple[int, ...]
) -> tuple[np.ndarray, dict[str, int]]:
    """One uint16 label image of the chosen masks; a contested voxel goes to the structure whose chosen
    candidate has the higher predicted Dice (structure order on a tie), so no chosen mask is dropped whole."""
    labels = np.zeros(shape, dtype=np.uint16)
    claimed_by = np.zeros(shape, dtype=np.int32)  # how many chosen masks claim each voxel
    for record in records:
        claimed_by += masks[record.structure]
    confidence = [
        r.chosen.predicted_dice if math.isfinite(r.chosen.predicted_dice) else -1.0 for r in records
    ]
    # Lowest confidence first, so the better-predicted structure is written last and keeps the voxel.
    order = sorted(range(len(records)), key=lambda i: (confidence[i], -i))
    for index in order:
        labels[masks[records[index].structure]] = index + 1
    reassigned = {}
    for value, record in enumerate(records, start=1):
        mask = masks[record.structure]
        reassigned[record.structure] = int(np.count_nonzero(mask & (labels != value)))
    return labels, reassigned


def _checked_models(volume: Volume, candidates: Mapping[str, StructureSet]) -> tuple[str, ...]:
    models = tuple(candidates)
    if len(models) < 2:
        raise SelectionInputError(f"selection needs at least two candidate segmentations, got {len(models)}")
    seen: dict[str, str] = {}
    for model in models:
        if not model or not model.strip():
            raise SelectionInputError("a candidate has an empty model name")
        first = seen.setdefault(normalize_structure_name(model), model)
        if first != model:
            raise SelectionInputError(f"model names '{first}' and '{model}' are the same name; rename one")
    for model in models:
        structures = candidates[model]
        check_same_geometry(
            structures.geometry, volume.geometry, first_name=structures.source, second_name=volume.source
        )
    return models


def _structure_names(candidates: Mapping[str, StructureSet], models: Sequence[str]) -> list[str]:
    """Every structure any candidate declares, named as the first declaring candidate names it."""
    names, keys = [], set()
    for model in models:
        for name in candidates[model].names:
            key = normalize_structure_name(name)
            if key not in keys:
                keys.add(key)
                names.append(name)
    return names


def _cell(value: float) -> float | str:
    return "" if not math.isfinite(value) else round(float(value), 4)
