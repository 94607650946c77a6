"""Per-case sample tables: every candidate's signals (computed as at inference) with its true Dice.

One case is read once, its slices encoded once (``embeddings``, cached on disk), its candidates built
(``candidates``) and each candidate measured by every signal: classical QC (raw measures; the prior
z-scores are added per cross-validation fold), agreement with the real outputs other than its own
source, the MedSAM second opinion and the ViT head's inputs with per-slice Dice targets. The result is
saved as one ``.npz`` per case, so cross-validation and training read tables, never images.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .candidates import (
    Candidate,
    CandidateOptions,
    balance,
    case_seed,
    edit_context,
    synthetic_candidates,
)
from .case_data import CaseData, read_case
from .cases import LabelledCase
from .context import CaseContext
from .crops import StructureCrop, crop_dice, crop_of, crops_by_names, structure_crops
from .embeddings import ChannelEmbeddings, SliceEncoder
from .priors import Observation, StructurePriors
from .signals import agreement, classical, second_opinion, vit_head
from .slice_plan import dense_slices, spread_choice

SAMPLES_VERSION = "2"
HEAD_SLICES = 4
MEDSAM_SLICES = 2
CACHE_LIMITS = {"train": 40, "evaluation": 24}

Progress = Callable[[str], None]


@dataclass
class CaseSamples:
    """The sample table of one case: one row per candidate, and the ViT head's inputs per row."""

    case_id: str
    patient: str
    role: str
    modality: str
    rows: list[dict]
    observations: list[Observation]
    head_inputs: list
    slice_targets: list
    bank: np.ndarray
    bank_keys: list
    info: dict = field(default_factory=dict)


def build_case_samples(
    case: LabelledCase,
    *,
    encoder: SliceEncoder | None,
    options: CandidateOptions,
    progress: Progress | None = None,
) -> CaseSamples:
    """Read, encode, generate and measure every candidate of one case.

    ``encoder`` None leaves out every LiteMedSAM signal (and the MedSAM candidates): the classical and
    agreement signals only, as on a machine without the encoder.
    """
    started = time.perf_counter()
    say = progress or (lambda message: None)
    data = read_case(case)
    context = CaseContext.build(data.channels, StructurePriors())
    margin = context.crop_margin()
    references = structure_crops(data.reference, margin=margin)
    present = {n: c for n, c in references.items() if not c.empty}
    depth = context.shape[0]
    cached = dense_slices(
        {n: c.occupied for n, c in present.items()}, depth=depth, limit=CACHE_LIMITS[case.role]
    )
    rng = case_seed(options.seed, case.case_id)
    channels = _encode(encoder, data, context, cached) if encoder is not None else []
    candidates = _candidates(data, context, references, present, channels, encoder, cached, options, rng)
    say(f"{case.case_id}: {len(candidates)} candidates after balancing")
    if encoder is not None:
        channels = _encode_missing(encoder, data, context, channels, candidates)
    available = sorted(channels[0].by_slice) if channels else []
    output_crops = {
        output.model: crops_by_names(structures, references, margin=margin)
        for output, structures in data.outputs
    }
    laterals = {"reference": classical.lateral_offsets(present, context)}
    for model, crops in output_crops.items():
        laterals[model] = classical.lateral_offsets(crops, context)
    rows, head_rows, targets, requests = [], [], [], []
    for candidate in candidates:
        own_model = candidate.source.split(":", 1)[1].split("+")[-1] if ":" in candidate.source else ""
        lateral_table = dict(laterals.get(own_model, laterals["reference"]))
        lateral_table[candidate.structure] = context.body.lateral_offset(
            candidate.crop.crop, candidate.crop.box
        )
        features, intensities = classical.classical_features(candidate.crop, context, laterals=lateral_table)
        features["qc_raw_intensity"] = intensities
        others = [
            crops[candidate.structure]
            for model, crops in output_crops.items()
            if model != own_model and candidate.structure in crops
        ]
        features.update(agreement.agreement_features(candidate.crop, others))
        crossed = sorted(set(available) & set(candidate.crop.occupied.tolist()))
        head = (
            vit_head.head_inputs(
                candidate.crop,
                spread_choice(crossed, HEAD_SLICES),
                channels,
                orientation=context.orientation,
                spacing_z=context.spacing[0],
                modality=context.modality,
                lateral=lateral_table[candidate.structure],
            )
            if channels
            else None
        )
        reference = references[candidate.structure]
        targets.append(_slice_dice(candidate.crop, reference, head.slices) if head is not None else None)
        head_rows.append(head)
        requests.append(
            second_opinion.box_requests(
                candidate.crop,
                spread_choice(crossed, MEDSAM_SLICES),
                orientation=context.orientation,
                frame=channels[0].frame,
                channels=data.channels.normalised,
            )
            if channels
            else []
        )
        rows.append(
            {
                "case_id": case.case_id,
                "patient": case.patient,
                "role": case.role,
                "modality": context.modality,
                "structure": candidate.structure,
                "source": candidate.source,
                "family": candidate.family,
                "kind": candidate.kind,
                "true_dice": candidate.true_dice,
                "equivalent_radius_mm": second_opinion.equivalent_radius_mm(candidate.crop, context.spacing),
                **features,
            }
        )
    say(f"{case.case_id}: MedSAM second opinion on {sum(len(r) for r in requests)} boxes")
    if encoder is not None:
        _add_second_opinion(rows, requests, channels, encoder, context)
    bank, bank_keys, head_rows = _bank(channels, head_rows)
    observations = _observations(present, context, laterals["reference"])
    info = {
        "cached_slices": len(cached),
        "encoded_slices": len(available),
        "channels": list(data.channels.sequences),
        "reference_kind": case.reference_kind,
        "seconds": round(time.perf_counter() - started, 1),
        "options": asdict(options),
    }
    return CaseSamples(
        case_id=case.case_id,
        patient=case.patient,
        role=case.role,
        modality=context.modality,
        rows=rows,
        observations=observations,
        head_inputs=head_rows,
        slice_targets=targets,
        bank=bank,
        bank_keys=bank_keys,
        info=info,
    )


