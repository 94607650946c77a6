"""Train, calibrate and evaluate an estimator end to end on labelled cases (behind the CLI commands).

``train_estimator`` / ``evaluate_estimator`` build samples from cases; ``fit_estimator`` /
``evaluate_samples`` take samples already built, so several backbones can be compared on identical data.
``init_weights`` fine-tunes an existing estimator instead (0 epochs: recalibrate it only).
Samples are always built with the two-channel encoding and converted per backbone (``compose_channels``).
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import timm
import torch

from ..errors import SegQualityError
from .aggregate import aggregate_slices, conformal_half_width, fuse_with_agreement
from .calibration import cross_fitted_predictions, fit_monotone_calibration
from .cases import LabelledCase
from .encoding import EncodingConfig, compose_channels
from .evaluation import ScoredCandidate, evaluate, save_plots
from .model import ModelConfig, QualityNet, load_lukemelas_style_weights
from .samples import CandidateSample, SampleOptions, balance_by_dice, build_samples
from .training import TrainingOptions, TrainingResult, predict_slices, train
from .weights import EstimatorBundle, load_bundle, save_bundle

Progress = Callable[[str], None]
EVALUATED_SPLITS = ("test", "heldout_family")


class TrainingSetupError(SegQualityError):
    """Training options that contradict each other (e.g. 0 epochs without weights to start from)."""


def build_split_samples(
    cases: Sequence[LabelledCase],
    *,
    encoding: EncodingConfig,
    sample_options: SampleOptions,
    splits: Sequence[str],
    progress: Progress = print,
) -> dict[str, list[CandidateSample]]:
    """Two-channel samples per split: a few slices per candidate for ``train``, all slices otherwise."""
    base = replace(encoding, mask_mode="channel")
    samples = {}
    for split in splits:
        options = sample_options if split == "train" else replace(sample_options, slices_per_candidate=None)
        split_cases = [c for c in cases if c.split == split]
        progress(f"building {split} samples: {', '.join(c.case_id for c in split_cases)}")
        samples[split] = build_samples(split_cases, encoding=base, options=options, progress=progress)
    return samples


def predict_candidates(
    model: QualityNet, samples: Sequence[CandidateSample], *, encoding: EncodingConfig, device: str = "cpu"
) -> np.ndarray:
    """The network's aggregated Dice for each two-channel sample (no agreement), slices predicted in one pass."""
    if not samples:
        return np.zeros(0)
    slices = compose_channels(torch.cat([s.slices for s in samples]), config=encoding)
    slice_predictions = predict_slices(model, slices, device=device)
    bounds = np.cumsum([0] + [len(s.slice_indices) for s in samples])
    return np.array(
        [
            aggregate_slices(slice_predictions[a:b], s.candidate_areas)
            for s, a, b in zip(samples, bounds, bounds[1:])
        ]
    )


