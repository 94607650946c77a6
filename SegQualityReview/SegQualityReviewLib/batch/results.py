"""results.json: the analysis with everything needed to trace and reproduce it, and the reanalysis check.

Schema in docs/results-schema.md. ``reanalyze`` reads the cases.csv beside results.json, recomputes the
analysis with the recorded settings (seed and B included) and lists every number that moved.
"""

from __future__ import annotations

import json
import math
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

from .. import __version__
from ..stats import json_ready
from .analysis import analyze_table
from .cache import file_sha256
from .config import AnalysisSettings, config_hash
from .errors import ResultsFileError
from .long_table import read_long_table

SCHEMA = "segquality-results/1"
SCORES_FILE = "cases.csv"
_VERSIONED_PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "statsmodels",
    "torch",
    "SimpleITK",
    "matplotlib",
    "jinja2",
)


@dataclass(frozen=True)
class Difference:
    """One number (or entry) of results.json that the reanalysis did not reproduce."""

    path: str
    recorded: Any
    recomputed: Any


def package_versions() -> dict[str, str]:
    """Versions of Python, this package and the libraries that shape the numbers."""
    versions = {"python": platform.python_version(), "SegQualityReviewLib": __version__}
    for name in _VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def build_results(
    *,
    config: Mapping[str, Any],
    settings: AnalysisSettings,
    analysis: Mapping[str, Any],
    scores_path: Path,
    file_hashes: Mapping[str, str],
    run_notes: Mapping[str, Any],
) -> dict[str, Any]:
    """The results.json content; ``config`` is the comparison config (or the analyze options) as a dict."""
    return json_ready(
        {
            "schema": SCHEMA,
            "config": dict(config),
            "config_hash": config_hash(config),
            "seed": settings.seed,
            "n_resamples": settings.n_resamples,
            "confidence_level": settings.confidence_level,
            "versions": package_versions(),
            "scores_file": scores_path.name,
            "scores_sha256": file_sha256(scores_path),
            "file_hashes": dict(file_hashes),
            "run_notes": dict(run_notes),
            "analysis": dict(analysis),
        }
    )


def write_results(results: Mapping[str, Any], path: Path) -> None:
    path.write_text(json.dumps(results, indent=1, allow_nan=False) + "\n", encoding="utf-8")


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results.json this package wrote; raises ``ResultsFileError`` naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ResultsFileError(f"{path}: results file not found")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultsFileError(f"{path}: not a readable JSON results file ({error})") from None
    if not isinstance(results, dict) or results.get("schema") != SCHEMA:
        raise ResultsFileError(f"{path}: not a results file of schema {SCHEMA}")
    return results


def settings_of(results: Mapping[str, Any]) -> AnalysisSettings:
    """The analysis settings recorded in a results.json (``config.analysis``)."""
    return AnalysisSettings.from_dict(results["config"]["analysis"])


def reanalyze(
    results_path: str | Path, *, rel_tolerance: float = 1e-9, abs_tolerance: float = 1e-12
) -> list[Difference]:
    """Recompute the analysis from the recorded cases.csv and settings; the differences beyond tolerance."""
    results_path = Path(results_path)
    results = load_results(results_path)
    scores_path = results_path.parent / results.get("scores_file", SCORES_FILE)
    table = read_long_table(scores_path)
    recomputed = json.loads(json.dumps(json_ready(analyze_table(table, settings_of(results)))))
    differences: list[Difference] = []
    if file_sha256(scores_path) != results.get("scores_sha256"):
        differences.append(
            Difference("scores_sha256", results.get("scores_sha256"), file_sha256(scores_path))
        )
    _compare(results["analysis"], recomputed, "analysis", differences, rel_tolerance, abs_tolerance)
    return differences


def _compare(
    recorded: Any, recomputed: Any, path: str, out: list[Difference], rel: float, absolute: float
) -> None:
    if isinstance(recorded, dict) and isinstance(recomputed, dict):
        for key in sorted(set(recorded) | set(recomputed)):
            _compare(recorded.get(key), recomputed.get(key), f"{path}.{key}", out, rel, absolute)
    elif isinstance(recorded, list) and isinstance(recomputed, list) and len(recorded) == len(recomputed):
        for index, (first, second) in enumerate(zip(recorded, recomputed)):
            _compare(first, second, f"{path}[{index}]", out, rel, absolute)
    elif _is_number(recorded) and _is_number(recomputed):
        if not math.isclose(recorded, recomputed, rel_tol=rel, abs_tol=absolute):
            out.append(Difference(path, recorded, recomputed))
    elif recorded != recomputed:
        out.append(Difference(path, recorded, recomputed))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
