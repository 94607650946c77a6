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
from .missing import MissingDataSettings
from .model_cards import ModelCard
from .settings_schema import check_instance, rule, section_values

# Metrics where a smaller value is better; every other metric is ranked higher-is-better.
DEFAULT_LOWER_IS_BETTER = ("hd", "hd95", "assd", "masd")
DEFAULT_METRICS = ("dice", "nsd", "hd95")
# Metrics with a long right tail (distances): their means get bootstrap-t intervals (docs/statistics.md).
DEFAULT_SKEWED_METRICS = ("hd", "hd95", "assd", "masd")
STATISTICS = ("mean", "median")
PRIMARY_TESTS = ("permutation", "wilcoxon")
MULTIPLICITY_SCOPES = ("family", "all")


@dataclass(frozen=True)
class AnalysisSettings:
    """Everything the statistics need besides the long table; stored in results.json for reanalysis.

    The YAML ``analysis:`` section; each field's ``rule`` is checked for the YAML, the flags and Python.
    """

    dataset_name: str = field(default="", metadata=rule(in_yaml=False))
    metrics: tuple[str, ...] = field(
        default=DEFAULT_METRICS, metadata=rule(non_empty=True, doc="metrics to analyse")
    )
    lower_is_better: tuple[str, ...] = field(
        default=DEFAULT_LOWER_IS_BETTER, metadata=rule(doc="metrics ranked lower-is-better")
    )
    n_resamples: int = field(default=10_000, metadata=rule(minimum=100, doc="bootstrap resamples B"))
    seed: int = field(default=0, metadata=rule(minimum=0, doc="random seed of the resampling"))
    confidence_level: float = field(default=0.95, metadata=rule(above=0.5, below=1, doc="interval level"))
    worst_k: int = field(default=5, metadata=rule(minimum=1, doc="worst cases listed per model"))
    model_cards: tuple[ModelCard, ...] = field(default=(), metadata=rule(in_yaml=False))
    # (metric, margin) pairs: pairwise TOST equivalence within +-margin for that metric.
    equivalence_margins: tuple[tuple[str, float], ...] = field(
        default=(),
        metadata=rule(yaml_type="Mapping[str, float]", above=0, doc="TOST margin per metric"),
    )
    # The pre-specified primary analysis: it alone decides rankings and verdicts (docs/statistics.md).
    statistic: str = field(
        default="mean", metadata=rule(choices=STATISTICS, doc="primary statistic per model")
    )
    primary_test: str = field(
        default="permutation",
        metadata=rule(choices=PRIMARY_TESTS, doc="paired test that gives every verdict"),
    )
    multiplicity: str = field(
        default="family",
        metadata=rule(
            choices=MULTIPLICITY_SCOPES, doc="Holm within each structure-metric family, or across all"
        ),
    )
    skewed_metrics: tuple[str, ...] = field(
        default=DEFAULT_SKEWED_METRICS, metadata=rule(doc="metrics whose means get bootstrap-t intervals")
    )
    # The top-level ``missing:`` section of the YAML config, kept with the analysis it changes.
    missing: MissingDataSettings = field(default_factory=MissingDataSettings, metadata=rule(in_yaml=False))

    def __post_init__(self) -> None:
        if isinstance(self.missing, Mapping):
            object.__setattr__(self, "missing", MissingDataSettings.from_dict(self.missing))
        if isinstance(self.equivalence_margins, Mapping):
            object.__setattr__(self, "equivalence_margins", tuple(sorted(self.equivalence_margins.items())))
        for metric, margin in self.equivalence_margins:
            if not isinstance(margin, (int, float)) or isinstance(margin, bool) or not margin > 0:
                raise BatchConfigError(
                    f"equivalence margin for '{metric}' must be a positive number, not {margin!r}"
                )
        check_instance(self, where="analysis")

    def higher_is_better(self, metric: str) -> bool:
        return metric not in self.lower_is_better

    def skewed(self, metric: str) -> bool:
        return metric in self.skewed_metrics

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
            "statistic": self.statistic,
            "primary_test": self.primary_test,
            "multiplicity": self.multiplicity,
            "skewed_metrics": list(self.skewed_metrics),
            "missing": self.missing.as_dict(),
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
            statistic=content.get("statistic", "mean"),
            primary_test=content.get("primary_test", "permutation"),
            multiplicity=content.get("multiplicity", "family"),
            skewed_metrics=tuple(content.get("skewed_metrics", DEFAULT_SKEWED_METRICS)),
            missing=MissingDataSettings.from_dict(content.get("missing", {})),
        )


