"""MedSAM proposals in a review: the record of each one, and the job folder a separate process runs.

A reviewer who rejects a structure (or marks it needs-edit) may ask LiteMedSAM for a replacement, prompted
with the structure's own per-slice boxes or with a box the reviewer drew (an ROI, as an inclusive IJK box).
The proposal becomes a new segment beside the original (``liver (MedSAM)``), assessed the way the
assessment assesses every segment (the estimator, and true metrics when a reference is given), and the
reviewer later accepts it or keeps the original. Nothing is overwritten: the original segment's voxels are
never touched, and the ``ProposalRecord`` keeps both versions (voxel count and digest of each), the
prompt, the model and the decision, so the audit log says which version was chosen and from what.

numpy and the standard library only at import time (the Slicer GUI imports this package before the
module's dependencies are installed); LiteMedSAM and the estimator are imported by ``run_proposal_job``.
The child process is ``python -m SegQualityReviewLib.review.proposal_worker JOB_FOLDER``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, fields, replace
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from .items import Decision, Flag, ReviewItem, ReviewRecordError

ProgressCallback = Callable[[float, str], None]

PROPOSAL_MODEL = "medsam"
PROPOSAL_SUFFIX = "MedSAM"
# A structure is proposed for only once the reviewer has said it is wrong.
PROPOSABLE_DECISIONS = (Decision.REJECTED, Decision.NEEDS_EDIT)
PROMPTS = ("own_boxes", "roi_box")

JOB_ARRAYS = "proposal_job.npz"
JOB_SETTINGS = "proposal_job.json"
RESULT_MASK = "proposal.npz"
RESULT_RECORD = "proposal.json"


class ProposalError(ReviewRecordError):
    """A proposal cannot be made or decided: the structure is not rejected, or no such proposal exists."""


class ProposalDecision(str, Enum):
    """What the reviewer decided about a proposal: not yet, take the proposal, or keep the original."""

    PENDING = "pending"
    ACCEPT_PROPOSAL = "accept_proposal"
    KEEP_ORIGINAL = "keep_original"


@dataclass(frozen=True)
class ProposalRecord:
    """One MedSAM proposal for one structure, with both versions and the decision taken on it.

    ``prompt`` is ``own_boxes`` (the structure's per-slice boxes, grown by the segmenter's margin) or
    ``roi_box`` (a box the reviewer drew); ``box_ijk`` is ``i0,j0,k0,i1,j1,k1`` (inclusive voxel
    indices): the drawn box, or the box enclosing the own boxes. ``original_*`` and ``proposal_*``
    identify the two versions (voxel count, sha256 of the mask); ``predicted_dice`` and its interval
    are the estimator's on the proposal, ``true_dice`` is against the reference when one was given.
    """

    structure: str
    proposal_segment: str
    prompt: str
    box_ijk: str
    prompted_slices: int
    model: str
    model_version: str
    original_voxels: int
    original_sha256: str
    proposal_voxels: int
    proposal_sha256: str
    predicted_dice: float | None = None
    interval_low: float | None = None
    interval_high: float | None = None
    true_dice: float | None = None
    proposed_by: str = ""
    proposed_at: str = ""
    decision: ProposalDecision = ProposalDecision.PENDING
    note: str = ""
    decided_by: str = ""
    decided_at: str = ""

    def as_row(self) -> dict[str, str]:
        """The record as strings (a CSV or MRML table row); empty cells for missing numbers."""
        return {key: "" if value is None else str(value) for key, value in self.as_dict().items()}

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON-ready values."""
        return {
            field.name: (lambda v: v.value if isinstance(v, Enum) else v)(getattr(self, field.name))
            for field in fields(self)
        }

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, source: str = "proposal record") -> ProposalRecord:
        """Rebuild a record from ``as_row`` or ``as_dict`` output (unknown columns are ignored)."""
        name = str(values.get("proposal_segment") or "")
        if not name or not str(values.get("structure") or ""):
            raise ReviewRecordError(f"{source}: a proposal has no structure or proposal segment name")
        try:
            numbers = {
                key: _number(values.get(key))
                for key in ("predicted_dice", "interval_low", "interval_high", "true_dice")
            }
            counts = {
                key: int(float(values.get(key) or 0))
                for key in ("prompted_slices", "original_voxels", "proposal_voxels")
            }
            texts = {
                key: str(values.get(key) or "")
                for key in (
                    "structure",
                    "proposal_segment",
                    "prompt",
                    "box_ijk",
                    "model",
                    "model_version",
                    "original_sha256",
                    "proposal_sha256",
                    "proposed_by",
                    "proposed_at",
                    "note",
                    "decided_by",
                    "decided_at",
                )
            }
            decision = ProposalDecision(values.get("decision") or ProposalDecision.PENDING.value)
        except ValueError as error:
            raise ReviewRecordError(f"{source}: proposal '{name}': {error}") from None
        return cls(**texts, **numbers, **counts, decision=decision)

    def audit_note(self) -> str:
        """The proposal in one line of the audit log: both versions, the prompt and the predicted Dice."""
        quality = (
            "no predicted Dice"
            if self.predicted_dice is None
            else f"predicted Dice {self.predicted_dice:.3f}"
        )
        return (
            f"{self.proposal_segment} ({self.model}, {self.prompt.replace('_', ' ')} {self.box_ijk}, "
            f"{self.prompted_slices} slices, {self.proposal_voxels} voxels, sha256 {self.proposal_sha256[:12]}; "
            f"{quality}) beside {self.structure} ({self.original_voxels} voxels, "
            f"sha256 {self.original_sha256[:12]})"
        )


