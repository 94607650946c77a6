"""Full-slice LiteMedSAM embeddings, encoded once per slice and channel, optionally cached on disk.

Every signal that needs the image encoder (the ViT head, the MedSAM second opinion) reads the same
embeddings: the whole axial slice is encoded, never a crop around the candidate, so the context does
not shrink to the mask and a shifted or mirrored mask sits in the wrong place of a full picture.
Slices are laid out as radiologists read them (anterior up, patient's right on the left) before
encoding, so every image reaches the encoder in one orientation whatever its direction matrix.

The disk cache (training, evaluation) keys each embedding by a hash of the encoder input itself, so a
slice seen twice (TotalSegmentator ``ct_sm`` is a crop of ``ct``) is encoded once, and a change of
pre-processing can never return a stale embedding.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..io import Geometry

ENCODER_TAG = "lite_medsam-0.1.1/tinyvit-256/v1"
GRID = 64
EMBEDDING_CHANNELS = 256

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Orientation:
    """Flips that lay an axial (y, x) array plane out radiologically: anterior up, patient's right left."""

    flip_rows: bool
    flip_cols: bool

    @classmethod
    def of(cls, geometry: Geometry) -> Orientation:
        # LPS: +x is the patient's left and +y posterior; a negative cosine means the axis runs the other way.
        return cls(flip_rows=geometry.direction[4] < 0, flip_cols=geometry.direction[0] < 0)

    def apply(self, planes: np.ndarray) -> np.ndarray:
        """Planes (..., rows, cols) in display layout (a view when no flip is needed)."""
        if self.flip_rows:
            planes = planes[..., ::-1, :]
        if self.flip_cols:
            planes = planes[..., :, ::-1]
        return planes


@dataclass(frozen=True)
class ChannelEmbeddings:
    """Embeddings (256, 64, 64) float16 of some z slices of one channel, the slice-to-input frame, and
    each slice's content key (what the disk caches are keyed by)."""

    sequence: str
    by_slice: dict
    frame: object  # segmenters.medsam.SliceFrame
    keys: dict = None


