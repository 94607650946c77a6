"""Train and evaluate the estimator end to end (behind ``train-estimator`` and ``eval-estimator``).

1. Sample tables per case (``samples``; built once, cached on disk).
2. The ViT head, leave one patient out: each training patient's candidates are scored by a head
   trained without that patient; the shipped head is trained on every training patient.
3. The fusion, leave one patient out with an inner leave-one-patient-out for its calibration and
   conformal interval (``crossval``), beside the baselines and each signal alone.
4. The shipped fusion, calibration and interval on every training patient; then the evaluation-only
   patients (never trained on) scored by the shipped estimator as a user would run it.
The report's figures are stored in the weights' metadata; the model card's tables are these figures.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .candidates import CandidateOptions
from .cases import LabelledCase, check_patient_roles
from .crossval import (
    CALIBRATIONS,
    FusionFit,
    PriorBank,
    fit_model,
    fit_with_calibration,
    predict_under,
    with_priors,
)
from .embeddings import SliceEncoder
from .evaluation import pooled_and_per_patient
from .fusion_fit import FusionOptions
from .head_training import (
    HeadTrainingOptions,
    candidate_head_features,
    collect_rows,
    predict_head_rows,
    train_head,
)
from .priors import Observation, labels_only_observations
from .reporting import by_source, goals, heldout_family, lopo_report, plots, write_report, wrong_label
from .samples import SampleTable, build_case_samples, load_case_samples, samples_path, save_case_samples
from .signal_sets import signal_set_of
from .signals import SIGNAL_FEATURES, vit_head
from .signals.classical import prior_features, shape_heuristic
from .weights import EstimatorBundle, load_bundle, save_bundle

Progress = Callable[[str], None]
VIEWS = ("fused", "fused_no_agreement", "fused_no_medsam", "fused_classical_only")


@dataclass(frozen=True)
class TrainingOptions:
    candidates: CandidateOptions = field(default_factory=CandidateOptions)
    head: HeadTrainingOptions = field(default_factory=HeadTrainingOptions)
    fusion: FusionOptions = field(default_factory=FusionOptions)
    alpha: float = 0.1
    threshold: float = 0.7
    calibration: str = "auto"

    def as_dict(self) -> dict:
        return {
            "candidates": asdict(self.candidates),
            "head": self.head.as_dict(),
            "fusion": self.fusion.as_dict(),
            "alpha": self.alpha,
            "threshold": self.threshold,
            "calibration": self.calibration,
        }

    @classmethod
    def from_dict(cls, fields_: dict) -> TrainingOptions:
        return cls(
            candidates=CandidateOptions(**fields_["candidates"]),
            head=HeadTrainingOptions(**fields_["head"]),
            fusion=FusionOptions(**fields_["fusion"]),
            alpha=float(fields_["alpha"]),
            threshold=float(fields_["threshold"]),
            calibration=str(fields_.get("calibration", "auto")),
        )


def load_tables(
    cases: Sequence[LabelledCase],
    *,
    cache_folder: str | Path,
    options: CandidateOptions,
    device: str = "cpu",
    progress: Progress = print,
) -> list[SampleTable]:
    """Every case's sample table, built (and cached under ``cache_folder/samples``) where missing."""
    check_patient_roles(cases)
    cache_folder = Path(cache_folder)
    encoder = SliceEncoder(device=device, cache_folder=cache_folder / "embeddings")
    tables = []
    for case in cases:
        path = samples_path(cache_folder / "samples", case, options)
        if not path.is_file():
            progress(f"building samples of {case.case_id}")
            save_case_samples(
                build_case_samples(case, encoder=encoder, options=options, progress=progress), path
            )
        tables.append(load_case_samples(path))
    return tables