PROPOSAL_COLUMNS: tuple[str, ...] = tuple(field.name for field in fields(ProposalRecord))


def proposal_segment_name(structure: str, existing: Iterable[str]) -> str:
    """``<structure> (MedSAM)``, or ``(MedSAM 2)``, ``(MedSAM 3)``, ... when that name is taken."""
    taken = set(existing)
    name, number = f"{structure} ({PROPOSAL_SUFFIX})", 2
    while name in taken:
        name, number = f"{structure} ({PROPOSAL_SUFFIX} {number})", number + 1
    return name


def mask_digest(mask: np.ndarray) -> str:
    """sha256 of a mask's shape and packed bits: equal digests, equal voxels."""
    mask = np.ascontiguousarray(mask, dtype=bool)
    digest = hashlib.sha256(repr(mask.shape).encode("ascii"))
    digest.update(np.packbits(mask, axis=None).tobytes())
    return digest.hexdigest()


def check_proposable(item: ReviewItem) -> None:
    """Raise ``ProposalError`` unless the reviewer has rejected the structure or marked it needs-edit."""
    if item.decision not in PROPOSABLE_DECISIONS:
        raise ProposalError(
            f"structure '{item.structure}' is {item.decision.value.replace('_', ' ')}: MedSAM proposes a "
            "replacement only for a structure marked rejected or needs edit"
        )


def box_text(indices: Sequence[int]) -> str:
    return ",".join(str(int(v)) for v in indices)


@dataclass(frozen=True)
class ProposalResult:
    """What a finished proposal job wrote: the mask (z, y, x), the proposal assessed as a review item
    named as the original structure, the prompt used and LiteMedSAM's per-slice record."""

    mask: np.ndarray
    item: ReviewItem
    prompt: str
    box_ijk: str
    prompted_slices: int
    model_version: str
    medsam: dict


def write_proposal_job(
    folder: str | Path,
    volume,
    mask: np.ndarray,
    *,
    structure: str,
    box: Sequence[int] | None = None,
    reference_mask: np.ndarray | None = None,
    threshold: float = 0.7,
    use_estimator: bool = True,
    weights: str | Path | None = None,
    device: str = "auto",
) -> Path:
    """Write a proposal job for ``run_proposal_job``: the volume, the structure's mask (its own boxes
    prompt MedSAM unless ``box``, an inclusive ``(i0, j0, k0, i1, j1, k1)``, is given) and the reference
    mask of the same structure (optional)."""
    from dataclasses import asdict

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"volume": volume.array, "mask": np.asarray(mask, dtype=bool)}
    if reference_mask is not None:
        arrays["reference"] = np.asarray(reference_mask, dtype=bool)
    settings = {
        "structure": structure,
        "box": None if box is None else [int(v) for v in box],
        "threshold": float(threshold),
        "use_estimator": bool(use_estimator),
        "weights": None if weights is None else str(Path(weights).resolve()),
        "device": device,
        "volume": {"geometry": asdict(volume.geometry), "source": volume.source},
    }
    np.savez(folder / JOB_ARRAYS, **arrays)
    (folder / JOB_SETTINGS).write_text(json.dumps(settings, indent=1), encoding="utf-8")
    return folder


