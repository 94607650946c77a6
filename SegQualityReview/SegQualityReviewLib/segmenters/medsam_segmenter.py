"""The ``medsam`` segmenter: LiteMedSAM prompted with boxes slice by slice, giving one 3D segment.

LiteMedSAM is 2D, so a 3D prompt becomes one box per slice (k plane) of the volume:
- a 3D box, ``fixed`` (default): every slice of the box's k range gets the same 2D box.
- a 3D box, ``propagate``: the box's middle slice is prompted with the box; each neighbour, going up and
  then down, with the previous slice's result box grown by ``margin_px`` and kept inside the user's box,
  until the mask vanishes or the box's k range ends, so slices past the structure's end are neither
  encoded nor filled.
- an existing segment (``SliceBoxes``): each slice it covers gets that slice's box, grown by the margin.
The measured difference between the two 3D modes (``fixed`` won on average) is in docs/segmenters.md.

Each needed slice is encoded once (batches per device, see ``medsam.ENCODE_BATCH``); progress and
cancellation go through ``RunControl`` after every slice. ``propose`` is the whole algorithm on an
in-memory volume and returns the mask with the boxes it used and LiteMedSAM's predicted IoU per slice,
which the review's "propose a fix" step needs; ``MedSAMSegmenter`` wraps it as a ``Segmenter``, which
``segquality segment --model medsam`` runs in a worker process (``process.segment_job``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import MutableMapping, Sequence

import numpy as np

from ..io import StructureSet, Volume
from ..io.intensity import detect_modality, normalize_intensity
from .base import RunControl, SegmenterError
from .box_prompts import (
    DEFAULT_MARGIN_PX,
    DEFAULT_PROPAGATION,
    PROPAGATION_CHOICES,
    MedSAMPrompt,
    PixelBox,
    SliceBoxes,
    VoxelBox,
)
from .medsam import ENCODE_BATCH, MEDSAM_REQUIREMENT, check_medsam_installed, load_lite_medsam, mask_box

# LiteMedSAM was distilled from MedSAM, trained on its public collection of about 1.57 million image-mask
# pairs (Ma et al., Nat Commun 2024), which includes BraTS brain-tumour MRI.
TRAINING_DATASETS = ("MedSAM training collection (public CT, MR and other images; includes BraTS)",)


@dataclass(frozen=True)
class SliceResult:
    """One prompted slice: its index k, the box used, the decoder's IoU estimate and the mask's pixel count."""

    k: int
    box: PixelBox
    predicted_iou: float
    pixels: int


@dataclass(frozen=True)
class MedSAMProposal:
    """A LiteMedSAM segmentation of one structure: the 3D mask and how each slice was prompted.

    ``mask`` is bool (z, y, x) on the volume's grid; ``slices`` lists every prompted slice in k order
    (the last one in a propagation direction may be empty: that is where it stopped); ``mode`` is
    ``propagate``, ``fixed`` or ``segment``.
    """

    mask: np.ndarray
    slices: tuple[SliceResult, ...]
    mode: str
    modality: str

    @property
    def encoded_slices(self) -> int:
        return len(self.slices)

    def as_record(self) -> dict:
        """A JSON-ready summary: the mode, modality and each slice's box, predicted IoU and pixel count."""
        return {
            "mode": self.mode,
            "modality": self.modality,
            "voxels": int(self.mask.sum()),
            "slices": [
                {"k": s.k, "box": list(s.box), "predicted_iou": round(s.predicted_iou, 4), "pixels": s.pixels}
                for s in self.slices
            ],
        }


