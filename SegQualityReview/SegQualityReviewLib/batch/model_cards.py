"""Model cards (version, training datasets) and the contamination rule they feed.

A model whose card lists the evaluated dataset, or a dataset it belongs to, has seen the test data (or
data drawn from the same collection): it is shown in every table but kept out of ranking and tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import BatchConfigError


@dataclass(frozen=True)
class ModelCard:
    """What a model declares about itself: a version string and the datasets it was trained on."""

    model: str
    version: str = ""
    training_datasets: tuple[str, ...] = ()
    source: str = "<inline>"

    @classmethod
    def from_mapping(cls, model: str, content: Mapping[str, Any], *, source: str) -> ModelCard:
        """A card from a parsed YAML mapping with keys ``version`` and ``training_datasets`` (a list)."""
        if not isinstance(content, Mapping):
            raise BatchConfigError(
                f"{source}: a model card must be a mapping with version and training_datasets"
            )
        datasets = content.get("training_datasets", [])
        if isinstance(datasets, str) or not isinstance(datasets, (list, tuple)):
            raise BatchConfigError(f"{source}: training_datasets must be a list of dataset names")
        if not all(isinstance(name, str) and name.strip() for name in datasets):
            raise BatchConfigError(f"{source}: every training dataset must be a non-empty name")
        return cls(
            model=model,
            version=str(content.get("version", "")),
            training_datasets=tuple(name.strip() for name in datasets),
            source=source,
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
        }


@dataclass(frozen=True)
class ContaminationDecision:
    """Whether one model is excluded from ranking and tests on the evaluated dataset, and why."""

    model: str
    contaminated: bool
    reason: str


def dataset_lineage(dataset_name: str) -> tuple[str, ...]:
    """The dataset and every parent it belongs to: ``"BraTS/2021/val"`` -> itself, ``BraTS/2021``, ``BraTS``."""
    parts = [part.strip() for part in dataset_name.split("/") if part.strip()]
    return tuple("/".join(parts[:end]) for end in range(len(parts), 0, -1))


def contamination_decisions(
    models: list[str], cards: Mapping[str, ModelCard], *, dataset_name: str
) -> list[ContaminationDecision]:
    """One decision per model: contaminated when its card lists the dataset or one of its parents.

    Names are compared case-insensitively. A model without a card is not excluded, and the reason says
    that nothing was declared, so the report can show it.
    """
    lineage = {name.lower(): name for name in dataset_lineage(dataset_name)}
    decisions = []
    for model in models:
        card = cards.get(model)
        if card is None:
            decisions.append(ContaminationDecision(model, False, "no model card: training data not declared"))
            continue
        overlap = [name for name in card.training_datasets if name.lower() in lineage]
        if overlap and dataset_name:
            reason = f"model card {card.source} lists training dataset '{overlap[0]}'"
            if overlap[0].lower() != dataset_name.lower():
                reason += f", a parent of the evaluated dataset '{dataset_name}'"
            decisions.append(ContaminationDecision(model, True, reason))
        else:
            decisions.append(
                ContaminationDecision(model, False, "training datasets do not include the evaluated one")
            )
    return decisions