def head_out_of_patient(
    tables: Sequence[SampleTable],
    *,
    options: HeadTrainingOptions,
    cache_folder: Path,
    progress: Progress = print,
) -> tuple[np.ndarray, dict]:
    """(candidates, len(vit_head.FEATURES)) encoder features: the head's, for training patients from
    heads trained without them, for evaluation patients from the head trained on all training
    patients; the training-free embedding contrasts for all. Also that head's state (numpy; empty
    when the tables hold no head rows, i.e. were built without the encoder)."""
    import torch

    rows = collect_rows(tables)
    count = sum(len(t.rows) for t in tables)
    features = np.full((count, len(vit_head.FEATURES)), np.nan)
    if not len(rows.candidate):
        return features, {}
    roles = np.concatenate([[t.role] * len(t.rows) for t in tables]) if tables else np.zeros(0)
    row_role = roles[rows.candidate]
    training = [p for p in dict.fromkeys(t.patient for t in tables if t.role == "train")]
    tag = _tag(
        {
            "head": options.as_dict(),
            "tables": [(t.case_id, len(t.rows), t.info.get("seconds")) for t in tables],
        }
    )
    folder = cache_folder / "heads" / tag
    folder.mkdir(parents=True, exist_ok=True)
    state: dict = {}
    for fold in [*training, None]:
        path = folder / f"{fold or 'all'}.pt"
        trained_on = np.flatnonzero((row_role == "train") & (rows.patient != fold))
        if not trained_on.size:
            continue
        scored = (
            np.flatnonzero(rows.patient == fold)
            if fold is not None
            else np.flatnonzero(row_role == "evaluation")
        )
        if path.is_file():
            net = _load_head(path)
        else:
            progress(
                f"training the ViT head {'without ' + fold if fold else 'on every training patient'}: {len(trained_on)} rows"
            )
            net = train_head(rows, trained_on, options=options, progress=progress)
            torch.save(net.state_dict(), path)
        if scored.size:
            predictions = predict_head_rows(net, rows, scored)
            values = candidate_head_features(rows, scored, predictions, count)
            touched = np.unique(rows.candidate[scored])
            features[touched] = values[touched]
        if fold is None:
            state = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    return features, state


def _load_head(path: Path):
    import torch

    from .signals.vit_head import build_head_net

    net = build_head_net()
    net.load_state_dict(torch.load(path, weights_only=True))
    return net.eval()


def assemble_rows(tables: Sequence[SampleTable], head: np.ndarray) -> list[dict]:
    """One dict per candidate over all tables, with the encoder features (``vit_head.FEATURES``)."""
    rows = []
    for table in tables:
        for row in table.rows:
            rows.append(dict(row))
    for row, values in zip(rows, head):
        for name, value in zip(vit_head.FEATURES, values):
            row[name] = None if math.isnan(value) else float(value)
    for row in rows:
        for name in (*SIGNAL_FEATURES["medsam"], *SIGNAL_FEATURES["agreement"]):
            value = row.get(name)
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                row[name] = float(value)
    return rows


def view_set(row: dict, view: str) -> str:
    """The signal set a row is shown under for one reported view (``VIEWS``)."""
    own = signal_set_of(row)
    agreement = "+agreement" if own.endswith("+agreement") else ""
    base = own.split("+")[0]
    if view == "fused":
        return own
    if view == "fused_no_agreement":
        return base
    if view == "fused_no_medsam":
        return ("head" if base in ("medsam", "head") else "classical") + agreement
    if view == "fused_classical_only":
        return "classical" + agreement
    raise ValueError(view)


def predict_views(fit, rows: Sequence[dict]) -> dict[str, dict[str, np.ndarray]]:
    """Raw and calibrated Dice with interval bounds for every row under each view."""
    out = {}
    for view in VIEWS:
        sets = [view_set(r, view) for r in rows]
        raw = np.zeros(len(rows))
        for signal_set in set(sets):
            members = [i for i, s in enumerate(sets) if s == signal_set]
            raw[members] = predict_under(fit.model, [rows[i] for i in members], signal_set)
        calibrated = fit.calibration(raw)
        low, high = np.zeros(len(rows)), np.zeros(len(rows))
        for signal_set in set(sets):
            members = np.array([i for i, s in enumerate(sets) if s == signal_set])
            low[members], high[members] = fit.intervals.interval(calibrated[members], signal_set)
        out[view] = {"raw": raw, "calibrated": calibrated, "low": low, "high": high, "sets": np.array(sets)}
    return out


