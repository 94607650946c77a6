"""The figures of an estimator evaluation: pooled and per-patient scores per predictor, per source, on
the held-out segmenter family, for wrong labels, against the issue's goals; plots and the summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .evaluation import pooled_and_per_patient, save_scatter, scores

HELD_OUT_FAMILY = "brats2020_algorithms"
WRONG_LABEL_LIMIT = 0.3


def lopo_report(rows, predictions, bounds, threshold) -> dict:
    true = np.array([r["true_dice"] for r in rows])
    patients = [r["patient"] for r in rows]
    out = {}
    for name, values in predictions.items():
        keep = np.isfinite(values)
        low = high = None
        if name in bounds:
            low, high = bounds[name][0][keep], bounds[name][1][keep]
        out[name] = pooled_and_per_patient(
            true[keep],
            values[keep],
            [p for p, k in zip(patients, keep) if k],
            threshold=threshold,
            low=low,
            high=high,
        )
        out[name]["subset"] = "all" if keep.all() else f"{int(keep.sum())} of {keep.size} with this signal"
    agreement = np.isfinite(predictions["agreement_alone"])
    if agreement.any():
        out["fused_on_agreement_subset"] = pooled_and_per_patient(
            true[agreement],
            predictions["fused"][agreement],
            [p for p, k in zip(patients, agreement) if k],
            threshold=threshold,
            low=bounds["fused"][0][agreement],
            high=bounds["fused"][1][agreement],
        )
    return out


def by_source(rows, predicted, bounds, threshold) -> dict:
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        kind = row["kind"]
        key = (
            "reference"
            if kind == "reference"
            else (f"model:{row['family']}" if kind == "model" else f"edit:{kind}")
        )
        groups.setdefault(key, []).append(i)
    true = np.array([r["true_dice"] for r in rows])
    return {
        key: scores(
            true[idx],
            np.asarray(predicted)[idx],
            threshold=threshold,
            low=bounds[0][idx],
            high=bounds[1][idx],
        )
        for key, idx in sorted(groups.items())
    }


def heldout_family(rows, predictions, bounds, threshold) -> dict:
    """The BraTS-2020 algorithms, scored in the fold that left their only patient out: no output of the
    family (and no candidate of that patient) was trained on."""
    real = [i for i, r in enumerate(rows) if r["family"] == HELD_OUT_FAMILY]
    with_edits = (
        real
        + [
            i
            for i, r in enumerate(rows)
            if r["family"] == "synthetic" and "+" in r["source"] and r["patient"] == rows[real[0]]["patient"]
        ]
        if real
        else []
    )
    out = {"family": HELD_OUT_FAMILY}
    true = np.array([r["true_dice"] for r in rows])
    for label, index in (("real_outputs", real), ("real_outputs_and_their_edits", with_edits)):
        if not index:
            continue
        index = np.array(index)
        out[label] = {
            name: scores(
                true[index],
                predictions[name][index],
                threshold=threshold,
                low=bounds[name][0][index] if name in bounds else None,
                high=bounds[name][1][index] if name in bounds else None,
            )
            for name in (
                "fused",
                "fused_no_agreement",
                "constant",
                "shape_heuristic",
                "agreement_alone",
                "medsam_model",
                "classical_model",
            )
            if np.isfinite(predictions[name][index]).all()
        }
    return out


def wrong_label(rows, predicted) -> dict:
    index = [i for i, r in enumerate(rows) if r["kind"] == "wrong_label"]
    if not index:
        return {"n": 0}
    values = np.asarray(predicted)[index]
    return {
        "n": len(index),
        "mean_true_dice": round(float(np.mean([rows[i]["true_dice"] for i in index])), 4),
        "mean_predicted": round(float(values.mean()), 4),
        "share_below_0.3": round(float((values < WRONG_LABEL_LIMIT).mean()), 4),
        "max_predicted": round(float(values.max()), 4),
    }


def goals(report: dict) -> dict:
    pooled = report["lopo"]["fused"]["pooled"]
    family = report["heldout_family"].get("real_outputs_and_their_edits", {}).get("fused", {})
    return {
        "pearson_at_least_0.85": pooled.get("pearson"),
        "mae_at_most_0.10": pooled.get("mae"),
        "auroc_at_least_0.90": pooled.get("auroc_below_threshold"),
        "coverage_0.88_to_0.92": pooled.get("coverage"),
        "heldout_family_pearson_at_least_0.70": family.get("pearson"),
        "wrong_label_below_0.3_share": report["wrong_label"].get("share_below_0.3"),
    }


def plots(rows, predictions, folder: Path) -> None:
    true = np.array([r["true_dice"] for r in rows])
    for name in ("fused", "constant", "classical_model", "medsam_model", "head_alone"):
        keep = np.isfinite(predictions[name])
        if keep.any():
            save_scatter(
                true[keep],
                predictions[name][keep],
                folder / f"lopo_{name}.png",
                title=f"LOPO {name} (n={int(keep.sum())})",
            )


def write_report(report: dict, folder: Path) -> Path:
    """``evaluation.json`` and the model card's tables as ``tables.md`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "evaluation.json"
    path.write_text(json.dumps(report, indent=1, sort_keys=True), encoding="utf-8")
    (folder / "tables.md").write_text(
        markdown_tables(report.get("cross_validation", report) | report), encoding="utf-8"
    )
    return path


