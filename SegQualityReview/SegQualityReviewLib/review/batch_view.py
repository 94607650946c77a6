"""A comparison's results.json as the rows the Slicer Batch tab shows, and the files of one case."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

_SUFFIXES = (".seg.nrrd", ".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")


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


def _file_for_case(folder: Path, case_id: str) -> Path | None:
    if not folder.is_dir():
        return None
    for path in sorted(folder.iterdir()):
        name = path.name
        for suffix in _SUFFIXES:
            if name.lower().endswith(suffix) and name[: -len(suffix)] == case_id:
                return path
    return None
