"""Per-structure sections of the report: tables in rank order, the significance matrix, pairs, figures.

Pairs are shown with the better-ranked model first (the difference and its interval turned around when
results.json lists them the other way), so every table reads top-down in rank order.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import pandas as pd

from .formatting import format_interval, format_level, verdict_label
from .plots import distribution_plot, paired_plot, rank_blob_plot
from .summary import lead_sentence

# Structures (of the study's order) that get figures; every structure gets its tables.
MAX_PLOTTED_STRUCTURES = 12
MATRIX_SYMBOLS = {"better": "\u25b2", "worse": "\u25bc", "equivalent": "=", "not_separable": "\u00b7"}


def structure_sections(
    families: Sequence[Mapping[str, Any]],
    *,
    table: pd.DataFrame,
    structures: Sequence[str],
    metrics: Sequence[str],
    labels: Mapping[str, str],
) -> list[dict[str, Any]]:
    """One section per structure with families, in the study's structure order."""
    by_structure: dict[str, list[Mapping[str, Any]]] = {}
    for family in families:
        by_structure.setdefault(family["structure"], []).append(family)
    sections = []
    for structure in structures:
        mine = by_structure.get(structure, [])
        if not any(family["n_cases"] for family in mine):
            continue
        plotted = len(sections) < MAX_PLOTTED_STRUCTURES
        primary = mine[0]
        order = _rank_order(primary)
        section = {
            "name": structure,
            "anchor": f"structure-{len(sections)}",
            "sentence": lead_sentence(
                primary["ranking"], subject=f"{structure} ({labels[primary['metric']]})"
            )
            if primary["ranking"]
            else primary["note"],
            "families": [_family_view(family, labels=labels, plotted=plotted) for family in mine],
            "paired_plot": None,
            "distribution_plot": None,
        }
        if plotted:
            ranking = primary["ranking"]
            if ranking and len(ranking["models"]) >= 2:
                first, second = ranking["models"][0]["model"], ranking["models"][1]["model"]
                section["paired_plot"] = paired_plot(
                    table,
                    structure=structure,
                    metric=primary["metric"],
                    first=first,
                    second=second,
                    label=labels[primary["metric"]],
                )
            shown = [family["metric"] for family in mine]
            section["distribution_plot"] = distribution_plot(
                table,
                structure=structure,
                metrics=shown,
                labels=labels,
                models=order,
                capped={family["metric"]: family["unit"] == "mm" for family in mine},
            )
        sections.append(section)
    return sections


def _family_view(family: Mapping[str, Any], *, labels: Mapping[str, str], plotted: bool) -> dict[str, Any]:
    ranking = family["ranking"]
    ranks = {entry["model"]: entry for entry in ranking["models"]} if ranking else {}
    order = _rank_order(family)
    estimates = {entry["model"]: entry for entry in family["estimates"]}
    rows = [{**estimates[model], "rank": ranks.get(model)} for model in order if model in estimates]
    competitors = [entry["model"] for entry in ranking["models"]] if ranking else []
    pairs = [_oriented(pair, competitors) for pair in family["pairwise"]]
    pairs.sort(key=lambda pair: (competitors.index(pair["model_a"]), competitors.index(pair["model_b"])))
    return {
        **family,
        "label": labels[family["metric"]],
        "rows": rows,
        "pairs": pairs,
        "matrix": significance_matrix(family["pairwise"], competitors),
        "blob_plot": rank_blob_plot(
            ranking, title=f"{family['structure']}: {labels[family['metric']]}, bootstrap ranks"
        )
        if plotted and ranking
        else None,
        "schemes": _schemes(family),
    }


def significance_matrix(pairs: Sequence[Mapping[str, Any]], models: Sequence[str]) -> list[dict[str, Any]]:
    """challengeR's significance map as rows: cell (row, column) says whether the row model is better,
    worse, equivalent or not separable from the column model under the primary analysis."""
    verdicts: dict[tuple[str, str], tuple[str, str]] = {}
    for pair in pairs:
        a, b = pair["model_a"], pair["model_b"]
        title = (
            f"{a} - {b}: {format_interval(pair['difference'])} at {format_level(pair['difference']['level'])}"
        )
        if pair["verdict"] == "a_better":
            verdicts[(a, b)], verdicts[(b, a)] = ("better", title), ("worse", title)
        elif pair["verdict"] == "b_better":
            verdicts[(a, b)], verdicts[(b, a)] = ("worse", title), ("better", title)
        else:
            verdicts[(a, b)] = verdicts[(b, a)] = (pair["verdict"], title)
    rows = []
    for index, row_model in enumerate(models):
        cells = []
        for column_model in models:
            if column_model == row_model:
                cells.append({"kind": "self", "symbol": "", "title": ""})
                continue
            kind, title = verdicts.get((row_model, column_model), ("not_separable", ""))
            cells.append({"kind": kind, "symbol": MATRIX_SYMBOLS[kind], "title": title})
        rows.append({"rank": index + 1, "model": row_model, "cells": cells})
    return rows


def _oriented(pair: Mapping[str, Any], order: Sequence[str]) -> dict[str, Any]:
    """The pair with its better-ranked model first; difference, interval and verdict turned with it."""
    if order.index(pair["model_a"]) <= order.index(pair["model_b"]):
        return {**pair, "verdict_text": verdict_label(pair)}
    difference = dict(pair["difference"])
    clipped = difference.get("clipped") or {}
    turned = {
        **difference,
        "estimate": -difference["estimate"],
        "low": None if difference["high"] is None else -difference["high"],
        "high": None if difference["low"] is None else -difference["low"],
        "clipped": {
            end: (None if clipped[other] is None else -clipped[other])
            for end, other in (("low", "high"), ("high", "low"))
            if other in clipped
        },
    }
    verdict = {"a_better": "b_better", "b_better": "a_better"}.get(pair["verdict"], pair["verdict"])
    swapped = {
        **pair,
        "model_a": pair["model_b"],
        "model_b": pair["model_a"],
        "difference": turned,
        "verdict": verdict,
    }
    swapped["verdict_text"] = verdict_label(swapped)
    return swapped


def _rank_order(family: Mapping[str, Any]) -> list[str]:
    """The family's models in rank order, then the unranked (contaminated) ones."""
    ranking = family.get("ranking")
    ranked = [entry["model"] for entry in ranking["models"]] if ranking else []
    return ranked + [entry["model"] for entry in family["estimates"] if entry["model"] not in ranked]


def _schemes(family: Mapping[str, Any]) -> Optional[list[dict[str, Any]]]:
    """Per model its rank under every scheme of the sensitivity analysis."""
    sensitivity = family.get("sensitivity")
    if not sensitivity:
        return None
    schemes = sensitivity["schemes"]
    models = schemes[0]["models"]
    order = _rank_order(family)
    return [
        {"model": model, "ranks": [scheme["ranks"][models.index(model)] for scheme in schemes]}
        for model in order
        if model in models
    ]