@dataclass(frozen=True)
class ScoringSettings:
    """Options passed to the metric core for every cell; part of each cell's cache key (YAML ``scoring:``)."""

    nsd_tolerance_mm: float = field(default=2.0, metadata=rule(above=0, doc="NSD tolerance in mm"))
    surface: str = field(
        default="surfel", metadata=rule(choices=("surfel", "voxel"), doc="surface definition")
    )
    hd95: str = field(default="max", metadata=rule(choices=("max", "pooled"), doc="HD95 definition"))
    resample_pred: bool = field(
        default=False, metadata=rule(doc="resample predictions onto the reference grid (nearest)")
    )
    trust_gt_geometry: bool = field(
        default=False, metadata=rule(doc="same voxel matrix, wrong header: copy the reference geometry")
    )
    device: str = field(default="auto", metadata=rule(choices=("auto", "cpu", "cuda"), doc="metric device"))

    def __post_init__(self) -> None:
        check_instance(self, where="scoring")
        if self.resample_pred and self.trust_gt_geometry:
            raise BatchConfigError(
                "scoring: resample_pred and trust_gt_geometry exclude each other; choose one"
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "nsd_tolerance_mm": self.nsd_tolerance_mm,
            "surface": self.surface,
            "hd95": self.hd95,
            "resample_pred": self.resample_pred,
            "trust_gt_geometry": self.trust_gt_geometry,
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
    # The YAML file it was read from, if any: an input, though not part of the results.
    config_path: Path | None = field(default=None, compare=False)
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

    def input_paths(self) -> list[tuple[str, Path]]:
        """Every file and folder the comparison reads, with the config key naming it (output checks)."""
        paths = [("ground_truth.dir", self.gt_dir)]
        optional = [
            ("ground_truth.label_map", self.gt_label_map),
            ("images.dir", self.image_dir),
            ("cases", self.cases_csv),
            ("config", self.config_path),
        ]
        for index, model in enumerate(self.models):
            optional += [
                (f"models[{index}].dir", model.prediction_dir),
                (f"models[{index}].label_map", model.label_map),
            ]
        optional += [
            (f"model card of '{card.model}'", Path(card.source))
            for card in self.analysis.model_cards
            if Path(card.source).is_file()
        ]
        return paths + [(label, path) for label, path in optional if path is not None]

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


@dataclass(frozen=True)
class DatasetSection:
    """YAML ``dataset:``: the evaluated dataset (or just its name as text)."""

    name: str = field(default="", metadata=rule(doc="evaluated dataset, e.g. BraTS/2021/val (contamination)"))


@dataclass(frozen=True)
class GroundTruthSection:
    """YAML ``ground_truth:``: the reference label images, one per case."""

    dir: Path = field(metadata=rule(doc="folder of reference label images, one per case"))
    label_map: Path | None = field(default=None, metadata=rule(doc="label map JSON of the references"))


@dataclass(frozen=True)
class ImagesSection:
    """YAML ``images:``: intensity images by case id, for the worst-case thumbnails."""

    dir: Path | None = field(default=None, metadata=rule(doc="folder of images by case id"))


@dataclass(frozen=True)
class ModelCardSection:
    """An inline ``models[].card``: what the model declares (a card file may hold more keys)."""

    version: str | int | float = field(default="", metadata=rule(doc="model version"))
    training_datasets: tuple[str, ...] = field(default=(), metadata=rule(doc="datasets it was trained on"))
    structures: tuple[str, ...] = field(
        default=(), metadata=rule(doc="structures it segments; others are not_supported (none: all)")
    )


@dataclass(frozen=True)
class ModelEntry:
    """One item of YAML ``models:``."""

    name: str = field(metadata=rule(doc="model name, as the report shows it"))
    dir: Path = field(metadata=rule(doc="folder of its predictions, one file per case"))
    label_map: Path | None = field(default=None, metadata=rule(doc="label map JSON of its predictions"))
    card: Path | ModelCardSection | None = field(
        default=None, metadata=rule(doc="model card: a YAML file or an inline mapping")
    )


@dataclass(frozen=True)
class ConfigFile:
    """The layout of a comparison YAML: one field per top-level key, each a section checked by its fields.

    A new section is one line here (``missing: MissingPolicy = field(default_factory=MissingPolicy)``)
    plus its use in ``load_config``; unknown keys, types and ranges are then checked for it too.
    """

    ground_truth: GroundTruthSection = field(metadata=rule(doc="the reference labels"))
    models: tuple[ModelEntry, ...] = field(default=(), metadata=rule(doc="the compared models"))
    dataset: DatasetSection | str = field(default="", metadata=rule(doc="the evaluated dataset"))
    images: ImagesSection | None = field(default=None, metadata=rule(doc="images for thumbnails"))
    cases: Path | None = field(default=None, metadata=rule(doc="case table CSV: case_id, patient_id, ..."))
    scoring: ScoringSettings = field(default_factory=ScoringSettings, metadata=rule(doc="metric options"))
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings, metadata=rule(doc="statistics"))
    missing: MissingDataSettings = field(
        default_factory=MissingDataSettings, metadata=rule(doc="what blank values mean, how cases align")
    )
    executor: ExecutorSettings = field(
        default_factory=ExecutorSettings, metadata=rule(doc="where the cells run (never part of a result)")
    )