def train_and_evaluate(
    cases: Sequence[LabelledCase],
    *,
    cache_folder: str | Path,
    out_weights: str | Path | None,
    report_folder: str | Path,
    options: TrainingOptions = TrainingOptions(),
    shared_data: str | Path | None = None,
    progress: Progress = print,
) -> dict:
    """The whole procedure of the module docstring; writes ``evaluation.json`` (and the weights)."""
    started = time.perf_counter()
    cache_folder, report_folder = Path(cache_folder), Path(report_folder)
    tables = load_tables(cases, cache_folder=cache_folder, options=options.candidates, progress=progress)
    head, head_state = head_out_of_patient(
        tables, options=options.head, cache_folder=cache_folder, progress=progress
    )
    rows = assemble_rows(tables, head)
    bank = PriorBank(
        by_patient={
            p: [o for t in tables if t.patient == p and t.role == "train" for o in t.observations]
            for p in dict.fromkeys(t.patient for t in tables if t.role == "train")
        },
        labels_only=_labels_only(shared_data, cache_folder),
    )
    training_rows = [r for r in rows if r["role"] == "train"]
    predictions, bounds = cross_validate(training_rows, bank, options, progress=progress)
    report = {
        "threshold": options.threshold,
        "alpha": options.alpha,
        "training_mean_dice": round(float(np.mean([r["true_dice"] for r in training_rows])), 4),
        "cases": {
            t.case_id: {"patient": t.patient, "role": t.role, "candidates": len(t.rows), **t.info}
            for t in tables
        },
        "lopo": lopo_report(training_rows, predictions, bounds, options.threshold),
        "lopo_by_source": by_source(training_rows, predictions["fused"], bounds["fused"], options.threshold),
        "heldout_family": heldout_family(training_rows, predictions, bounds, options.threshold),
        "wrong_label": wrong_label(training_rows, predictions["fused"]),
        "calibration": choose_calibration(training_rows, predictions, options),
    }
    progress(f"fitting the shipped fusion on every training patient ({report['calibration']} calibration)")
    fits, _ = fit_with_calibration(
        with_priors(training_rows, bank, excluded=set()),
        options.fusion,
        alpha=options.alpha,
        progress=progress,
    )
    final = fits[report["calibration"]]
    bundle = EstimatorBundle(
        head_state=head_state,
        fusion=final.model,
        calibration=final.calibration,
        intervals=final.intervals,
        priors=bank.without(set()),
        summary={},
    )
    if out_weights is not None:
        # Evaluate the file as written (float16 head tensors), not the model in memory.
        save_bundle(bundle, out_weights)
        bundle = load_bundle(out_weights)
    evaluation_tables = [t for t in tables if t.role == "evaluation"]
    if evaluation_tables:
        report["never_trained"] = evaluate_bundle(
            bundle, evaluation_tables, threshold=options.threshold, constant=report["training_mean_dice"]
        )
    report["goals"] = goals(report)
    report["seconds"] = round(time.perf_counter() - started, 1)
    plots(training_rows, predictions, report_folder)
    summary = {
        "trained_on": sorted({t.case_id for t in tables if t.role == "train"}),
        "never_trained_on": sorted({t.case_id for t in evaluation_tables}),
        "options": options.as_dict(),
        "versions": _versions(),
        "report": report,
    }
    if out_weights is not None:
        save_bundle(replace(bundle, summary=summary), out_weights)
        progress(f"saved {out_weights}")
    write_report(report, report_folder)
    return report


