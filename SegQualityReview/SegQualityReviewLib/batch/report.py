"""report.html: one self-contained page (inline PNG plots) rendered by jinja2 with autoescape on.

Every user-provided string (case ids, file names, metadata, model and structure names) reaches the page
only through the template's escaping, never by string concatenation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import jinja2
import pandas as pd

from .cases import Case
from .config import CompareConfig
from .plots import box_strip_plot, failure_mode_plot, forest_plot, power_plot, rank_stability_plot
from .thumbnails import case_thumbnail

# Scored structures that get figures (box plots, forest plots); every scored structure gets its tables.
MAX_PLOTTED_STRUCTURES = 12
_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class ReportInputs:
    """What the report shows: the long table, results.json content, and (after compare) the files."""

    table: pd.DataFrame
    results: Mapping[str, Any]
    cases: list[Case] | None = None
    config: CompareConfig | None = None
    title: str = ""
    description: str = ""


def write_report(inputs: ReportInputs, path: Path) -> None:
    """Render report.html to ``path``."""
    html = template_environment().get_template("report.html.j2").render(**report_context(inputs))
    path.write_text(html, encoding="utf-8")


def template_environment() -> jinja2.Environment:
    """The batch templates' jinja2 environment: autoescape on (every user string escaped), undefined
    variables an error, and the ``num`` and ``interval`` filters."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["num"] = format_number
    environment.filters["interval"] = format_interval
    return environment


def report_context(inputs: ReportInputs) -> dict[str, Any]:
    """The template's variables: results.json sections regrouped per structure, plus the figures."""
    results = inputs.results
    analysis = results["analysis"]
    models = analysis["models"]
    metrics = analysis["metrics"]
    families = analysis["families"]
    scored = [s for s in analysis["structures"] if any(f["n_cases"] for f in families if f["structure"] == s)]
    structures = []
    for position, structure in enumerate(scored):
        plotted = position < MAX_PLOTTED_STRUCTURES
        mine = [family for family in families if family["structure"] == structure]
        structures.append(
            {
                "name": structure,
                "box_plot": box_strip_plot(inputs.table, structure=structure, metrics=metrics, models=models)
                if plotted
                else None,
                "families": [
                    {
                        **family,
                        "forest": forest_plot(family) if plotted and family["pairwise"] else None,
                        "ranks": _ranks_by_model(family),
                    }
                    for family in mine
                ],
            }
        )
    any_ranking = any(family["ranking"] for family in families)
    return {
        "title": inputs.title
        or f"Model comparison: {results['config'].get('analysis', {}).get('dataset_name') or 'unnamed dataset'}",
        "description": inputs.description,
        "results": results,
        "analysis": analysis,
        "models": models,
        "metrics": metrics,
        "structures": structures,
        "unscored_structures": [s for s in analysis["structures"] if s not in scored],
        "n_structures_plotted": min(MAX_PLOTTED_STRUCTURES, len(structures)),
        "rank_plots": [
            rank_stability_plot(families, metric=m, models=analysis["ranked_models"]) for m in metrics
        ]
        if any_ranking
        else [],
        "power_plots": [power_plot(families, metric=m) for m in metrics] if any_ranking else [],
        "failure_plot": failure_mode_plot(analysis["failure_modes"], models=models),
        "pooled_failures": [entry for entry in analysis["failure_modes"] if entry["structure"] is None],
        "slices": _slice_rows(analysis["slices"], models),
        "worst_cases": _worst_cases(inputs),
        "contaminated": {
            entry["model"]: entry for entry in analysis["contamination"] if entry["contaminated"]
        },
    }


def format_number(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant decimals; an em dash for a missing one."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "\u2014"
    if isinstance(value, int):
        return str(value)
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 10**-digits or magnitude >= 10**6):
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}" if magnitude < 100 else f"{value:.1f}"


def format_interval(interval: Mapping[str, Any] | None) -> str:
    """``estimate [low, high]`` of an interval dict, an end clipped to the metric's range marked with a
    double dagger; just the estimate when it has no bounds."""
    if not interval:
        return "\u2014"
    if interval.get("low") is None or interval.get("high") is None:
        return format_number(interval.get("estimate"))
    clipped = interval.get("clipped") or {}
    low, high = (
        format_number(interval[end]) + ("\u2021" if end in clipped else "") for end in ("low", "high")
    )
    return f"{format_number(interval['estimate'])} [{low}, {high}]"


def _ranks_by_model(family: Mapping[str, Any]) -> dict[str, Any]:
    if not family["ranking"]:
        return {}
    return {entry["model"]: entry for entry in family["ranking"]["models"]}


def _slice_rows(slices: list[Mapping[str, Any]], models: list[str]) -> list[dict[str, Any]]:
    rows = []
    for entry in slices:
        by_model = {estimate["model"]: estimate["mean"] for estimate in entry["estimates"]}
        rows.append({**entry, "cells": [by_model.get(model) for model in models]})
    return rows


def _worst_cases(inputs: ReportInputs) -> list[dict[str, Any]]:
    """Worst cases per model, with a thumbnail when the files are known (compare, not analyze)."""
    cases = {case.case_id: case for case in inputs.cases or []}
    sources = {model.name: model for model in inputs.config.models} if inputs.config else {}
    groups = []
    for model, entries in inputs.results["analysis"]["worst_cases"].items():
        rows = []
        for entry in entries:
            case = cases.get(entry["case_id"])
            thumbnail, caption = None, "no thumbnail: files not known (scores read from a table)"
            if case is not None and model in sources:
                thumbnail, caption = case_thumbnail(
                    structure=entry["structure"],
                    gt_path=case.gt_path,
                    gt_label_map=inputs.config.gt_label_map,
                    pred_path=case.prediction_paths.get(model),
                    pred_label_map=sources[model].label_map,
                    image_path=case.image_path,
                )
            rows.append({**entry, "thumbnail": thumbnail, "caption": caption})
        groups.append({"model": model, "rows": rows})
    return groups
