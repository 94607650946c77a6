"""The comparison config: where ground truth and each model's predictions live, and how to analyse them.

Built from a YAML file (paths relative to it) or from ``segquality compare`` flags; both give the same
frozen record, whose canonical JSON is hashed into results.json so a run can be traced to its config.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from .errors import BatchConfigError
from .executors import ExecutorSettings
from .model_cards import ModelCard

# Metrics where a smaller value is better; every other metric is ranked higher-is-better.
DEFAULT_LOWER_IS_BETTER = ("hd", "hd95", "assd", "masd")
DEFAULT_METRICS = ("dice", "nsd", "hd95")


@dataclass(frozen=True)
class AnalysisSettings:
    """Everything the statistics need besides the long table; stored in results.json for reanalysis."""

    dataset_name: str = ""
    metrics: tuple[str, ...] = DEFAULT_METRICS
    lower_is_better: tuple[str, ...] = DEFAULT_LOWER_IS_BETTER
    n_resamples: int = 10_000
    seed: int = 0
    confidence_level: float = 0.95
    worst_k: int = 5
    model_cards: tuple[ModelCard, ...] = ()
    # (metric, margin) pairs: pairwise TOST equivalence within +-margin for that metric.
    equivalence_margins: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.equivalence_margins, Mapping):
            object.__setattr__(self, "equivalence_margins", tuple(sorted(self.equivalence_margins.items())))
        for metric, margin in self.equivalence_margins:
            if not isinstance(margin, (int, float)) or not margin > 0:
                raise BatchConfigError(
                    f"equivalence margin for '{metric}' must be a positive number, not {margin!r}"
                )
        if self.n_resamples < 100:
            raise BatchConfigError(f"n_resamples {self.n_resamples}: use at least 100 bootstrap resamples")
        if not 0.5 < self.confidence_level < 1.0:
            raise BatchConfigError(f"confidence_level {self.confidence_level}: must lie between 0.5 and 1")
        if not self.metrics:
            raise BatchConfigError("metrics: name at least one metric to analyse")
        if self.worst_k < 1:
            raise BatchConfigError(f"worst_k {self.worst_k}: must be at least 1")

    def higher_is_better(self, metric: str) -> bool:
        return metric not in self.lower_is_better

    def equivalence_margin(self, metric: str) -> float | None:
        return dict(self.equivalence_margins).get(metric)

    @property
    def cards_by_model(self) -> dict[str, ModelCard]:
        return {card.model: card for card in self.model_cards}

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset_name": self.dataset_name,
            "metrics": list(self.metrics),
            "lower_is_better": list(self.lower_is_better),
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "confidence_level": self.confidence_level,
            "worst_k": self.worst_k,
            "model_cards": [{**card.as_dict(), "source": card.source} for card in self.model_cards],
            "equivalence_margins": dict(self.equivalence_margins),
        }

    @classmethod
    def from_dict(cls, content: Mapping[str, Any]) -> AnalysisSettings:
        cards = tuple(
            ModelCard.from_mapping(card["model"], card, source=card.get("source", "<results.json>"))
            for card in content.get("model_cards", [])
        )
        return cls(
            dataset_name=content.get("dataset_name", ""),
            metrics=tuple(content.get("metrics", DEFAULT_METRICS)),
            lower_is_better=tuple(content.get("lower_is_better", DEFAULT_LOWER_IS_BETTER)),
            n_resamples=int(content.get("n_resamples", 10_000)),
            seed=int(content.get("seed", 0)),
            confidence_level=float(content.get("confidence_level", 0.95)),
            worst_k=int(content.get("worst_k", 5)),
            model_cards=cards,
            equivalence_margins=dict(content.get("equivalence_margins", {})),
        )


@dataclass(frozen=True)
class ScoringSettings:
    """Options passed to the metric core for every cell; part of each cell's cache key."""

    nsd_tolerance_mm: float = 2.0
    surface: str = "surfel"
    hd95: str = "max"
    resample_pred: bool = False
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.device not in ("auto", "cpu", "cuda"):
            raise BatchConfigError(f"device '{self.device}': expected auto, cpu or cuda")
        if self.surface not in ("surfel", "voxel"):
            raise BatchConfigError(f"surface '{self.surface}': expected surfel or voxel")
        if self.hd95 not in ("max", "pooled"):
            raise BatchConfigError(f"hd95 '{self.hd95}': expected max or pooled")
        if self.nsd_tolerance_mm <= 0:
            raise BatchConfigError(f"nsd_tolerance_mm {self.nsd_tolerance_mm}: must be positive")

    def as_dict(self) -> dict[str, Any]:
        return {
            "nsd_tolerance_mm": self.nsd_tolerance_mm,
            "surface": self.surface,
            "hd95": self.hd95,
            "resample_pred": self.resample_pred,
            "device": self.device,
        }


@dataclass(frozen=True)
class ModelSource:
    """One competing model: its name, the folder of its predictions (one file per case) and label map."""

    name: str
    prediction_dir: Path
    label_map: Path | None = None