def cross_validate(
    training_rows: Sequence[dict], bank: PriorBank, options: TrainingOptions, *, progress: Progress = print
) -> tuple[dict[str, np.ndarray], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Leave-one-patient-out predictions of every predictor (``_PREDICTORS``) for every training row,
    and the interval bounds of each view; nothing fitted for a patient's rows saw that patient."""
    predictions = {name: np.full(len(training_rows), np.nan) for name in _PREDICTORS}
    bounds = {
        name: (np.zeros(len(training_rows)), np.zeros(len(training_rows)))
        for name in (*(f"{v}_{c}" for v in VIEWS for c in CALIBRATIONS), *VIEWS)
    }
    for patient in dict.fromkeys(r["patient"] for r in training_rows):
        progress(f"outer fold without {patient}")
        index = np.array([i for i, r in enumerate(training_rows) if r["patient"] == patient])
        train = with_priors([r for r in training_rows if r["patient"] != patient], bank, excluded={patient})
        test = with_priors([training_rows[i] for i in index], bank, excluded={patient})
        fits, _ = fit_with_calibration(train, options.fusion, alpha=options.alpha, progress=progress)
        for variant, fit in fits.items():
            for view, values in predict_views(fit, test).items():
                name = f"{view}_{variant}"
                predictions[name][index] = values["calibrated"]
                bounds[name][0][index], bounds[name][1][index] = values["low"], values["high"]
        _fill_baselines(predictions, index, train, test, options)
    variant = choose_calibration(training_rows, predictions, options)
    for view in VIEWS:
        predictions[view] = predictions[f"{view}_{variant}"]
        bounds[view] = bounds[f"{view}_{variant}"]
    return predictions, bounds


def choose_calibration(training_rows: Sequence[dict], predictions: dict, options: TrainingOptions) -> str:
    """``options.calibration``, or with ``auto`` the variant with the lower out-of-patient MAE of the
    fused estimate (chosen on the same folds it is then reported on; the model card says so)."""
    if options.calibration != "auto":
        return options.calibration
    true = np.array([r["true_dice"] for r in training_rows])
    errors = {v: float(np.abs(predictions[f"fused_{v}"] - true).mean()) for v in CALIBRATIONS}
    return min(errors, key=errors.get)


def evaluate_bundle(
    bundle: EstimatorBundle,
    tables: Sequence[SampleTable],
    *,
    threshold: float = 0.7,
    constant: float | None = None,
) -> dict:
    """Score the tables' candidates with a saved estimator exactly as shipped: its head, priors, fusion,
    calibration and intervals (the patients must be ones it never saw)."""
    rows_head = collect_rows(tables)
    count = sum(len(t.rows) for t in tables)
    selected = np.arange(len(rows_head.candidate))
    predictions = (
        predict_head_rows(bundle.head_network(), rows_head, selected)
        if selected.size and bundle.head_state
        else None
    )
    head = candidate_head_features(rows_head, selected, predictions, count)
    rows = assemble_rows(tables, head)
    for row in rows:
        row.update(prior_features(row["structure"], row, row.get("qc_raw_intensity") or {}, bundle.priors))
    fit = FusionFit(model=bundle.fusion, calibration=bundle.calibration, intervals=bundle.intervals)
    views = predict_views(fit, rows)
    true = np.array([r["true_dice"] for r in rows])
    patients = [r["patient"] for r in rows]
    report = {
        view: pooled_and_per_patient(
            true,
            views[view]["calibrated"],
            patients,
            threshold=threshold,
            low=views[view]["low"],
            high=views[view]["high"],
        )
        for view in VIEWS
    }
    if constant is not None:
        report["constant"] = pooled_and_per_patient(
            true, np.full(true.size, constant), patients, threshold=threshold
        )
    report["shape_heuristic"] = pooled_and_per_patient(
        true, np.array([shape_heuristic(r) for r in rows]), patients, threshold=threshold
    )
    report["wrong_label"] = wrong_label(rows, views["fused"]["calibrated"])
    report["by_source"] = by_source(
        rows, views["fused"]["calibrated"], (views["fused"]["low"], views["fused"]["high"]), threshold
    )
    report["cases"] = sorted({t.case_id for t in tables})
    return report


_PREDICTORS = (
    *VIEWS,
    *(f"{v}_{c}" for v in VIEWS for c in CALIBRATIONS),
    "constant",
    "shape_heuristic",
    "agreement_alone",
    "head_alone",
    "medsam_dice_alone",
    "medsam_model",
    "classical_model",
    "linear_fused",
)


def _fill_baselines(predictions, index, train, test, options: TrainingOptions) -> None:
    """The baselines and each signal alone for one held-out patient (``index`` into its rows)."""
    weights = np.array([1.0 for _ in train])
    predictions["constant"][index] = float(np.average([r["true_dice"] for r in train], weights=weights))
    predictions["shape_heuristic"][index] = [shape_heuristic(r) for r in test]
    predictions["agreement_alone"][index] = [_value(r, "agr_dice_mean") for r in test]
    predictions["head_alone"][index] = [_value(r, "head_dice") for r in test]
    predictions["medsam_dice_alone"][index] = [_value(r, "ms_dice") for r in test]
    medsam = SIGNAL_FEATURES["medsam"]
    with_medsam = [r for r in train if _value(r, "ms_dice") == _value(r, "ms_dice")]
    if len(with_medsam) >= 2 * options.fusion.min_samples_leaf:
        model = fit_model(with_medsam, options.fusion, medsam)
        predictions["medsam_model"][index] = np.where(
            np.isnan([_value(r, "ms_dice") for r in test]), np.nan, predict_under(model, test)
        )
    classical = SIGNAL_FEATURES["classical"]
    predictions["classical_model"][index] = predict_under(fit_model(train, options.fusion, classical), test)
    linear = fit_model(train, replace(options.fusion, learner="linear"))
    predictions["linear_fused"][index] = predict_under(linear, test)


def _value(row: dict, name: str) -> float:
    value = row.get(name)
    return float("nan") if value is None else float(value)


def _labels_only(shared_data, cache_folder: Path) -> list[Observation]:
    if shared_data is None:
        return []
    path = cache_folder / "labels_only_observations.json"
    if path.is_file():
        return [Observation(**o) for o in json.loads(path.read_text("utf-8"))]
    observations = labels_only_observations(shared_data)
    path.write_text(json.dumps([asdict(o) for o in observations]), encoding="utf-8")
    return observations


def _versions() -> dict:
    import sklearn
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
    }


def _tag(value) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]