def fit_estimator(
    training_samples: Sequence[CandidateSample],
    calibration_samples: Sequence[CandidateSample],
    *,
    model_config: ModelConfig,
    encoding: EncodingConfig,
    sample_options: SampleOptions,
    training_options: TrainingOptions,
    pretrained_checkpoint: str | Path | None = None,
    initial: EstimatorBundle | None = None,
    conformal_alpha: float = 0.1,
    agreement_weight: float = 0.5,
    progress: Progress = print,
) -> EstimatorBundle:
    """Balance the training samples by Dice, train the network, then fit the monotone calibration and the
    conformal interval on the calibration samples.

    ``initial`` fine-tunes that estimator's network (its model and encoding settings win over the given
    ones); with 0 epochs its network is kept as is and only recalibrated. The conformal half-width comes
    from cross-fitted residuals (each calibration candidate calibrated by a map fitted without it).
    """
    if training_options.epochs < 0 or (training_options.epochs == 0 and initial is None):
        raise TrainingSetupError(f"epochs {training_options.epochs}: 0 epochs needs initial weights")
    if initial is not None and pretrained_checkpoint is not None:
        raise TrainingSetupError("initial weights and a pretrained checkpoint exclude each other")
    balanced = balance_by_dice(training_samples, bins=sample_options.balance_bins, seed=sample_options.seed)
    progress(f"{len(training_samples)} training candidates, {len(balanced)} after Dice balancing")
    torch.manual_seed(training_options.seed)
    if initial is not None:
        model_config, encoding, model = initial.model_config, initial.encoding, initial.model
    else:
        model_config = replace(model_config, in_chans=encoding.in_chans, image_size=encoding.image_size)
        model = QualityNet(model_config)
    if pretrained_checkpoint is not None:
        copied = load_lukemelas_style_weights(model, pretrained_checkpoint)
        progress(f"initialised {copied} backbone tensors from {pretrained_checkpoint}")
    inputs = [replace(s, slices=compose_channels(s.slices, config=encoding)) for s in balanced]
    result = (
        train(model, inputs, options=training_options, progress=progress)
        if training_options.epochs > 0
        else TrainingResult(steps=0, final_loss=float("nan"), seconds=0.0)
    )
    calibration_true = np.array([s.true_dice for s in calibration_samples])
    calibration_raw = predict_candidates(model, calibration_samples, encoding=encoding)
    calibration = fit_monotone_calibration(calibration_raw, calibration_true)
    cross_fitted = cross_fitted_predictions(calibration_raw, calibration_true)
    half_width = conformal_half_width(calibration_true, cross_fitted, alpha=conformal_alpha)
    raw_half_width = conformal_half_width(calibration_true, calibration_raw, alpha=conformal_alpha)
    progress(
        f"calibration: {len(calibration.knots_x)} knots; conformal half-width {half_width:.3f} "
        f"({raw_half_width:.3f} uncalibrated) at alpha {conformal_alpha}"
    )
    trained_on = {s.case_id for s in training_samples}
    if initial is not None:
        trained_on |= set(initial.summary.get("trained_on", ()))
    summary = {
        "trained_on": sorted(trained_on),
        "calibrated_on": sorted({s.case_id for s in calibration_samples}),
        "training_candidates": len(balanced),
        "training_slices": int(sum(len(s.slice_indices) for s in balanced)),
        "training_dice_histogram": _histogram([s.true_dice for s in training_samples]),
        "balanced_dice_histogram": _histogram([s.true_dice for s in balanced]),
        "calibration_candidates": len(calibration_samples),
        "training_steps": result.steps,
        "training_seconds": round(result.seconds, 1),
        "final_loss": round(result.final_loss, 5) if result.steps else None,
        "pretrained": str(pretrained_checkpoint) if pretrained_checkpoint else None,
        "initial_summary": dict(initial.summary) if initial is not None else None,
        "uncalibrated_interval_half_width": raw_half_width,
        "calibration_true_dice_mean": round(float(calibration_true.mean()), 4)
        if calibration_true.size
        else None,
        "calibration_mae": {
            "uncalibrated": _mean_error(calibration_raw, calibration_true),
            "cross_fitted": _mean_error(cross_fitted, calibration_true),
        },
        "sample_options": asdict(sample_options),
        "training_options": asdict(training_options),
        "torch_threads": torch.get_num_threads(),
        "versions": {
            "torch": torch.__version__,
            "timm": timm.__version__,
            "python": platform.python_version(),
        },
    }
    return EstimatorBundle(
        model=model,
        model_config=model_config,
        encoding=encoding,
        interval_half_width=half_width,
        conformal_alpha=conformal_alpha,
        agreement_weight=agreement_weight,
        summary=summary,
        calibration=calibration,
    )


def train_estimator(
    cases: Sequence[LabelledCase],
    *,
    out_weights: str | Path,
    report_folder: str | Path,
    model_config: ModelConfig,
    encoding: EncodingConfig,
    sample_options: SampleOptions | None = None,
    training_options: TrainingOptions | None = None,
    pretrained_checkpoint: str | Path | None = None,
    init_weights: str | Path | None = None,
    conformal_alpha: float = 0.1,
    agreement_weight: float = 0.5,
    quantize: str | None = "int8",
    progress: Progress = print,
) -> dict:
    """Build samples, train on ``train``, calibrate on ``calibration``, save the weights, evaluate.

    The weights are saved as ``save_bundle`` with ``quantize`` (int8 kernels by default, None for
    float16) and the evaluation reads them back, so the report describes the file as written.
    ``init_weights`` starts from that estimator file (its model and encoding settings are used); with
    0 epochs the ``train`` split is not even built and the network is only recalibrated.
    Returns (and writes to ``report_folder/evaluation.json``) the report of ``evaluate_samples``.
    """
    started = time.perf_counter()
    sample_options = sample_options or SampleOptions()
    training_options = training_options or TrainingOptions()
    initial = load_bundle(init_weights) if init_weights is not None else None
    if initial is not None:
        encoding = initial.encoding
        progress(f"starting from {init_weights} ({initial.model_config.backbone}, {encoding.mask_mode})")
    splits = (("train",) if training_options.epochs > 0 else ()) + ("calibration",) + EVALUATED_SPLITS
    samples = build_split_samples(
        cases, encoding=encoding, sample_options=sample_options, splits=splits, progress=progress
    )
    bundle = fit_estimator(
        samples.get("train", []),
        samples["calibration"],
        model_config=model_config,
        encoding=encoding,
        sample_options=sample_options,
        training_options=training_options,
        pretrained_checkpoint=pretrained_checkpoint,
        initial=initial,
        conformal_alpha=conformal_alpha,
        agreement_weight=agreement_weight,
        progress=progress,
    )
    save_bundle(bundle, out_weights, quantize=quantize)
    progress(f"saved {out_weights}")
    bundle = load_bundle(out_weights)
    report = evaluate_samples(bundle, {s: samples[s] for s in EVALUATED_SPLITS}, report_folder=report_folder)
    report["training"] = dict(bundle.summary)
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    _write_report(report, report_folder)
    return report


