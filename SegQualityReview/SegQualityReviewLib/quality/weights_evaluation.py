"""``eval-estimator``'s procedure: a saved estimator scored on patients it never saw, and optionally
its leave-one-patient-out evaluation repeated with the training options it stores."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .cases import LabelledCase
from .pipeline import Progress, TrainingOptions, evaluate_bundle, load_tables, train_and_evaluate
from .reporting import compare_with_stored, write_report
from .weights import EstimatorBundle


def evaluate_weights(
    bundle: EstimatorBundle,
    cases: Sequence[LabelledCase],
    *,
    cache_folder: str | Path,
    report_folder: str | Path,
    threshold: float = 0.7,
    cross_validate: bool = False,
    shared_data: str | Path | None = None,
    progress: Progress = print,
) -> dict:
    """``eval-estimator``: the never-trained patients scored by the weights, and with ``cross_validate``
    the leave-one-patient-out evaluation repeated with the weights' training options; both beside the
    figures the weights store."""
    stored = bundle.summary.get("report", {})
    stored_options = bundle.summary.get("options")
    options = TrainingOptions.from_dict(stored_options) if stored_options else TrainingOptions()
    trained_on = set(bundle.summary.get("trained_on", ()))
    evaluation = [c for c in cases if c.role == "evaluation" and c.case_id not in trained_on]
    tables = load_tables(evaluation, cache_folder=cache_folder, options=options.candidates, progress=progress)
    report: dict = {"threshold": threshold, "weights_report": stored}
    if tables:
        report["never_trained"] = evaluate_bundle(
            bundle, tables, threshold=threshold, constant=stored.get("training_mean_dice")
        )
    if cross_validate:
        report["cross_validation"] = train_and_evaluate(
            cases,
            cache_folder=cache_folder,
            out_weights=None,
            report_folder=Path(report_folder) / "cross_validation",
            options=options,
            shared_data=shared_data,
            progress=progress,
        )
        report["lopo"] = report["cross_validation"]["lopo"]
        report["heldout_family"] = report["cross_validation"]["heldout_family"]
        report["wrong_label"] = report["cross_validation"]["wrong_label"]
    report["matches_stored"] = compare_with_stored(report, stored)
    write_report(report, Path(report_folder))
    return report