class SliceEncoder:
    """Encodes display-oriented full slices with LiteMedSAM's frozen TinyViT, each slice once.

    ``cache_folder`` keeps float16 embeddings on disk between runs; without it they live only in memory.
    The network is loaded on first need, so a fully cached run never loads it.
    """

    def __init__(self, *, device: str = "cpu", cache_folder: str | Path | None = None) -> None:
        self.device = device
        self.cache_folder = Path(cache_folder) if cache_folder is not None else None
        self._model = None
        self.encoded = 0

    @property
    def model(self):
        if self._model is None:
            from ..segmenters.medsam import load_lite_medsam

            self._model = load_lite_medsam(self.device)
        return self._model

    def encode(
        self,
        channel: np.ndarray,
        slice_indices: Sequence[int],
        *,
        orientation: Orientation,
        sequence: str,
        on_progress: Progress | None = None,
    ) -> ChannelEmbeddings:
        """Embeddings of the listed z slices of one normalised (z, y, x) channel in [0, 1]."""
        import torch

        from ..segmenters.medsam import SliceFrame

        indices = sorted(set(int(z) for z in slice_indices))
        frame = SliceFrame(rows=channel.shape[1], cols=channel.shape[2])
        planes = {z: np.ascontiguousarray(orientation.apply(channel[z]), dtype=np.float32) for z in indices}
        keys = {z: _key(planes[z]) for z in indices}
        by_slice = {}
        missing = []
        for z in indices:
            cached = self._read(keys[z])
            if cached is None:
                missing.append(z)
            else:
                by_slice[z] = cached
        for done, z in enumerate(missing):
            embedding, _ = self.model.encode(planes[z][None])
            by_slice[z] = embedding[0].to(torch.float16).cpu()
            self._write(keys[z], by_slice[z])
            self.encoded += 1
            if on_progress is not None:
                on_progress(done + 1, len(missing))
        return ChannelEmbeddings(sequence=sequence, by_slice=by_slice, frame=frame, keys=keys)

    def decode(self, channel: ChannelEmbeddings, slices: Sequence[int], boxes: np.ndarray):
        """LiteMedSAM's masks (N, rows, cols) and predicted IoUs (N,) for box i on slice ``slices[i]``.

        With a cache folder, each answer is kept on disk (bit-packed) under its slice key and box, so a
        rebuild of the same candidates decodes nothing.
        """
        import torch

        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        rows, cols = channel.frame.rows, channel.frame.cols
        masks = np.zeros((len(slices), rows, cols), dtype=bool)
        ious = np.zeros(len(slices), dtype=np.float32)
        todo = []
        for index, (z, box) in enumerate(zip(slices, boxes)):
            cached = self._read_answer(channel.keys[z], box, (rows, cols)) if channel.keys else None
            if cached is None:
                todo.append(index)
            else:
                masks[index], ious[index] = cached
        if todo:
            stacked = torch.stack([channel.by_slice[slices[i]] for i in todo]).to(torch.float32)
            answer = self.model.decode(stacked, boxes[todo], frame=channel.frame)
            for i, mask, iou in zip(todo, answer.masks, answer.predicted_iou):
                masks[i], ious[i] = mask, iou
                if channel.keys:
                    self._write_answer(channel.keys[slices[i]], boxes[i], mask, float(iou))
        return masks, ious

    def _answer_path(self, key: str, box: np.ndarray) -> Path | None:
        if self.cache_folder is None:
            return None
        digest = hashlib.sha1(f"{key}|{np.round(box, 3).tolist()}".encode()).hexdigest()
        return self.cache_folder / "decoded" / digest[:2] / f"{digest}.npz"

    def _read_answer(self, key: str, box: np.ndarray, shape):
        path = self._answer_path(key, box)
        if path is None or not path.is_file():
            return None
        with np.load(path) as stored:
            bits = np.unpackbits(stored["mask"])[: shape[0] * shape[1]]
            return bits.reshape(shape).astype(bool), float(stored["iou"])

    def _write_answer(self, key: str, box: np.ndarray, mask: np.ndarray, iou: float) -> None:
        path = self._answer_path(key, box)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        with temporary.open("wb") as handle:
            np.savez(handle, mask=np.packbits(mask.ravel()), iou=np.float32(iou))
        os.replace(temporary, path)

    def _path(self, key: str) -> Path | None:
        if self.cache_folder is None:
            return None
        return self.cache_folder / key[:2] / f"{key}.npy"

    def _read(self, key: str):
        import torch

        path = self._path(key)
        if path is None or not path.is_file():
            return None
        return torch.from_numpy(np.load(path))

    def _write(self, key: str, embedding) -> None:
        path = self._path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        with temporary.open("wb") as handle:
            np.save(handle, embedding.numpy())
        os.replace(temporary, path)


def mask_grid(planes: np.ndarray, frame) -> np.ndarray:
    """Display-oriented (S, rows, cols) masks as (S, 64, 64) float32 area fractions on the embedding grid.

    The mask is resized and padded exactly as the image was for the encoder, then averaged over each
    4 x 4 input-pixel cell, so a cell holds the share of it the mask covers.
    """
    import torch
    import torch.nn.functional as F

    from ..segmenters.medsam import INPUT_SIZE

    tensor = torch.from_numpy(np.ascontiguousarray(planes, dtype=np.float32))[:, None]
    rows, cols = frame.resized
    resized = F.interpolate(tensor, size=(rows, cols), mode="area" if rows <= planes.shape[1] else "bilinear")
    padded = F.pad(resized, (0, INPUT_SIZE - cols, 0, INPUT_SIZE - rows))
    return F.avg_pool2d(padded, INPUT_SIZE // GRID)[:, 0].clamp(0.0, 1.0).numpy()


def _key(plane: np.ndarray) -> str:
    digest = hashlib.sha1(ENCODER_TAG.encode())
    digest.update(np.asarray(plane.shape, np.int64).tobytes())
    digest.update(plane.astype(np.float16).tobytes())
    return digest.hexdigest()