def evaluate_estimator(
    bundle: EstimatorBundle,
    cases: Sequence[LabelledCase],
    *,
    report_folder: str | Path,
    sample_options: SampleOptions | None = None,
    threshold: float = 0.7,
    progress: Progress = print,
) -> dict:
    """Evaluate on the ``test`` split and, separately, on the held-out segmenter family."""
    samples = build_split_samples(
        cases,
        encoding=bundle.encoding,
        sample_options=sample_options or SampleOptions(),
        splits=[s for s in EVALUATED_SPLITS if any(c.split == s for c in cases)],
        progress=progress,
    )
    return evaluate_samples(bundle, samples, report_folder=report_folder, threshold=threshold)


def evaluate_samples(
    bundle: EstimatorBundle,
    samples_by_split: Mapping[str, Sequence[CandidateSample]],
    *,
    report_folder: str | Path,
    threshold: float = 0.7,
) -> dict:
    """Scores, plots and interval coverage per split, after the weights' calibration and (under
    ``before_calibration``) before it, beside the MAE of always predicting the calibration split's mean
    true Dice; on real model outputs also the training-free baseline (mean Dice against the other outputs)
    and the fusion of both signals."""
    report: dict = {
        "threshold": threshold,
        "interval_half_width": bundle.interval_half_width,
        "calibration": bundle.calibration.as_dict(),
    }
    for split, samples in samples_by_split.items():
        if not samples:
            continue
        raw = predict_candidates(bundle.model, samples, encoding=bundle.encoding)
        predicted = bundle.calibration(raw)
        scored = _scored(samples, predicted)
        report[split] = evaluate(scored, threshold=threshold)
        report[split]["before_calibration"] = evaluate(_scored(samples, raw), threshold=threshold)
        report[split]["before_calibration"]["mean_predicted"] = round(float(raw.mean()), 4)
        constant = bundle.summary.get("calibration_true_dice_mean")
        if constant is not None:
            true = np.array([s.true_dice for s in samples])
            report[split]["constant_baseline_mae"] = round(float(np.abs(true - constant).mean()), 4)
        raw_half_width = bundle.summary.get("uncalibrated_interval_half_width")
        if raw_half_width is not None:
            report[split]["before_calibration"]["coverage_of_interval"] = _coverage(
                samples, raw, raw_half_width
            )
        report[split]["mean_predicted"] = round(float(predicted.mean()), 4)
        report[split]["cases"] = sorted({s.case_id for s in samples})
        report[split]["coverage_of_interval"] = _coverage(samples, predicted, bundle.interval_half_width)
        save_plots(scored, report_folder, prefix=split, title=f"{split} (n={len(scored)})")
        real = [i for i, s in enumerate(samples) if s.agreement_dice is not None]
        if real:
            real_samples = [samples[i] for i in real]
            agreement = np.array([s.agreement_dice for s in real_samples])
            fused = np.array(
                [
                    fuse_with_agreement(p, a, weight=bundle.agreement_weight)
                    for p, a in zip(predicted[real], agreement)
                ]
            )
            report[f"{split}_real_outputs"] = {
                "network": evaluate(_scored(real_samples, predicted[real]), threshold=threshold),
                "agreement_baseline": evaluate(_scored(real_samples, agreement), threshold=threshold),
                "fused": evaluate(_scored(real_samples, fused), threshold=threshold),
            }
    _write_report(report, report_folder)
    return report


def _scored(samples: Sequence[CandidateSample], predicted: np.ndarray) -> list[ScoredCandidate]:
    return [
        ScoredCandidate(s.case_id, s.structure, s.source, s.family, s.true_dice, float(p))
        for s, p in zip(samples, predicted)
    ]


def _coverage(samples: Sequence[CandidateSample], predicted: np.ndarray, half_width: float) -> float | None:
    true = np.array([s.true_dice for s in samples])
    return round(float((np.abs(true - predicted) <= half_width).mean()), 4)


def _mean_error(predicted: np.ndarray, true: np.ndarray) -> float:
    return round(float(np.abs(predicted - true).mean()), 4) if true.size else float("nan")


def _histogram(values: Sequence[float], bins: int = 5) -> list[int]:
    return np.histogram(np.asarray(values, float), bins=bins, range=(0.0, 1.0))[0].tolist()


def _write_report(report: dict, folder: str | Path) -> Path:
    path = Path(folder) / "evaluation.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
    return path
