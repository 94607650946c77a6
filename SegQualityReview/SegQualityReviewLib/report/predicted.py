"""The predicted-quality ranking on a page: a section of the comparison report, or the whole report of a
reference-free comparison.

Its first line always says the ranking is an estimate made without references; its verdict is the
stats package's lead sentence on the rank intervals shown beside it, so the two cannot disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .formatting import format_number
from .summary import lead_sentence


def predicted_context(predicted: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The template's view of results.json's ``predicted_quality`` block (None when there is none)."""
    if not predicted:
        return None
    analysis = predicted.get("analysis")
    rows = []
    if analysis:
        means = dict(zip(analysis["models"], analysis["means"]))
        ranks = {entry["model"]: entry for entry in (analysis["ranking"] or {}).get("models", [])}
        order = list(ranks) + [model for model in analysis["models"] if model not in ranks]
        rows = [{"model": model, "score": means[model], "rank": ranks.get(model)} for model in order]
    agreement = predicted.get("agreement_with_reference")
    return {
        "block": predicted,
        "rows": rows,
        "sentence": lead_sentence(
            (analysis or {}).get("ranking"),
            subject=f"predicted Dice (mean over {len(predicted['structures'])} structures)",
        ),
        "agreement_line": _agreement_line(agreement) if agreement else "",
    }


def write_predicted_report(results: Mapping[str, Any], path: Path) -> None:
    """report.html of a reference-free comparison."""
    from .report import template_environment

    html = (
        template_environment()
        .get_template("predicted.html.j2")
        .render(results=results, predicted=predicted_context(results["predicted_quality"]))
    )
    path.write_text(html, encoding="utf-8")


def _agreement_line(agreement: Mapping[str, Any]) -> str:
    tau = agreement.get("kendall_tau")
    if tau is None:
        return f"Against the references: fewer than two models to rank ({agreement['n_cells']} cells)."
    parts = [
        f"Against the references, Kendall tau between the predicted and the true ranking of the models is "
        f"{format_number(tau, 2)} (p {format_number(agreement['kendall_p_value'], 2)}, "
        f"{len(agreement['true_order'])} models); true order {', '.join(agreement['true_order'])}",
    ]
    if agreement.get("pearson_cells") is not None:
        parts.append(
            f"per structure and case, predicted against true Dice: Pearson r {format_number(agreement['pearson_cells'], 2)}, "
            f"MAE {format_number(agreement['mae_cells'], 3)} over {agreement['n_cells']} cells"
        )
    return "; ".join(parts) + "."
