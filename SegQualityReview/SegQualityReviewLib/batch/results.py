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
from .case_ids import case_id_of
from .config import AnalysisSettings, config_hash
from .errors import ResultsFileError
from .long_table import read_long_table
from .scoring import FAILED, MISSING_PRED

# 2: pairwise verdicts from the pre-specified primary test with inverted intervals, subgroups, leaderboard,
# missing-data accounting (issue 12); a /1 file is refused by reanalyze rather than misread.
SCHEMA = "segquality-results/2"
# Cell statuses that compare imputes and explains in run_notes.imputed_cells.
_NOTED_STATUSES = (FAILED, MISSING_PRED)
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
    config = results.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("analysis"), dict):
        raise ResultsFileError(f"{path}: holds no config.analysis settings to recompute with")
    if not isinstance(results.get("analysis"), dict):
        raise ResultsFileError(f"{path}: holds no analysis block")
    return results


def settings_of(results: Mapping[str, Any]) -> AnalysisSettings:
    """The analysis settings recorded in a results.json (``config.analysis``)."""
    try:
        return AnalysisSettings.from_dict(results["config"]["analysis"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ResultsFileError(f"config.analysis: a recorded setting is malformed ({error})") from None


@dataclass(frozen=True)
class Reanalysis:
    """What ``check_results`` found: every number or record that did not reproduce, and the input files
    whose recorded hashes could not be checked because they are not there."""

    differences: tuple[Difference, ...]
    absent_files: tuple[str, ...]


def reanalyze(
    results_path: str | Path, *, rel_tolerance: float = 1e-9, abs_tolerance: float = 1e-12
) -> list[Difference]:
    """Recompute the analysis from the recorded cases.csv and settings; the differences beyond tolerance.

    Also checks the provenance (``check_results``); an empty list means everything reproduced.
    """
    return list(
        check_results(results_path, rel_tolerance=rel_tolerance, abs_tolerance=abs_tolerance).differences
    )


def check_results(
    results_path: str | Path, *, rel_tolerance: float = 1e-9, abs_tolerance: float = 1e-12
) -> Reanalysis:
    """Check a results.json against what it was computed from.

    - ``analysis``: recomputed from cases.csv with the recorded settings, number by number;
    - ``scores_sha256``: the sha256 of cases.csv;
    - ``config_hash``: recomputed from the recorded ``config``, so an edited setting shows;
    - ``file_hashes``: every recorded input that is present is hashed again; every case of cases.csv
      must have a recorded file; absent files are listed, not counted as differences;
    - ``run_notes.imputed_cells``: exactly the cells that cases.csv marks ``failed`` or ``missing_pred``.
    """
    results_path = Path(results_path)
    results = load_results(results_path)
    scores_path = results_path.parent / results.get("scores_file", SCORES_FILE)
    try:
        settings = settings_of(results)
    except ResultsFileError as error:
        raise ResultsFileError(f"{results_path}: {error}") from None
    table = read_long_table(scores_path, blank=settings.missing.blank)
    recomputed = json.loads(json.dumps(json_ready(analyze_table(table, settings, source=str(scores_path)))))
    differences: list[Difference] = []
    if file_sha256(scores_path) != results.get("scores_sha256"):
        differences.append(
            Difference("scores_sha256", results.get("scores_sha256"), file_sha256(scores_path))
        )
    recorded_config = results.get("config")
    if not isinstance(recorded_config, dict) or config_hash(recorded_config) != results.get("config_hash"):
        differences.append(
            Difference("config_hash", results.get("config_hash"), config_hash(recorded_config or {}))
        )
    absent = _check_file_hashes(results, table, differences)
    _check_imputed_notes(results, table, differences)
    _compare(results["analysis"], recomputed, "analysis", differences, rel_tolerance, abs_tolerance)
    return Reanalysis(tuple(differences), tuple(absent))


def _check_file_hashes(results: Mapping[str, Any], table, differences: list[Difference]) -> list[str]:
    """Re-hash every recorded input that is present; the recorded ones that are absent."""
    hashes = results.get("file_hashes")
    if not isinstance(hashes, dict):
        differences.append(Difference("file_hashes", hashes, "a mapping of path to sha256"))
        return []
    absent = []
    for path_text, recorded in sorted(hashes.items()):
        path = Path(path_text)
        if not path.is_file():
            absent.append(path_text)
            continue
        actual = file_sha256(path)
        if actual != recorded:
            differences.append(Difference(f"file_hashes[{path_text}]", recorded, actual))
    config = results.get("config") or {}
    if "scores" in config and config["scores"] not in hashes:
        differences.append(Difference(f"file_hashes[{config['scores']}]", None, "the analysed score table"))
    if "gt_dir" in config:
        recorded_cases = {case_id_of(Path(path)) for path in hashes} | {
            part for path in hashes for part in Path(path).parts
        }
        for case_id in dict.fromkeys(table["case_id"]):
            if case_id not in recorded_cases:
                differences.append(
                    Difference(f"file_hashes (case '{case_id}')", None, "the files the case was scored from")
                )
    return absent


def _check_imputed_notes(results: Mapping[str, Any], table, differences: list[Difference]) -> None:
    """Every failed or missing cell of cases.csv has a note saying why, and every note such a cell."""
    notes = (results.get("run_notes") or {}).get("imputed_cells")
    if "gt_dir" not in (results.get("config") or {}):
        return
    noted = {(entry.get("case_id"), entry.get("model")) for entry in notes or [] if isinstance(entry, dict)}
    imputed_rows = table[table["status"].isin(_NOTED_STATUSES)]
    imputed = set(zip(imputed_rows["case_id"], imputed_rows["model"]))
    for case_id, model in sorted(imputed - noted):
        differences.append(
            Difference(
                f"run_notes.imputed_cells (case '{case_id}', model '{model}')",
                None,
                "a note: cases.csv marks the cell imputed",
            )
        )
    for case_id, model in sorted(noted - imputed, key=str):
        differences.append(
            Difference(
                f"run_notes.imputed_cells (case '{case_id}', model '{model}')",
                "a note",
                "no imputed cell in cases.csv",
            )
        )


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
