"""The report's top section: which model, how sure, in one screen.

From results.json alone: the overall leaderboard in rank order, one plain sentence per structure (who leads,
who is tied, how sure), a structure x model heatmap of the primary metric, and the lines that must come
before any ranking (label-mapping flags, a single-patient study, metrics left out).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from matplotlib import colormaps

from .formatting import format_level, format_number, method_label, metric_label

HEATMAP_COLORMAP = "cividis"


def leaderboard_rows(leaderboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The leaderboard's models in rank order (unranked ones after), each with its score and rank record."""
    scores = {entry["model"]: entry["score"] for entry in leaderboard.get("estimates", [])}
    ranking = leaderboard.get("ranking") or {}
    ranked = [entry["model"] for entry in ranking.get("models", [])]
    order = ranked + [model for model in scores if model not in ranked]
    ranks = {entry["model"]: entry for entry in ranking.get("models", [])}
    return [{"model": model, "score": scores.get(model), "rank": ranks.get(model)} for model in order]


def lead_sentence(ranking: Optional[Mapping[str, Any]], *, subject: str) -> str:
    """``A leads liver (P(rank 1) 0.86)`` or ``A, B and C are tied on spleen (...)``, from a ranking."""
    if not ranking:
        return ""
    entries = ranking["models"]
    level = format_level(ranking["level"])
    leaders = [entry for entry in entries if entry["tied_leader"]]
    if not leaders:
        best = entries[0]
        return (
            f"No model's {level} rank interval on {subject} contains 1; {best['model']} ranks first as observed "
            f"(P(rank 1) {format_number(best['p_first'], 2)})."
        )
    shares = ", ".join(f"{entry['model']} {format_number(entry['p_first'], 2)}" for entry in leaders)
    if len(leaders) == 1:
        leader = leaders[0]
        return f"{leader['model']} leads {subject} (P(rank 1) {format_number(leader['p_first'], 2)})."
    names = _join([entry["model"] for entry in leaders])
    return f"{names} are tied for the lead on {subject}: their {level} rank intervals contain 1 (P(rank 1): {shares})."


def structure_sentences(
    families: Sequence[Mapping[str, Any]], *, metric: str, label: str
) -> list[dict[str, str]]:
    """One sentence per structure from the primary metric's family, in structure order."""
    sentences = []
    for family in families:
        if family["metric"] != metric:
            continue
        if family["ranking"]:
            text = lead_sentence(family["ranking"], subject=f"{family['structure']} ({label})")
        elif family["note"]:
            text = f"{family['structure']}: {family['note']}."
        else:
            continue
        sentences.append({"structure": family["structure"], "text": text})
    return sentences


def heatmap(
    families: Sequence[Mapping[str, Any]], *, metric: str, models: Sequence[str], higher_is_better: bool
) -> dict[str, Any]:
    """Structure x model cells of the primary metric's mean (or median), coloured on one scale (cividis,
    brighter = better), tied leaders marked."""
    rows = []
    values = []
    for family in families:
        if family["metric"] != metric:
            continue
        ranking = family.get("ranking") or {}
        leaders = set(ranking.get("tied_leaders", []))
        statistic = ranking.get("scheme", "mean")
        estimates = {
            entry["model"]: entry[statistic if statistic in entry else "mean"]
            for entry in family["estimates"]
        }
        cells = []
        for model in models:
            estimate = (estimates.get(model) or {}).get("estimate")
            if estimate is not None:
                values.append(estimate)
            cells.append({"model": model, "value": estimate, "leader": model in leaders})
        rows.append({"structure": family["structure"], "cells": cells})
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    colormap = colormaps[HEATMAP_COLORMAP]
    for row in rows:
        for cell in row["cells"]:
            if cell["value"] is None:
                cell["style"] = ""
                continue
            share = 0.5 if high == low else (cell["value"] - low) / (high - low)
            share = share if higher_is_better else 1.0 - share
            red, green, blue, _ = colormap(share)
            luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
            cell["style"] = (
                f"background:#{int(red * 255):02x}{int(green * 255):02x}{int(blue * 255):02x};"
                f"color:{'#000' if luminance > 0.5 else '#fff'}"
            )
    return {"rows": rows, "models": list(models), "low": low, "high": high}


def primary_analysis_line(primary: Mapping[str, Any], *, n_families: int) -> str:
    """The pre-specified primary analysis in one sentence."""
    test = {
        "permutation": "paired sign-flip permutation tests of the mean difference",
        "wilcoxon": "paired Wilcoxon signed-rank tests of the shift (Hodges-Lehmann)",
    }[primary["test"]]
    scope = (
        f"Holm within each structure-metric family ({n_families} families)"
        if primary["multiplicity"] == "family"
        else f"Holm across all {n_families} families"
    )
    margins = primary.get("equivalence_margins") or {}
    equivalence = (
        "; equivalence when the whole interval lies within "
        + ", ".join(f"±{m} {k}" for k, m in margins.items())
        if margins
        else "; no equivalence margin set (a pair is never called equivalent)"
    )
    return (
        f"Primary analysis (pre-specified in the config; it alone decides ranks and verdicts): models ranked by "
        f"their {primary['statistic']}; pairs decided by {test}, {scope}, at alpha = {primary['alpha']}{equivalence}. "
        f"Cases aligned {'per pair' if primary['alignment'] == 'per_pair' else 'across all models (complete cases)'}."
    )


def interval_legend(primary: Mapping[str, Any], *, small_n_threshold: int = 30) -> list[str]:
    """Which interval each number has, as the report states it once at the top."""
    skewed = ", ".join(primary.get("skewed_metrics") or []) or "none"
    level = format_level(primary["level"])
    return [
        f"Model means: {level} {method_label('t')} below {small_n_threshold} patients, {method_label('bca')} "
        f"(patient-cluster, expanded) from {small_n_threshold}; skewed metrics ({skewed}): {method_label('bootstrap_t')} "
        "at every N. Medians: percentile bootstrap. Rates: Wilson.",
        "Pairwise differences: the primary test inverted at the pair's Holm level (printed beside each interval), "
        "so an interval excludes 0 exactly when the pair is called different.",
        f"Ranks: {level} percentile intervals of the bootstrap ranks; tied leaders are the models whose rank "
        "interval contains 1.",
    ]


def metric_labels(
    metrics: Sequence[str], units: Mapping[str, str], nsd_tolerance_mm: Optional[float]
) -> dict[str, str]:
    return {
        metric: metric_label(metric, unit=units.get(metric, ""), nsd_tolerance_mm=nsd_tolerance_mm)
        for metric in metrics
    }


def _join(names: Sequence[str]) -> str:
    names = [str(name) for name in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