@dataclass(frozen=True)
class CompareConfig:
    """A whole comparison: ground truth, models, optional images and case table, and the settings."""

    gt_dir: Path
    models: tuple[ModelSource, ...]
    gt_label_map: Path | None = None
    image_dir: Path | None = None
    cases_csv: Path | None = None
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    workers: int = field(default_factory=lambda: os.cpu_count() or 1, compare=False)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings, compare=False)

    def __post_init__(self) -> None:
        if not self.models:
            raise BatchConfigError("no model to compare: give at least one --pred NAME=DIR")
        names = [model.name for model in self.models]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise BatchConfigError(f"model name '{duplicates[0]}' is given twice")
        unknown_cards = sorted(card.model for card in self.analysis.model_cards if card.model not in names)
        if unknown_cards:
            raise BatchConfigError(
                f"model card given for '{unknown_cards[0]}', which is not a compared model"
            )
        if self.workers < 1:
            raise BatchConfigError(f"workers {self.workers}: must be at least 1")

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready content, paths as strings; ``workers`` and ``executor`` left out since they never
        change results (a Dask run and a local run have one config hash)."""
        return {
            "gt_dir": str(self.gt_dir),
            "gt_label_map": _optional_path(self.gt_label_map),
            "image_dir": _optional_path(self.image_dir),
            "cases_csv": _optional_path(self.cases_csv),
            "models": [
                {
                    "name": m.name,
                    "prediction_dir": str(m.prediction_dir),
                    "label_map": _optional_path(m.label_map),
                }
                for m in self.models
            ],
            "scoring": self.scoring.as_dict(),
            "analysis": self.analysis.as_dict(),
        }


def config_hash(content: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON (sorted keys) of a config's ``as_dict()``."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_name_value(text: str, *, option: str) -> tuple[str, str]:
    """Split a ``NAME=VALUE`` command-line value, naming the option when it is malformed."""
    name, separator, value = text.partition("=")
    if not separator or not name.strip() or not value.strip():
        raise BatchConfigError(f"{option} '{text}': expected NAME=VALUE")
    return name.strip(), value.strip()


def load_config(path: str | Path, *, workers: int | None = None) -> CompareConfig:
    """Read a YAML comparison config; relative paths are resolved against the YAML file's folder.

    Keys: ``dataset`` (name), ``ground_truth`` (dir, label_map), ``images`` (dir), ``cases`` (csv),
    ``models`` (list of name, dir, label_map, card: a YAML path or an inline mapping), ``scoring`` and
    ``analysis`` (the fields of ScoringSettings and AnalysisSettings), ``executor`` (ExecutorSettings:
    ``scheduler``). docs/batch.md has an example.
    """
    path = Path(path)
    if not path.is_file():
        raise BatchConfigError(f"{path}: config file not found")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise BatchConfigError(f"{path}: not a readable YAML config ({error})") from None
    if not isinstance(content, Mapping):
        raise BatchConfigError(f"{path}: expected a YAML mapping at the top level")
    base = path.parent
    ground_truth = _section(content, "ground_truth", path)
    if "dir" not in ground_truth:
        raise BatchConfigError(f"{path}: ground_truth.dir is required")
    models, cards = [], []
    for index, entry in enumerate(content.get("models") or []):
        if not isinstance(entry, Mapping) or "name" not in entry or "dir" not in entry:
            raise BatchConfigError(f"{path}: models[{index}] needs a name and a dir")
        name = str(entry["name"])
        models.append(ModelSource(name, _resolve(base, entry["dir"]), _resolve(base, entry.get("label_map"))))
        card = entry.get("card")
        if isinstance(card, Mapping):
            cards.append(ModelCard.from_mapping(name, card, source=f"{path} (models[{index}].card)"))
        elif card is not None:
            cards.append(ModelCard.load(name, _resolve(base, card)))
    analysis_section = dict(_section(content, "analysis", path))
    unknown = set(analysis_section) - set(AnalysisSettings.__dataclass_fields__) - {"model_cards"}
    scoring_section = _section(content, "scoring", path)
    unknown |= set(scoring_section) - set(ScoringSettings.__dataclass_fields__)
    executor_section = _section(content, "executor", path)
    unknown |= set(executor_section) - set(ExecutorSettings.__dataclass_fields__)
    if unknown:
        raise BatchConfigError(f"{path}: unknown setting '{sorted(unknown)[0]}'")
    dataset = content.get("dataset", "")
    dataset_name = dataset.get("name", "") if isinstance(dataset, Mapping) else str(dataset)
    analysis = AnalysisSettings(
        dataset_name=dataset_name,
        **{
            key: tuple(value) if isinstance(value, list) else value for key, value in analysis_section.items()
        },
        model_cards=tuple(cards),
    )
    return CompareConfig(
        gt_dir=_resolve(base, ground_truth["dir"]),
        gt_label_map=_resolve(base, ground_truth.get("label_map")),
        image_dir=_resolve(base, _section(content, "images", path).get("dir")),
        cases_csv=_resolve(base, content.get("cases")),
        models=tuple(models),
        scoring=ScoringSettings(**scoring_section),
        analysis=analysis,
        workers=workers or os.cpu_count() or 1,
        executor=ExecutorSettings(**executor_section),
    )


def model_cards_from_flags(values: Sequence[str]) -> tuple[ModelCard, ...]:
    """``--model-card NAME=YAML`` values as cards."""
    return tuple(ModelCard.load(*parse_name_value(value, option="--model-card")) for value in values)


def _section(content: Mapping[str, Any], key: str, path: Path) -> Mapping[str, Any]:
    section = content.get(key) or {}
    if not isinstance(section, Mapping):
        raise BatchConfigError(f"{path}: '{key}' must be a mapping")
    return section


def _resolve(base: Path, value: Any) -> Path | None:
    if value is None or value == "":
        return None
    candidate = Path(str(value)).expanduser()
    return candidate if candidate.is_absolute() else base / candidate


def _optional_path(path: Path | None) -> str | None:
    return None if path is None else str(path)
