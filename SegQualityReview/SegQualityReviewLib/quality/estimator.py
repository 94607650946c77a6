"""Ground-truth-free quality of every structure of a segmentation: the public entry point.

``estimate_quality`` runs the signals a case allows and fuses them (``signals``, ``fusion``):
1. classical QC and agreement with other segmentations for every structure (cheap);
2. LiteMedSAM encodes a few full slices once, shared by every structure crossing them
   (``slice_plan``); the ViT head scores every structure on them;
3. a cascade: structures are ordered by how close the estimate so far is to the threshold, and the
   MedSAM second opinion decodes boxes for them in that order until the decoding budget is spent;
4. the fused Dice of each structure under the signals it got, calibrated, with the conformal interval
   of that signal set.
Without LiteMedSAM (Python 3.9, or ``mode="classical"``) steps 2 and 3 are skipped and the fusion runs
on what remains, with its own, wider interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from ..errors import SegQualityError
from ..io import StructureSet, Volume, check_finite_volume, check_same_geometry
from ..io.intensity import detect_modality
from .case_data import ImageChannels
from .cases import SEQUENCES
from .context import CaseContext
from .crops import StructureCrop, crops_by_names, structure_crops
from .embeddings import SliceEncoder
from .fusion import predict_dice
from .signal_sets import signal_set_of
from .signals import agreement, classical, second_opinion, vit_head
from .slice_plan import plan_slices, spread_choice
from .weights import DEFAULT_WEIGHTS, EstimatorBundle, load_bundle

Progress = Callable[[float, str], None]
HEAD_SLICES = 4
MEDSAM_SLICES = 2


@dataclass(frozen=True)
class EstimationMode:
    """How much of the encoder budget a run may spend: encoded slices (all channels together), slices
    planned per structure, and MedSAM boxes; ``encoder`` False runs the classical signals only."""

    name: str
    encode_budget: int
    per_structure: int
    decode_budget: int | None
    encoder: bool = True


MODES = {
    "default": EstimationMode("default", encode_budget=24, per_structure=2, decode_budget=120),
    "thorough": EstimationMode("thorough", encode_budget=96, per_structure=4, decode_budget=None),
    "classical": EstimationMode(
        "classical", encode_budget=0, per_structure=0, decode_budget=0, encoder=False
    ),
}


class DeviceError(SegQualityError):
    """The requested torch device does not exist on this machine."""


class EstimationOptionError(SegQualityError):
    """An option of the estimator cannot be used (an unknown mode or sequence name)."""


@dataclass(frozen=True)
class QualityEstimate:
    """Predicted quality of one structure: Dice with its conformal interval and where to look first.

    ``status``: ``ok``; ``empty_pred`` (declared but empty while another segmentation has it: a likely
    miss, predicted 0 and flagged); ``both_empty`` (every other segmentation that declares it has it
    empty too) or ``not_evaluable`` (nobody to compare with): no number (NaN), not flagged.
    ``worst_slice`` is the z index (array axis 0) with the lowest predicted slice Dice, -1 for an empty
    mask; ``slice_scores`` are (z, predicted slice Dice) for the slices the signals looked at.
    ``signals`` holds each signal's own value and ``signal_set`` (which signals the estimate rests on).
    """

    structure: str
    predicted_dice: float
    interval_low: float
    interval_high: float
    flagged: bool
    worst_slice: int
    slice_scores: tuple[tuple[int, float], ...]
    status: str = "ok"
    signals: tuple[tuple[str, float | str], ...] = ()

    def signal(self, name: str):
        return dict(self.signals).get(name)

    def as_row(self) -> dict:
        """The CSV row of ``segquality estimate`` (slice scores go to the side file)."""
        signals = dict(self.signals)
        return {
            "structure": self.structure,
            "status": self.status,
            "predicted_dice": _cell(self.predicted_dice),
            "interval_low": _cell(self.interval_low),
            "interval_high": _cell(self.interval_high),
            "flagged": self.flagged,
            "worst_slice": self.worst_slice,
            "signal_set": signals.get("signal_set", ""),
            "head_dice": _cell(signals.get("head_dice")),
            "medsam_dice": _cell(signals.get("ms_dice")),
            "agreement_dice": _cell(signals.get("agr_dice_mean")),
            "shape_heuristic": _cell(signals.get("shape_heuristic")),
        }


def _cell(value) -> float | str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return round(float(value), 4)


def estimate_quality(
    volume: Volume,
    structures: StructureSet,
    *,
    threshold: float = 0.7,
    weights: str | Path | None = None,
    device: str = "auto",
    other_segmentations: Sequence[StructureSet] = (),
    modality: str = "auto",
    progress: Progress | None = None,
    channels: Mapping[str, Volume] | None = None,
    sequence: str | None = None,
    mode: str | EstimationMode = "default",
    augmented_segmentations: Sequence[StructureSet] = (),
    cache_folder: str | Path | None = None,
) -> list[QualityEstimate]:
    """Predict the Dice of each declared structure without a reference, flagging those below ``threshold``.

    ``volume`` is the primary image (its ``sequence``: ``CT``, ``FLAIR``, ``T1``, ``T1c``, ``T2`` or
    ``MR``; default CT or MR by ``modality``); ``channels`` maps further sequences to volumes on the same
    grid (every MR sequence is encoded). ``other_segmentations`` (other models on the same grid) add
    agreement; ``augmented_segmentations`` (test-time augmented runs of the model that made
    ``structures``, mapped back) add test-time agreement. ``mode``: ``default`` (24 encoded slices,
    MedSAM for the most uncertain structures within 120 boxes), ``thorough`` (96 slices, MedSAM for
    every structure) or ``classical`` (no LiteMedSAM). ``cache_folder`` keeps embeddings on disk.
    """
    if not isinstance(mode, EstimationMode) and mode not in MODES:
        raise EstimationOptionError(f"mode '{mode}' is not one of {', '.join(MODES)}")
    settings = mode if isinstance(mode, EstimationMode) else MODES[mode]
    torch_device = _device(device) if settings.encoder else "cpu"
    report = progress or (lambda fraction, message: None)
    # A NaN voxel would turn every signal of the structures over it into NaN and hide them from review.
    for image in (volume, *(channels or {}).values()):
        check_finite_volume(image)
    for other in (*other_segmentations, *augmented_segmentations):
        check_same_geometry(
            other.geometry, volume.geometry, first_name=other.source, second_name=volume.source
        )
    check_same_geometry(
        structures.geometry, volume.geometry, first_name=structures.source, second_name=volume.source
    )
    bundle = _cached_bundle(str(Path(weights).resolve()) if weights is not None else str(DEFAULT_WEIGHTS))
    chosen = detect_modality(volume.array) if modality == "auto" else modality
    images = _channels(volume, channels or {}, sequence=sequence, modality=chosen)
    context = CaseContext.build(images, bundle.priors)
    margin = context.crop_margin()
    names = list(structures.names)
    crops = structure_crops(structures, margin=margin)
    present = {n: crops[n] for n in names if not crops[n].empty}
    other_crops = [crops_by_names(o, names, margin=margin) for o in other_segmentations]
    tta_crops = [crops_by_names(o, names, margin=margin) for o in augmented_segmentations]
    laterals = classical.lateral_offsets(present, context)
    rows: dict[str, dict] = {}
    for number, (name, crop) in enumerate(present.items()):
        report(0.25 * number / max(1, len(present)), f"quality control: {name}")
        features, _ = classical.classical_features(crop, context, laterals=laterals)
        features.update(
            agreement.agreement_features(
                crop,
                [o[name] for o in other_crops if name in o],
                augmented=[t[name] for t in tta_crops if name in t],
            )
        )
        features["shape_heuristic"] = classical.shape_heuristic(features)
        rows[name] = features
    slice_scores: dict[str, list[tuple[int, float]]] = {}
    encoder_note = ""
    if settings.encoder and present:
        encoder_note = _encoder_signals(
            bundle,
            context,
            present,
            rows,
            slice_scores,
            laterals,
            settings,
            threshold,
            torch_device,
            cache_folder,
            report,
        )
    estimates = []
    predicted = {}
    if rows:
        values = bundle.calibration(predict_dice(bundle.fusion, [rows[n] for n in present]))
        predicted = dict(zip(present, values))
    report(0.99, "fusing")
    for name in names:
        if name not in present:
            estimates.append(_empty_estimate(name, other_crops))
            continue
        row = rows[name]
        signal_set = signal_set_of(row)
        value = float(predicted[name])
        low, high = (float(v) for v in bundle.intervals.interval(value, signal_set))
        scores = sorted(slice_scores.get(name, []))
        worst = min(scores, key=lambda item: item[1])[0] if scores else _middle_slice(present[name])
        signals = [("signal_set", signal_set)]
        if encoder_note:
            signals.append(("encoder", encoder_note))
        for key in ("head_dice", "ms_dice", "agr_dice_mean", "tta_dice_mean", "shape_heuristic"):
            if row.get(key) is not None and math.isfinite(float(row[key])):
                signals.append((key, float(row[key])))
        estimates.append(
            QualityEstimate(
                structure=name,
                predicted_dice=value,
                interval_low=low,
                interval_high=high,
                flagged=bool(value < threshold),
                worst_slice=int(worst),
                slice_scores=tuple((int(z), float(p)) for z, p in scores),
                status="ok",
                signals=tuple(signals),
            )
        )
    report(1.0, "done")
    return estimates


def _encoder_signals(
    bundle: EstimatorBundle,
    context: CaseContext,
    present: dict[str, StructureCrop],
    rows: dict[str, dict],
    slice_scores: dict,
    laterals: dict,
    settings: EstimationMode,
    threshold: float,
    device: str,
    cache_folder,
    report: Progress,
) -> str:
    """Encode the planned slices, run the head on every structure, then MedSAM by the cascade.

    Returns "" when the encoder ran, else the one-line reason it could not (the rows keep their
    classical signals only).
    """
    from ..segmenters.medsam import MedSAMUnavailableError

    encoder = SliceEncoder(device=device, cache_folder=cache_folder)
    try:
        encoder.model  # noqa: B018 - load now, so an unavailable LiteMedSAM is one clear note, not a crash
    except MedSAMUnavailableError as error:
        return str(error)
    except ImportError as error:
        return f"LiteMedSAM needs torch ({error})"
    sequences = context.channels.sequences
    budget = max(1, settings.encode_budget // len(sequences))
    plan = plan_slices(
        {n: c.occupied for n, c in present.items()}, per_structure=settings.per_structure, budget=budget
    )
    embeddings = []
    total = len(plan.slices) * len(sequences)
    for index, (seq, array) in enumerate(zip(sequences, context.channels.normalised)):
        done_before = index * len(plan.slices)

        def on_slice(done, _count, offset=done_before):
            report(
                0.25 + 0.55 * (offset + done) / max(1, total), f"encoding slices ({offset + done}/{total})"
            )

        embeddings.append(
            encoder.encode(
                array, plan.slices, orientation=context.orientation, sequence=seq, on_progress=on_slice
            )
        )
    report(0.8, "ViT head")
    net = bundle.head_network() if bundle.head_state else None
    for name, crop in present.items() if net is not None else ():
        chosen = spread_choice(plan.by_structure.get(name, ()), HEAD_SLICES)
        inputs = vit_head.head_inputs(
            crop,
            chosen,
            embeddings,
            orientation=context.orientation,
            spacing_z=context.spacing[0],
            modality=context.modality,
            lateral=laterals.get(name, math.nan),
        )
        if inputs is None:
            continue
        vectors, scalars = vit_head.pool_inputs(inputs, embeddings)
        predictions = vit_head.predict_rows(net, inputs, vectors, scalars) if net is not None else None
        rows[name].update(vit_head.head_features(inputs, predictions, vectors))
        if predictions is not None:
            per_slice = {}
            for position, value in zip(inputs.slice_of_row, predictions):
                per_slice.setdefault(inputs.slices[position], []).append(float(value))
            slice_scores[name] = [(z, float(np.mean(v))) for z, v in per_slice.items()]
    # Cascade: MedSAM for the structures whose estimate so far is closest to the threshold first.
    names = list(present)
    preliminary = bundle.calibration(predict_dice(bundle.fusion, [rows[n] for n in names]))
    order = [names[i] for i in np.argsort(np.abs(preliminary - threshold), kind="stable")]
    requests, spent = [], 0
    for name in order:
        chosen = spread_choice(plan.by_structure.get(name, ()), MEDSAM_SLICES)
        if settings.decode_budget is not None and spent + len(chosen) > settings.decode_budget:
            continue
        mine = second_opinion.box_requests(
            present[name],
            chosen,
            orientation=context.orientation,
            frame=embeddings[0].frame,
            channels=context.channels.normalised,
        )
        requests.extend(mine)
        spent += len(mine)
    report(0.85, f"MedSAM second opinion ({len(requests)} boxes)")
    answers = second_opinion.run_second_opinion(
        encoder, requests, embeddings, spacing_yx=(context.spacing[1], context.spacing[2])
    )
    by_structure: dict[str, list] = {}
    for request, answer in zip(requests, answers):
        if answer is not None:
            by_structure.setdefault(request.structure, []).append(answer)
    for name, found in by_structure.items():
        radius = second_opinion.equivalent_radius_mm(present[name], context.spacing)
        rows[name].update(second_opinion.second_opinion_features(found, equivalent_radius_mm=radius))
        if name not in slice_scores:
            slice_scores[name] = [(a.z, a.dice) for a in found]
    return ""


def _channels(
    volume: Volume, extra: Mapping[str, Volume], *, sequence: str | None, modality: str
) -> ImageChannels:
    primary = sequence or ("CT" if modality == "CT" else "MR")
    volumes = {primary: volume}
    for name, other in extra.items():
        if name in volumes:
            raise EstimationOptionError(f"sequence '{name}' is given twice")
        volumes[name] = other
    for name in volumes:
        if name not in SEQUENCES:
            raise EstimationOptionError(f"sequence '{name}' is not one of {', '.join(SEQUENCES)}")
    return ImageChannels.from_volumes(volumes, modality=modality)


def _empty_estimate(name: str, other_crops: Sequence[Mapping[str, StructureCrop]]) -> QualityEstimate:
    declared = [o[name] for o in other_crops if name in o]
    if any(not c.empty for c in declared):
        return QualityEstimate(name, 0.0, 0.0, 1.0, True, -1, (), status="empty_pred")
    status = "both_empty" if declared else "not_evaluable"
    return QualityEstimate(name, math.nan, math.nan, math.nan, False, -1, (), status=status)


def _middle_slice(crop: StructureCrop) -> int:
    occupied = crop.occupied
    return int(occupied[occupied.size // 2])


@lru_cache(maxsize=4)
def _cached_bundle(path: str) -> EstimatorBundle:
    return load_bundle(path)


def _device(name: str) -> str:
    try:
        import torch
    except ImportError:
        return "cpu"  # no torch: the encoder signals will be reported unavailable
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise DeviceError(f"unknown device '{name}' (use auto, cpu or cuda)")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"device '{name}' requested but CUDA is not available")
    return name