def load_config(path: str | Path, *, workers: int | None = None) -> CompareConfig:
    """Read a YAML comparison config; relative paths are resolved against the YAML file's folder.

    Its layout is ``ConfigFile``: every key is checked (unknown ones refused with the nearest valid
    one), every value's type and range too, each error one line naming the file and the key.
    docs/batch.md lists every key.
    """
    path = Path(path)
    source = str(path)
    content = read_yaml_mapping(path, what="config")
    layout = section_values(ConfigFile, content, where="", source=source)
    base = path.parent
    models, cards = [], []
    for index, entry in enumerate(layout.get("models", ())):
        name = entry["name"]
        models.append(ModelSource(name, _resolve(base, entry["dir"]), _resolve(base, entry.get("label_map"))))
        card = entry.get("card")
        if isinstance(card, Mapping):
            cards.append(ModelCard.from_mapping(name, card, source=f"{path} (models[{index}].card)"))
        elif card is not None:
            cards.append(ModelCard.load(name, _resolve(base, card)))
    dataset = layout.get("dataset", "")
    dataset_name = dataset.get("name", "") if isinstance(dataset, Mapping) else dataset
    ground_truth = layout["ground_truth"]
    try:
        scoring = ScoringSettings(**layout.get("scoring", {}))
        analysis = AnalysisSettings(
            dataset_name=dataset_name,
            model_cards=tuple(cards),
            missing=MissingDataSettings(**layout.get("missing", {})),
            **layout.get("analysis", {}),
        )
        return CompareConfig(
            gt_dir=_resolve(base, ground_truth["dir"]),
            gt_label_map=_resolve(base, ground_truth.get("label_map")),
            image_dir=_resolve(base, (layout.get("images") or {}).get("dir")),
            cases_csv=_resolve(base, layout.get("cases")),
            models=tuple(models),
            scoring=scoring,
            analysis=analysis,
            workers=workers or os.cpu_count() or 1,
            config_path=path,
            executor=ExecutorSettings(**layout.get("executor", {})),
        )
    except BatchConfigError as error:
        raise BatchConfigError(f"{path}: {error}") from None


def read_yaml_mapping(path: Path, *, what: str) -> Mapping[str, Any]:
    """A YAML file's top-level mapping; a missing file, bad YAML or a key given twice is one line."""
    if not path.is_file():
        raise BatchConfigError(f"{path}: {what} file not found")
    try:
        content = yaml.load(path.read_text(encoding="utf-8-sig"), Loader=_UniqueKeyLoader)
    except (OSError, UnicodeDecodeError) as error:
        raise BatchConfigError(f"{path}: not a readable YAML {what} ({error})") from None
    except yaml.YAMLError as error:
        raise BatchConfigError(f"{path}: not valid YAML ({_yaml_problem(error)})") from None
    if not isinstance(content, Mapping):
        raise BatchConfigError(f"{path}: expected a YAML mapping at the top level")
    return content


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a mapping naming one key twice is an error, not the last value."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(error: yaml.YAMLError) -> str:
    """One line from a PyYAML error: the problem and where (PyYAML's own message spans several lines)."""
    problem = getattr(error, "problem", None) or getattr(error, "context", None) or str(error).splitlines()[0]
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


def model_cards_from_flags(values: Sequence[str]) -> tuple[ModelCard, ...]:
    """``--model-card NAME=YAML`` values as cards."""
    return tuple(ModelCard.load(*parse_name_value(value, option="--model-card")) for value in values)


def _resolve(base: Path, value: Any) -> Path | None:
    if value is None or value == "":
        return None
    candidate = Path(str(value)).expanduser()
    return candidate if candidate.is_absolute() else base / candidate


def _optional_path(path: Path | None) -> str | None:
    return None if path is None else str(path)