def run_proposal_job(folder: str | Path, *, progress: ProgressCallback | None = None) -> ProposalResult:
    """Run a job folder written by ``write_proposal_job``: MedSAM from the prompt, then the proposal
    assessed like any segment; writes ``proposal.npz`` and ``proposal.json`` there."""
    from ..io import Geometry, StructureSet, Volume
    from ..segmenters.base import RunControl
    from ..segmenters.box_prompts import VoxelBox, slice_boxes_from_mask
    from ..segmenters.medsam_segmenter import MedSAMSegmenter, propose
    from .assessment import assess_structures

    report = progress or (lambda fraction, message: None)
    folder = Path(folder)
    settings = json.loads((folder / JOB_SETTINGS).read_text(encoding="utf-8"))
    geometry = Geometry(**{k: tuple(v) for k, v in settings["volume"]["geometry"].items()})
    with np.load(folder / JOB_ARRAYS) as arrays:
        volume = Volume(array=arrays["volume"], geometry=geometry, source=settings["volume"]["source"])
        mask = arrays["mask"]
        reference_mask = arrays["reference"] if "reference" in arrays.files else None
    structure = settings["structure"]
    report(0.0, "loading LiteMedSAM")
    from ..segmenters.medsam import check_medsam_installed

    check_medsam_installed()
    if settings["box"] is not None:
        boxes = VoxelBox(*settings["box"])
        boxes.check_inside(geometry, image_name=volume.source, option="the drawn box")
        prompt, box, prompted = "roi_box", boxes.indices, len(boxes.slices)
    else:
        if not mask.any():
            raise ProposalError(f"structure '{structure}' is empty, so it gives MedSAM no boxes")
        boxes = slice_boxes_from_mask(mask)
        corners = np.array(list(boxes.boxes.values()))
        box = (corners[:, 0].min(), corners[:, 1].min(), min(boxes.slices))
        box += (corners[:, 2].max(), corners[:, 3].max(), max(boxes.slices))
        prompt, prompted = "own_boxes", len(boxes.slices)
    control = RunControl(on_progress=lambda fraction, message: report(0.05 + 0.6 * fraction, message))
    proposal = propose(volume, boxes, device=settings["device"], control=control)
    structures = StructureSet.from_masks({structure: proposal.mask}, geometry, source="MedSAM proposal")
    if settings["use_estimator"] or reference_mask is not None:
        reference = None
        if reference_mask is not None:
            reference = StructureSet.from_masks({structure: reference_mask}, geometry, source="reference")
        (item,) = assess_structures(
            volume,
            structures,
            reference=reference,
            threshold=settings["threshold"],
            use_estimator=settings["use_estimator"],
            weights=settings["weights"],
            device=settings["device"],
            progress=lambda fraction, message: report(0.65 + 0.3 * fraction, message),
        )
    else:
        occupied = np.flatnonzero(proposal.mask.any(axis=(1, 2)))
        worst = int(occupied[occupied.size // 2]) if occupied.size else None
        item = ReviewItem(structure=structure, flag=Flag.UNKNOWN, worst_slice=worst)
    np.savez_compressed(folder / RESULT_MASK, mask=proposal.mask)
    record = {
        "item": item.as_dict(),
        "prompt": prompt,
        "box_ijk": box_text(box),
        "prompted_slices": prompted,
        "model_version": MedSAMSegmenter.version,
        "medsam": proposal.as_record(),
    }
    (folder / RESULT_RECORD).write_text(json.dumps(record, indent=1), encoding="utf-8")
    report(1.0, "Done")
    return read_proposal_result(folder)


def read_proposal_result(folder: str | Path) -> ProposalResult:
    """The proposal a finished job wrote."""
    folder = Path(folder)
    if not (folder / RESULT_RECORD).is_file() or not (folder / RESULT_MASK).is_file():
        raise ProposalError(f"{folder}: the proposal job wrote no result")
    record = json.loads((folder / RESULT_RECORD).read_text(encoding="utf-8"))
    with np.load(folder / RESULT_MASK) as arrays:
        mask = arrays["mask"].astype(bool)
    return ProposalResult(
        mask=mask,
        item=ReviewItem.from_mapping(record["item"], source=str(folder / RESULT_RECORD)),
        prompt=record["prompt"],
        box_ijk=record["box_ijk"],
        prompted_slices=int(record["prompted_slices"]),
        model_version=record["model_version"],
        medsam=record["medsam"],
    )


def proposal_record(
    result: ProposalResult,
    *,
    structure: str,
    proposal_segment: str,
    original_mask: np.ndarray,
    proposed_by: str,
    proposed_at: str,
) -> ProposalRecord:
    """The record of a finished proposal: both versions identified, the prompt, the model, its quality."""
    return ProposalRecord(
        structure=structure,
        proposal_segment=proposal_segment,
        prompt=result.prompt,
        box_ijk=result.box_ijk,
        prompted_slices=result.prompted_slices,
        model=PROPOSAL_MODEL,
        model_version=result.model_version,
        original_voxels=int(np.count_nonzero(original_mask)),
        original_sha256=mask_digest(original_mask),
        proposal_voxels=int(np.count_nonzero(result.mask)),
        proposal_sha256=mask_digest(result.mask),
        predicted_dice=result.item.predicted_dice,
        interval_low=result.item.interval_low,
        interval_high=result.item.interval_high,
        true_dice=result.item.true_dice,
        proposed_by=proposed_by,
        proposed_at=proposed_at,
    )


def proposal_item(result: ProposalResult, *, proposal_segment: str) -> ReviewItem:
    """The proposal's review item, named as its segment (a new row beside the original's)."""
    return replace(result.item, structure=proposal_segment)


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    number = float(value)
    return None if math.isnan(number) else number