class SliceEmbeddings:
    """LiteMedSAM embeddings of a volume's k slices, each encoded at most once, on demand, in device batches.

    ``image`` is the (z, y, x) volume in [0, 1] (``prepare_image``), ``modality`` how it was mapped there.
    ``cache`` (slice index -> embedding) may be shared between runs on the same image and modality (the
    benchmark does); without one, embeddings are dropped once their slice is decoded.
    """

    def __init__(self, model, image: np.ndarray, *, modality: str, cache: MutableMapping | None = None):
        from .medsam import SliceFrame

        self.model = model
        self.image = image
        self.modality = modality
        self.frame = SliceFrame(rows=image.shape[1], cols=image.shape[2])
        self._own_cache = cache is None
        self._cache = {} if cache is None else cache

    @classmethod
    def for_volume(
        cls,
        volume: Volume,
        *,
        device: str = "auto",
        modality: str = "auto",
        cache: MutableMapping | None = None,
    ) -> SliceEmbeddings:
        """Prepare ``volume`` and load LiteMedSAM on ``device``; nothing is encoded yet."""
        image, resolved = prepare_image(volume, modality=modality)
        return cls(load_lite_medsam(device), image, modality=resolved, cache=cache)

    @property
    def batch_size(self) -> int:
        return ENCODE_BATCH.get(self.model.device, 1)

    def get(self, slices: Sequence[int], *, ahead: Sequence[int] = ()):
        """Embeddings (len(slices), 256, 64, 64) of ``slices``; ``ahead`` are encoded in the same batch if missing."""
        import torch

        missing = [k for k in dict.fromkeys([*slices, *ahead]) if k not in self._cache]
        if missing:
            embeddings, _ = self.model.encode(self.image[missing])
            for k, embedding in zip(missing, embeddings):
                self._cache[k] = embedding
        return torch.stack([self._cache[k] for k in slices])

    def release(self, slices: Sequence[int]) -> None:
        if self._own_cache:
            for k in slices:
                self._cache.pop(k, None)


def prepare_image(volume: Volume, *, modality: str = "auto") -> tuple[np.ndarray, str]:
    """The volume in [0, 1] as LiteMedSAM sees it (``io.intensity``: CT window, MR percentiles) and its modality."""
    resolved = detect_modality(volume.array) if modality == "auto" else modality
    return normalize_intensity(volume.array, modality=resolved), resolved


def propose(
    volume: Volume,
    boxes: VoxelBox | SliceBoxes,
    *,
    device: str = "auto",
    modality: str = "auto",
    propagation: str = DEFAULT_PROPAGATION,
    margin_px: int = DEFAULT_MARGIN_PX,
    control: RunControl | None = None,
    embeddings: SliceEmbeddings | None = None,
) -> MedSAMProposal:
    """Segment one structure of ``volume`` from a 3D box or per-slice boxes (see the module docstring).

    ``embeddings`` lets several runs on one image share encoded slices (then ``device`` and ``modality``
    are those it was made with); by default the image is prepared here and LiteMedSAM loaded on ``device``.
    """
    if propagation not in PROPAGATION_CHOICES:
        raise SegmenterError(f"propagation '{propagation}' is not one of {', '.join(PROPAGATION_CHOICES)}")
    control = control or RunControl()
    if embeddings is None:
        embeddings = SliceEmbeddings.for_volume(volume, device=device, modality=modality)
    mask = np.zeros(volume.geometry.array_shape, dtype=bool)
    if isinstance(boxes, SliceBoxes):
        mode, results = "segment", _prompt_each_slice(boxes.boxes, embeddings, mask, control)
    elif propagation == "fixed":
        per_slice = {k: boxes.pixel_box for k in boxes.slices}
        mode, results = "fixed", _prompt_each_slice(per_slice, embeddings, mask, control)
    else:
        mode, results = "propagate", _propagate(boxes, embeddings, mask, control, margin_px=margin_px)
    control.report(1.0, f"MedSAM: {int(mask.any(axis=(1, 2)).sum())} slices segmented")
    return MedSAMProposal(
        mask=mask, slices=tuple(sorted(results, key=lambda r: r.k)), mode=mode, modality=embeddings.modality
    )


def _decode(embeddings: SliceEmbeddings, slices: Sequence[int], boxes: Sequence[PixelBox], mask: np.ndarray):
    """Decode one box per slice into ``mask``; returns the ``SliceResult`` records."""
    answer = embeddings.model.decode(embeddings.get(slices), np.array(boxes), frame=embeddings.frame)
    embeddings.release(slices)
    results = []
    for k, box, slice_mask, iou in zip(slices, boxes, answer.masks, answer.predicted_iou):
        mask[k] = slice_mask
        results.append(
            SliceResult(
                k=int(k),
                box=tuple(int(v) for v in box),
                predicted_iou=float(iou),
                pixels=int(slice_mask.sum()),
            )
        )
    return results