def _encode(encoder: SliceEncoder, data: CaseData, context: CaseContext, slices) -> list[ChannelEmbeddings]:
    return [
        encoder.encode(array, slices, orientation=context.orientation, sequence=sequence)
        for sequence, array in zip(data.channels.sequences, data.channels.normalised)
    ]


def _encode_missing(encoder, data, context, channels, candidates) -> list[ChannelEmbeddings]:
    """Encode one slice for each candidate that crosses none of the cached slices (a z shift beyond the
    cache, a small structure between thinned slices), as the inference plan would give it one."""
    available = set(channels[0].by_slice)
    extra = set()
    for candidate in candidates:
        occupied = candidate.crop.occupied.tolist()
        if not available & set(occupied):
            extra.update(spread_choice(occupied, 1))
    if not extra:
        return channels
    return _encode(encoder, data, context, sorted(available | extra))


def _candidates(
    data, context, references, present, channels, encoder, cached, options, rng
) -> list[Candidate]:
    margin = context.crop_margin()
    edits = max(options.edits_per_structure, -(-options.edits_per_case_floor // max(1, len(present))))
    output_sets = [(output, crops_by_names(s, references, margin=margin)) for output, s in data.outputs]
    candidates: list[Candidate] = []
    for name, reference in present.items():
        candidates.append(Candidate(name, "reference", "reference", "reference", reference, 1.0))
        edit = edit_context(
            name, references, left_axis=context.body.left_axis, midline=context.body.midline, rng=rng
        )
        candidates += synthetic_candidates(name, reference, edit, count=edits, margin=margin, rng=rng)
        for output, crops in output_sets:
            if name not in crops or crops[name].empty:
                continue
            crop = crops[name]
            candidates.append(
                Candidate(
                    name, f"model:{output.model}", output.family, "model", crop, crop_dice(crop, reference)
                )
            )
            candidates += synthetic_candidates(
                name,
                reference,
                edit,
                count=options.edits_per_output,
                margin=margin,
                rng=rng,
                base=crop,
                base_label=output.model,
            )
    if encoder is not None:
        candidates += _medsam_box_candidates(present, channels, encoder, context, cached, options, rng)
    return balance(candidates, bins=options.balance_bins, rng=rng)


def _medsam_box_candidates(present, channels, encoder, context, cached, options, rng) -> list[Candidate]:
    """LiteMedSAM run slice by slice from the reference's boxes jittered by up to 30 % of their size, for
    structures whose every slice is encoded (the ``medsam_boxes`` family)."""
    from ..segmenters.medsam import mask_box

    candidates = []
    cached_set = set(cached)
    for name, reference in present.items():
        occupied = reference.occupied.tolist()
        if not set(occupied) <= cached_set or options.medsam_box_candidates <= 0:
            continue
        planes = context.orientation.apply(reference.full_slices(occupied))
        for _ in range(options.medsam_box_candidates):
            strength = float(rng.uniform(0.0, 1.0))
            boxes = []
            for plane in planes:
                x0, y0, x1, y1 = mask_box(plane)
                jitter = rng.normal(0.0, 0.3 * strength, 4) * np.array([x1 - x0 + 1, y1 - y0 + 1] * 2)
                boxes.append(
                    np.clip(
                        np.array([x0, y0, x1, y1], float) + jitter,
                        0,
                        [plane.shape[1] - 1, plane.shape[0] - 1] * 2,
                    )
                )
            boxes = np.sort(np.array(boxes).reshape(-1, 2, 2), axis=1).reshape(-1, 4)
            masks, _ = encoder.decode(channels[0], occupied, boxes.astype(np.float32))
            mask = np.zeros(reference.shape, dtype=bool)
            mask[occupied] = context.orientation.apply(masks)
            if mask.any():
                crop = crop_of(name, mask, margin=context.crop_margin())
                candidates.append(
                    Candidate(
                        name, "model:medsam_boxes", "medsam_boxes", "model", crop, crop_dice(crop, reference)
                    )
                )
    return candidates


def _add_second_opinion(rows, requests, channels, encoder, context) -> None:
    flat = [r for group in requests for r in group]
    spacing_yx = (context.spacing[1], context.spacing[2])
    answers: list = []
    chunk = 256
    for start in range(0, len(flat), chunk):
        answers += second_opinion.run_second_opinion(
            encoder, flat[start : start + chunk], channels, spacing_yx=spacing_yx
        )
    position = 0
    for row, group in zip(rows, requests):
        mine = [a for a in answers[position : position + len(group)] if a is not None]
        position += len(group)
        row.update(
            second_opinion.second_opinion_features(mine, equivalent_radius_mm=row["equivalent_radius_mm"])
        )


def _slice_dice(candidate: StructureCrop, reference: StructureCrop, slices: Sequence[int]) -> np.ndarray:
    own = candidate.full_slices(list(slices))
    ref = reference.full_slices(list(slices))
    overlap = (own & ref).reshape(len(slices), -1).sum(axis=1)
    total = own.reshape(len(slices), -1).sum(axis=1) + ref.reshape(len(slices), -1).sum(axis=1)
    return np.where(total > 0, 2.0 * overlap / np.maximum(total, 1), 1.0).astype(np.float32)


def _bank(channels: list[ChannelEmbeddings], head_rows: list):
    """The embeddings the head rows use, stacked once, with each row's key replaced by a bank index."""
    import torch

    keys = sorted({key for head in head_rows if head is not None for key in head.embedding_keys})
    index = {key: i for i, key in enumerate(keys)}
    bank = (
        torch.stack([channels[c].by_slice[z] for c, z in keys]).numpy()
        if keys
        else np.zeros((0, 256, 64, 64), np.float16)
    )
    remapped = []
    for head in head_rows:
        if head is None:
            remapped.append(None)
            continue
        remapped.append(
            vit_head.HeadInputs(
                slices=head.slices,
                areas=head.areas,
                masks=head.masks,
                identity=head.identity,
                slice_of_row=head.slice_of_row,
                embedding_keys=tuple((0, index[k]) for k in head.embedding_keys),
            )
        )
    return bank, [[int(c), int(z)] for c, z in keys], remapped


def _observations(present: dict[str, StructureCrop], context: CaseContext, laterals) -> list[Observation]:
    """What the priors learn from this case's reference: volume (unless cut by the scan's ends),
    lateral offset and the median intensity per sequence."""
    voxel_ml = float(np.prod(context.spacing)) / 1000.0
    observations = []
    for name, crop in present.items():
        volume = None if crop.touches_z_end else math.log10(crop.voxels * voxel_ml)
        observations.append(
            Observation(
                name,
                log_volume=volume,
                lateral=laterals.get(name),
                intensity=classical.inside_intensities(crop, context),
            )
        )
    return observations


def save_case_samples(samples: CaseSamples, path: str | Path) -> Path:
    """One ``.npz``: rows and observations as JSON, head inputs concatenated with offsets, the bank."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    heads = [(i, h) for i, h in enumerate(samples.head_inputs) if h is not None]
    arrays = {
        "bank": samples.bank,
        "bank_keys": np.asarray(samples.bank_keys, np.int64).reshape(-1, 2),
        "head_candidate": np.array([i for i, h in heads for _ in h.embedding_keys], np.int64),
        "head_masks": np.concatenate([h.masks for _, h in heads])
        if heads
        else np.zeros((0, 3, 64, 64), np.float16),
        "head_identity": np.concatenate([h.identity for _, h in heads])
        if heads
        else np.zeros((0, vit_head.IDENTITY_SIZE), np.float32),
        "head_bank_index": np.array([k[1] for _, h in heads for k in h.embedding_keys], np.int64),
        "head_slice_target": np.concatenate(
            [samples.slice_targets[i][h.slice_of_row] for i, h in heads]
        ).astype(np.float32)
        if heads
        else np.zeros(0, np.float32),
        "head_slice_area": np.concatenate([h.areas[h.slice_of_row] for _, h in heads])
        if heads
        else np.zeros(0),
        "head_slice_position": np.concatenate([h.slice_of_row for _, h in heads]).astype(np.int64)
        if heads
        else np.zeros(0, np.int64),
    }
    meta = {
        "version": SAMPLES_VERSION,
        "case_id": samples.case_id,
        "patient": samples.patient,
        "role": samples.role,
        "modality": samples.modality,
        "rows": samples.rows,
        "observations": [asdict(o) for o in samples.observations],
        "info": samples.info,
    }
    temporary = path.with_suffix(".tmp.npz")
    np.savez(temporary, meta=np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8), **arrays)
    temporary.replace(path)
    return path


@dataclass
class SampleTable:
    """A saved case's table: ``rows`` (dicts) and the head arrays (rows of the head, not candidates)."""

    case_id: str
    patient: str
    role: str
    modality: str
    rows: list[dict]
    observations: list[Observation]
    arrays: dict
    info: dict


def load_case_samples(path: str | Path) -> SampleTable:
    with np.load(path) as handle:
        meta = json.loads(bytes(handle["meta"]).decode("utf-8"))
        arrays = {k: handle[k] for k in handle.files if k != "meta"}
    return SampleTable(
        case_id=meta["case_id"],
        patient=meta["patient"],
        role=meta["role"],
        modality=meta["modality"],
        rows=meta["rows"],
        observations=[Observation(**o) for o in meta["observations"]],
        arrays=arrays,
        info=meta["info"],
    )


def samples_path(folder: str | Path, case: LabelledCase, options: CandidateOptions) -> Path:
    """Where a case's table lives in the sample cache; the name changes with the options and version."""
    tag = zlib.crc32(json.dumps(asdict(options), sort_keys=True).encode("utf-8"))
    return Path(folder) / f"{case.case_id}-v{SAMPLES_VERSION}-{tag:08x}.npz"