def compare_with_stored(report: dict, stored: dict) -> dict:
    """Whether each recomputed headline figure equals the one stored in the weights (to 1e-3)."""
    checks = {}
    for section, view in (("never_trained", "fused"), ("lopo", "fused")):
        mine = report.get(section, {}).get(view, {}).get("pooled") if section in report else None
        theirs = stored.get(section, {}).get(view, {}).get("pooled") if section in stored else None
        if mine is None or theirs is None:
            continue
        for metric in ("mae", "pearson", "auroc_below_threshold", "coverage"):
            a, b = mine.get(metric), theirs.get(metric)
            checks[f"{section}.{view}.{metric}"] = a is not None and b is not None and abs(a - b) <= 1e-3
    return checks


def print_summary(report: dict) -> None:
    """The headline rows, one line each: LOPO, held-out family, never-trained patients."""
    lines = []
    for section in ("lopo", "never_trained"):
        block = report.get(section) or {}
        for name in (
            "fused",
            "fused_no_medsam",
            "fused_classical_only",
            "constant",
            "shape_heuristic",
            "agreement_alone",
        ):
            entry = block.get(name)
            if not entry:
                continue
            pooled = entry["pooled"]
            lines.append(
                f"{section:14s} {name:22s} n={pooled['n']:5d} mae={pooled.get('mae')} pearson={pooled.get('pearson')} "
                f"auroc={pooled.get('auroc_below_threshold')} coverage={pooled.get('coverage')}"
            )
    family = report.get("heldout_family", {}).get("real_outputs_and_their_edits", {}).get("fused")
    if family:
        lines.append(
            f"heldout_family fused n={family['n']} mae={family.get('mae')} pearson={family.get('pearson')}"
        )
    if report.get("wrong_label"):
        lines.append(f"wrong label: {report['wrong_label']}")
    if report.get("matches_stored"):
        lines.append(f"matches the figures stored in the weights: {all(report['matches_stored'].values())}")
    print("\n".join(lines))


TABLE_ROWS = (
    ("fused", "fused, every signal the case has (shipped)"),
    ("fused_no_agreement", "fused, without other segmentations"),
    ("fused_no_medsam", "fused, without the MedSAM second opinion"),
    ("fused_classical_only", "fused, classical QC only (no LiteMedSAM: Python 3.9)"),
    ("classical_model", "signal d alone: classical QC (its own fusion)"),
    ("medsam_model", "signal b alone: MedSAM second opinion (its own fusion)"),
    ("medsam_dice_alone", "signal b alone: MedSAM Dice as the estimate"),
    ("head_alone", "signal a alone: the learned ViT head's Dice"),
    ("agreement_alone", "signal c alone: mean Dice against the other segmentations"),
    ("linear_fused", "fused by the ridge learner instead of trees"),
    ("constant", "baseline: a constant (training mean true Dice)"),
    ("shape_heuristic", "baseline: shape heuristic"),
)