def _prompt_each_slice(
    boxes: dict[int, PixelBox], embeddings: SliceEmbeddings, mask: np.ndarray, control: RunControl
) -> list[SliceResult]:
    slices = sorted(boxes)
    results: list[SliceResult] = []
    for start in range(0, len(slices), embeddings.batch_size):
        control.check_cancelled()
        chunk = slices[start : start + embeddings.batch_size]
        results += _decode(embeddings, chunk, [boxes[k] for k in chunk], mask)
        control.report(len(results) / len(slices), f"MedSAM slice {chunk[-1]} ({len(results)}/{len(slices)})")
    return results


def _propagate(
    box: VoxelBox, embeddings: SliceEmbeddings, mask: np.ndarray, control: RunControl, *, margin_px: int
) -> list[SliceResult]:
    """Middle slice from the box, then outwards from each previous result, within the box, until a mask vanishes."""
    middle = (box.k0 + box.k1) // 2
    total = box.k1 - box.k0 + 1
    results = _decode(embeddings, [middle], [box.pixel_box], mask)
    control.report(1 / total, f"MedSAM slice {middle} (1/{total}, middle of the box)")
    for step, last in ((1, box.k1), (-1, box.k0)):
        k = middle + step
        while (k - last) * step <= 0 and mask[k - step].any():
            control.check_cancelled()
            grown = mask_box(mask[k - step], margin=margin_px)
            prompt = _clip(grown, box.pixel_box)
            ahead = list(range(k + step, last + step, step))[: embeddings.batch_size - 1]
            embeddings.get([k], ahead=ahead)
            results += _decode(embeddings, [k], [prompt], mask)
            control.report(len(results) / total, f"MedSAM slice {k} ({len(results)}/{total} at most)")
            k += step
    return results


def _clip(box: PixelBox, bounds: PixelBox) -> PixelBox:
    """``box`` kept inside ``bounds``; a box wholly outside collapses onto the nearest edge of ``bounds``."""
    x0, y0, x1, y1 = box
    bx0, by0, bx1, by1 = bounds
    x0, x1 = min(max(x0, bx0), bx1), max(min(x1, bx1), bx0)
    y0, y1 = min(max(y0, by0), by1), max(min(y1, by1), by0)
    return (x0, y0, max(x0, x1), max(y0, y1))


class MedSAMSegmenter:
    """``medsam`` as a ``Segmenter``: one structure from the prompt it was built with (``MedSAMPrompt``)."""

    name = "medsam"
    version = f"LiteMedSAM ({MEDSAM_REQUIREMENT})"
    training_datasets = TRAINING_DATASETS

    def __init__(self, prompt: MedSAMPrompt, *, device: str = "auto"):
        check_medsam_installed()
        self.prompt = prompt
        self.device = device
        self.structures = (prompt.structure_name,)

    @classmethod
    def from_config(cls, config: Path | None, *, device: str = "auto") -> MedSAMSegmenter:
        """The segmenter for a prompt file (``--model-config``; the CLI's box options write one)."""
        check_medsam_installed()
        if config is None:
            raise SegmenterError(
                "model 'medsam' needs a prompt: --box I0,J0,K0,I1,J1,K1, --box-ras R0,A0,S0,R1,A1,S1 "
                "or --boxes-from SEG --structure NAME (or a prompt file as --model-config)"
            )
        return cls(MedSAMPrompt.load(config), device=device)

    def run(self, volume: Volume, *, control: RunControl | None = None) -> StructureSet:
        control = control or RunControl()
        boxes = self.prompt.resolve(volume)
        control.report(0.0, "loading LiteMedSAM")
        proposal = propose(
            volume,
            boxes,
            device=self.device,
            modality=self.prompt.modality,
            propagation=self.prompt.propagation,
            margin_px=self.prompt.margin_px,
            control=control,
        )
        if self.prompt.record is not None:
            record = {"model": self.name, "version": self.version, "image": volume.source}
            record |= {
                "structure": self.prompt.structure_name,
                "prompt": self.prompt.with_record(None).as_config(),
            }
            record |= proposal.as_record()
            Path(self.prompt.record).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        return StructureSet.from_masks(
            {self.prompt.structure_name: proposal.mask}, volume.geometry, source=f"medsam on {volume.source}"
        )
