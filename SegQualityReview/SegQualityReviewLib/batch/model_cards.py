"""Model cards (version, training datasets, structures segmented) and the rules they feed.

A model whose card lists the evaluated dataset, a dataset it belongs to, or a part of it has seen the
test data (or data drawn from the same collection): it is shown in every table but kept out of ranking
and tests. A card may list the structures the model segments; the others are ``not_supported`` for it
(out of that structure's ranking, not counted as missed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import BatchConfigError


@dataclass(frozen=True)
class ModelCard:
    """What a model declares about itself: a version, the datasets it was trained on, and the structures
    it segments (empty: every structure of the reference)."""

    model: str
    version: str = ""
    training_datasets: tuple[str, ...] = ()
    source: str = "<inline>"
    structures: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, model: str, content: Mapping[str, Any], *, source: str) -> ModelCard:
        """A card from a parsed YAML mapping with keys ``version``, ``training_datasets`` and ``structures``
        (lists of names)."""
        if not isinstance(content, Mapping):
            raise BatchConfigError(
                f"{source}: a model card must be a mapping with version, training_datasets and structures"
            )
        unknown = sorted(set(content) - {"version", "training_datasets", "structures", "model", "source"})
        if unknown:
            raise BatchConfigError(
                f"{source}: unknown model card key '{unknown[0]}' (version, training_datasets, structures)"
            )
        return cls(
            model=model,
            version=str(content.get("version", "")),
            training_datasets=_names(content, "training_datasets", source),
            source=source,
            structures=_names(content, "structures", source),
        )

    @classmethod
    def load(cls, model: str, path: str | Path) -> ModelCard:
        """Read a YAML model card file for ``model``."""
        path = Path(path)
        if not path.is_file():
            raise BatchConfigError(f"{path}: model card for '{model}' not found")
        try:
            content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise BatchConfigError(f"{path}: not a readable YAML model card ({error})") from None
        return cls.from_mapping(model, content, source=str(path))

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "training_datasets": list(self.training_datasets),
            "structures": list(self.structures),
        }


def _names(content: Mapping[str, Any], key: str, source: str) -> tuple[str, ...]:
    """A card's list of names under ``key`` (empty when absent), each a non-empty string."""
    names = content.get(key, [])
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise BatchConfigError(f"{source}: {key} must be a list of names")
    if not all(isinstance(name, str) and name.strip() for name in names):
        raise BatchConfigError(f"{source}: every entry of {key} must be a non-empty name")
    return tuple(name.strip() for name in names)


@dataclass(frozen=True)
class ContaminationDecision:
    """Whether one model is excluded from ranking and tests on the evaluated dataset, and why."""

    model: str
    contaminated: bool
    reason: str


def dataset_parts(dataset_name: str) -> tuple[str, ...]:
    """A dataset name as its lower-cased path parts: ``"BraTS/2021/val"`` -> ``("brats", "2021", "val")``."""
    return tuple(part.strip().lower() for part in dataset_name.split("/") if part.strip())


def training_overlap(trained_on: str, evaluated: str) -> str | None:
    """How a training dataset overlaps the evaluated one, in words, or None when it does not.

    Overlap: the same dataset, a parent of it (``BraTS/2021`` for ``BraTS/2021/val``), or a part of
    it (``BraTS/2021/train`` when the whole ``BraTS/2021`` is evaluated). Sibling splits do not overlap.
    """
    trained, target = dataset_parts(trained_on), dataset_parts(evaluated)
    if not trained or not target:
        return None
    if trained == target:
        return "the evaluated dataset itself"
    if target[: len(trained)] == trained:
        return "a parent of the evaluated dataset"
    if trained[: len(target)] == target:
        return "a part of the evaluated dataset"
    return None


def contamination_decisions(
    models: list[str], cards: Mapping[str, ModelCard], *, dataset_name: str
) -> list[ContaminationDecision]:
    """One decision per model: contaminated when a training dataset on its card overlaps the evaluated one.

    Names are compared as case-insensitive ``/`` paths (``training_overlap``). A model without a card, or
    a run without a dataset name, is not excluded, and the reason says why, so the report can show it.
    """
    decisions = []
    for model in models:
        card = cards.get(model)
        if card is None:
            decisions.append(ContaminationDecision(model, False, "no model card: training data not declared"))
            continue
        if not dataset_parts(dataset_name):
            decisions.append(ContaminationDecision(model, False, "no evaluated dataset named: not checked"))
            continue
        overlaps = [(name, training_overlap(name, dataset_name)) for name in card.training_datasets]
        overlaps = [(name, how) for name, how in overlaps if how is not None]
        if overlaps:
            name, how = overlaps[0]
            reason = f"model card {card.source} lists training dataset '{name}', {how} '{dataset_name}'"
            decisions.append(ContaminationDecision(model, True, reason))
        else:
            decisions.append(
                ContaminationDecision(model, False, "training datasets do not overlap the evaluated one")
            )
    return decisions
