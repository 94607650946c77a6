"""A comparison's results.json as the rows the Slicer Batch tab shows, and the files of one case."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..batch.case_ids import entry_for_case
from ..errors import SegQualityError


class CompareInputError(SegQualityError):
    """The Batch tab's fields do not describe a comparison (no reference folder, a malformed model entry)."""


def compare_config(
    *,
    reference_folder: str | Path,
    predictions: str,
    cases_csv: str | Path | None = None,
    model_cards_folder: str | Path | None = None,
) -> dict[str, Any]:
    """A ``segquality compare`` YAML config (as a dict) from the Batch tab's fields.

    ``predictions`` holds ``name=folder`` entries separated by semicolons or line breaks. A model gets
    the card ``<model_cards_folder>/<name>.yaml`` when that file exists.
    """
    if not _given(reference_folder) or not Path(reference_folder).is_dir():
        raise CompareInputError(f"{reference_folder}: the reference folder does not exist")
    models = []
    for entry in predictions.replace("\n", ";").split(";"):
        if not entry.strip():
            continue
        name, separator, folder = (part.strip() for part in entry.partition("="))
        if not separator or not name or not folder:
            raise CompareInputError(f"prediction entry '{entry.strip()}': expected name=folder")
        if not Path(folder).is_dir():
            raise CompareInputError(f"{folder}: the prediction folder of model '{name}' does not exist")
        model: dict[str, Any] = {"name": name, "dir": str(folder)}
        if _given(model_cards_folder) and (Path(model_cards_folder) / f"{name}.yaml").is_file():
            model["card"] = str(Path(model_cards_folder) / f"{name}.yaml")
        models.append(model)
    if not models:
        raise CompareInputError("no prediction folder given: add name=folder entries")
    config: dict[str, Any] = {"ground_truth": {"dir": str(reference_folder)}, "models": models}
    if _given(cases_csv):
        config["cases"] = str(cases_csv)
    return config


def summary_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per (structure, metric, model): mean with its interval, rank with its interval, P(rank 1),
    and the family's Kendall tau stability; models in ranking order where a ranking exists."""
    rows = []
    for family in results.get("analysis", {}).get("families", []):
        ranking = family.get("ranking") or {}
        ranks = {entry["model"]: entry for entry in ranking.get("models", [])}
        order = {model: index for index, model in enumerate(ranks)}
        estimates = sorted(family.get("estimates", []), key=lambda e: order.get(e["model"], len(order)))
        for estimate in estimates:
            mean = estimate.get("mean") or {}
            rank = ranks.get(estimate["model"], {})
            rows.append(
                {
                    "structure": family["structure"],
                    "metric": family["metric"],
                    "model": estimate["model"],
                    "mean": mean.get("estimate"),
                    "ci_low": mean.get("low"),
                    "ci_high": mean.get("high"),
                    "rank": rank.get("rank"),
                    "rank_interval": f"{rank['rank_low']}-{rank['rank_high']}" if rank else "",
                    "p_rank_1": rank.get("p_first"),
                    "tied_leader": rank.get("tied_leader", False),
                    "kendall_tau": ranking.get("kendall_tau_mean"),
                    "contaminated": estimate.get("contaminated", False),
                    "n_patients": family.get("n_patients"),
                }
            )
    return rows


def worst_case_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The worst (case, structure) cells of every model, worst first within each model."""
    worst = results.get("analysis", {}).get("worst_cases", {})
    return [{"model": model, **entry} for model, entries in worst.items() for entry in entries]


def case_files(results: Mapping[str, Any], case_id: str) -> dict[str, Path]:
    """The image, reference and every model's prediction of one case, found by case id (file name
    without its suffix) in the folders the comparison's config names; roles absent on disk are left out."""
    config = results.get("config", {})
    folders = {"image": config.get("image_dir"), "reference": config.get("gt_dir")}
    folders.update({model["name"]: model.get("prediction_dir") for model in config.get("models", [])})
    found = {}
    for role, folder in folders.items():
        if folder:
            path = _file_for_case(Path(folder), case_id)
            if path is not None:
                found[role] = path
    return found


def _given(path: str | Path | None) -> bool:
    """Whether a path field was filled in (a Slicer path parameter left empty reads as ".")."""
    return path is not None and str(path) not in ("", ".")


def _file_for_case(folder: Path, case_id: str) -> Path | None:
    return entry_for_case(folder, case_id)
