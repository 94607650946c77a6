"""Scoring a selection against a reference: the selection beside every single model, the oracle
(per structure the truly best candidate) and a random pick, with the metric core's Dice.

The means run over the structures the reference holds (non-empty mask), the same set for every row,
so they compare: there a model that misses the structure, or does not declare it at all, scores
Dice 0 (the metric core's ``empty_pred`` rule); the random pick is the expectation of a uniform choice
among the candidates declaring the structure (exact, no seed). Structures the reference lacks have no
Dice; a model that paints one anyway is counted in ``hallucinated``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..io import StructureSet, normalize_structure_name
from ..metrics import score_structure_sets
from .selection import Selection

SELECTION = "selection"


@dataclass(frozen=True)
class StructureDice:
    """Dice of one reference structure for each candidate (NaN: not declared) and the selection."""

    structure: str
    dice_by_model: Mapping[str, float]
    selection_dice: float
    chosen_model: str

    @property
    def oracle_dice(self) -> float:
        declared = [v for v in self.dice_by_model.values() if math.isfinite(v)]
        return max(declared) if declared else 0.0

    @property
    def random_dice(self) -> float:
        declared = [v for v in self.dice_by_model.values() if math.isfinite(v)]
        return float(np.mean(declared)) if declared else 0.0


@dataclass(frozen=True)
class SelectionScores:
    """Mean Dice over the reference's structures for every model, the selection, the oracle and a
    random pick; ``dice_gain`` = selection minus the best single model (by that mean)."""

    structures: tuple[StructureDice, ...]
    mean_dice_by_model: Mapping[str, float]
    selection_mean_dice: float
    oracle_mean_dice: float
    random_mean_dice: float
    best_single_model: str
    hallucinated: Mapping[str, int]

    @property
    def best_single_mean_dice(self) -> float:
        return self.mean_dice_by_model[self.best_single_model]

    @property
    def dice_gain(self) -> float:
        return self.selection_mean_dice - self.best_single_mean_dice

    def as_dict(self) -> dict:
        return {
            "structures_scored": [s.structure for s in self.structures],
            "mean_dice": {**self.mean_dice_by_model, SELECTION: self.selection_mean_dice},
            "oracle_mean_dice": self.oracle_mean_dice,
            "random_mean_dice": self.random_mean_dice,
            "best_single_model": self.best_single_model,
            "best_single_mean_dice": self.best_single_mean_dice,
            "dice_gain": self.dice_gain,
            "hallucinated_structures": dict(self.hallucinated),
            "per_structure": [
                {
                    "structure": s.structure,
                    "chosen_model": s.chosen_model,
                    "selection_dice": s.selection_dice,
                    "oracle_dice": s.oracle_dice,
                    "random_dice": s.random_dice,
                    "dice": {m: (v if math.isfinite(v) else None) for m, v in s.dice_by_model.items()},
                }
                for s in self.structures
            ],
        }


def score_selection(
    selection: Selection,
    candidates: Mapping[str, StructureSet],
    reference: StructureSet,
    *,
    device: str = "auto",
) -> SelectionScores:
    """Dice of every candidate and of the selection against ``reference`` (matched by name)."""
    dice: dict[str, dict[str, float]] = {}
    hallucinated: dict[str, int] = {}
    for model, structures in (*candidates.items(), (SELECTION, selection.segmentation)):
        scores = score_structure_sets(structures, reference, device=device, compute_distances=False)
        dice[model] = {
            normalize_structure_name(s.structure): s.dice for s in scores if s.status != "not_supported"
        }
        hallucinated[model] = sum(s.status == "empty_gt" for s in scores)
    held = [name for name in reference.names if reference.mask(name).any()]
    rows = []
    for name in held:
        key = normalize_structure_name(name)
        declared = {m: dice[m].get(key, math.nan) for m in candidates}
        selected = dice[SELECTION].get(key, math.nan)
        try:
            chosen = selection.chosen_model(name)
        except KeyError:
            chosen = ""
        rows.append(
            StructureDice(
                structure=name,
                dice_by_model=declared,
                selection_dice=selected if math.isfinite(selected) else 0.0,
                chosen_model=chosen,
            )
        )
    means = {m: _mean([_or_zero(r.dice_by_model[m]) for r in rows]) for m in candidates}
    best = max(means, key=lambda m: (means[m], -list(candidates).index(m)))
    return SelectionScores(
        structures=tuple(rows),
        mean_dice_by_model=means,
        selection_mean_dice=_mean([r.selection_dice for r in rows]),
        oracle_mean_dice=_mean([r.oracle_dice for r in rows]),
        random_mean_dice=_mean([r.random_dice for r in rows]),
        best_single_model=best,
        hallucinated={m: hallucinated[m] for m in (*candidates, SELECTION)},
    )


def _or_zero(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def _mean(values) -> float:
    return float(np.mean(values)) if len(values) else math.nan
