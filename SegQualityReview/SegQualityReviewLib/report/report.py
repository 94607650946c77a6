"""report.html: one self-contained page (inline PNG plots) rendered by jinja2 with autoescape on.

Every user-provided string (case ids, file names, metadata, model and structure names) reaches the page
only through the template's escaping, never by string concatenation, and reaches the figures as literal
text. The page answers "which model, how sure" at the top (``summary``), then gives the detail per
structure (``sections``), the missing-data accounting, failures with their views (``gallery``),
subgroups, power, sensitivity analyses and provenance, the long parts collapsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import jinja2
import pandas as pd

from ..batch.cases import Case
from ..batch.config import CompareConfig
from .formatting import (
    format_interval,
    format_level,
    format_number,
    format_p_value,
    method_label,
    verdict_label,
)
from .gallery import GALLERY_PER_MODEL, failure_gallery
from .plots import failure_mode_plot
from .predicted import predicted_context
from .sections import MAX_PLOTTED_STRUCTURES, structure_sections
from .summary import (
    heatmap,
    interval_legend,
    lead_sentence,
    leaderboard_rows,
    metric_labels,
    primary_analysis_line,
    structure_sentences,
)

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
    """The report templates' jinja2 environment: autoescape on (every user string escaped), undefined
    variables an error, and the number, interval, level, p-value and method filters."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["num"] = format_number
    environment.filters["interval"] = format_interval
    environment.filters["level"] = format_level
    environment.filters["p"] = format_p_value
    environment.filters["method"] = method_label
    environment.filters["verdict"] = verdict_label
    return environment


def report_context(inputs: ReportInputs) -> dict[str, Any]:
    """The template's variables: the summary, per-structure sections and the other sections' rows."""
    results = inputs.results
    analysis = results["analysis"]
    metrics = analysis["metrics"]
    primary_metric = metrics[0]
    scoring = results["config"].get("scoring") or {}
    labels = metric_labels(metrics, analysis["metric_units"], scoring.get("nsd_tolerance_mm"))
    families = analysis["families"]
    leaderboard = analysis["leaderboard"]
    board = leaderboard_rows(leaderboard)
    order = [row["model"] for row in board] + [
        m for m in analysis["models"] if m not in {r["model"] for r in board}
    ]
    higher_is_better = next((f["higher_is_better"] for f in families if f["metric"] == primary_metric), True)
    n_families = sum(1 for family in families if family["ranking"])
    sections = structure_sections(
        families, table=inputs.table, structures=analysis["structures"], metrics=metrics, labels=labels
    )
    return {
        "title": inputs.title
        or f"Model comparison: {results['config'].get('analysis', {}).get('dataset_name') or 'unnamed dataset'}",
        "description": inputs.description,
        "results": results,
        "analysis": analysis,
        "labels": labels,
        "primary_metric": primary_metric,
        "primary_line": primary_analysis_line(analysis["primary"], n_families=n_families),
        "interval_legend": interval_legend(analysis["primary"]),
        "single_patient": analysis["n_patients"] == 1,
        "leaderboard": leaderboard,
        "leaderboard_rows": board,
        "overall_sentence": lead_sentence(
            leaderboard["ranking"],
            subject=f"overall {labels[primary_metric]} (mean over {len(leaderboard['structures'])} structures)",
        ),
        "sentences": structure_sentences(families, metric=primary_metric, label=labels[primary_metric]),
        "heatmap": heatmap(families, metric=primary_metric, models=order, higher_is_better=higher_is_better),
        "sections": sections,
        "n_structures_plotted": min(MAX_PLOTTED_STRUCTURES, len(sections)),
        "unscored_structures": [
            s for s in analysis["structures"] if s not in {section["name"] for section in sections}
        ],
        "failure_plot": failure_mode_plot(analysis["failure_modes"], models=order)
        if analysis["failure_modes"]
        else None,
        "pooled_failures": sorted(
            (entry for entry in analysis["failure_modes"] if entry["structure"] is None),
            key=lambda entry: order.index(entry["model"]) if entry["model"] in order else len(order),
        ),
        "gallery": failure_gallery(
            inputs.table,
            models=order,
            metric=primary_metric,
            higher_is_better=higher_is_better,
            cases=inputs.cases,
            config=inputs.config,
        ),
        "gallery_per_model": GALLERY_PER_MODEL,
        "files_known": inputs.config is not None,
        "power_rows": [family for family in families if family["power"]],
        "subgroups": analysis["subgroups"],
        "models_in_order": order,
        "predicted": predicted_context(results.get("predicted_quality")),
        "resolution_notes": [
            f"{family['structure']} {labels[family['metric']]}: {family['resolution_note']}"
            for family in families
            if family.get("resolution_note")
        ],
    }