def markdown_tables(report: dict) -> str:
    """The model card's tables from an evaluation report: pooled rows with 95 % patient-bootstrap
    intervals, per patient, per source, held-out family, never-trained patients."""

    def cell(pooled: dict, metric: str) -> str:
        value = pooled.get(metric)
        if value is None:
            return "-"
        interval = (pooled.get("interval_95") or {}).get(metric)
        return f"{value:.3f} [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else f"{value:.3f}"

    header = "| estimator | n | MAE | Pearson | Spearman | AUROC(<0.7) | flag precision / recall | coverage (width) |"
    rule = "|---|---|---|---|---|---|---|---|"

    def row(label: str, pooled: dict) -> str:
        flags = f"{_fmt(pooled.get('flag_precision'))} / {_fmt(pooled.get('flag_recall'))}"
        coverage = (
            f"{pooled['coverage']:.3f} ({pooled.get('mean_interval_width', 0):.2f})"
            if pooled.get("coverage") is not None
            else "-"
        )
        return (
            f"| {label} | {pooled['n']} | {cell(pooled, 'mae')} | {cell(pooled, 'pearson')} | {cell(pooled, 'spearman')} | "
            f"{cell(pooled, 'auroc_below_threshold')} | {flags} | {coverage} |"
        )

    lines = []
    for section, title in (
        ("lopo", "Leave one patient out (training patients)"),
        ("never_trained", "Never-trained patients (shipped weights)"),
    ):
        block = report.get(section) or {}
        if not block:
            continue
        lines += [f"### {title}", "", header, rule]
        for name, label in TABLE_ROWS:
            entry = block.get(name)
            if entry and entry.get("pooled", {}).get("n"):
                subset = entry.get("subset", "all")
                lines.append(
                    row(label + ("" if subset in ("all", None) else f" ({subset})"), entry["pooled"])
                )
        if block.get("fused_on_agreement_subset"):
            lines.append(
                row(
                    "fused, on the candidates that have agreement",
                    block["fused_on_agreement_subset"]["pooled"],
                )
            )
        lines.append("")
        per_patient = block.get("fused", {}).get("per_patient", {})
        if per_patient:
            lines += [
                f"Per patient, fused ({title.lower()}):",
                "",
                "| patient | n | true mean | MAE | Pearson | AUROC(<0.7) | coverage |",
                "|---|---|---|---|---|---|---|",
            ]
            for patient, scores_ in per_patient.items():
                lines.append(
                    f"| {patient} | {scores_['n']} | {_fmt(scores_.get('true_dice', {}).get('mean'))} | {_fmt(scores_.get('mae'))} | "
                    f"{_fmt(scores_.get('pearson'))} | {_fmt(scores_.get('auroc_below_threshold'))} | {_fmt(scores_.get('coverage'))} |"
                )
            lines.append("")
    sources = report.get("lopo_by_source") or {}
    if sources:
        lines += [
            "### By source (leave one patient out, fused)",
            "",
            "| source | n | true mean | predicted mean | MAE | coverage |",
            "|---|---|---|---|---|---|",
        ]
        for name, scores_ in sources.items():
            lines.append(
                f"| {name} | {scores_['n']} | {_fmt(scores_.get('true_dice', {}).get('mean'))} | {_fmt(scores_.get('mean_predicted'))} | "
                f"{_fmt(scores_.get('mae'))} | {_fmt(scores_.get('coverage'))} |"
            )
        lines.append("")
    family = report.get("heldout_family") or {}
    for label in ("real_outputs", "real_outputs_and_their_edits"):
        block = family.get(label)
        if block:
            lines += [f"### Held-out family {family['family']}: {label.replace('_', ' ')}", "", header, rule]
            for name, scores_ in block.items():
                lines.append(row(name, scores_))
            lines.append("")
    return "\n".join(lines)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"
