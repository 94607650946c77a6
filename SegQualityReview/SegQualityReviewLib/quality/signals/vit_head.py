"""Signal a: a small learned head on LiteMedSAM's frozen TinyViT embeddings of full slices.

The encoder sees the whole axial slice, so every cell of its 64 x 64 embedding grid carries context
from the full picture, not from a crop that shrinks to the candidate. Per slice and image channel the
head reads the embedding pooled under the candidate's mask on that grid and under rings around it
(one cell, and two to three cells away), under what the masks a few mm above and below cover but this
slice's does not, and the spread of the embedding inside the mask; plus the overlap with those
neighbouring masks and what the name says (group, side and the agreement of that side with the mask's
position, the channel's sequence, the modality). A mask shifted off its organ pools a mixture that
looks like its ring; a wrong label pools the wrong tissue for its group. One shared learned projection
(256 -> 32) reads each pooled vector, and a small MLP predicts the slice's Dice. Per slice the channels
are averaged; the structure's value is the area-weighted mean over its slices (as 3D Dice weighs them).
The encoder is never fine-tuned (no GPU was available; see the model card).

Pooling instead of a convolution over a window keeps the head at 13 k parameters and a CPU training
run at seconds: with eight training patients a larger head only memorises them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..cases import SEQUENCES
from ..crops import StructureCrop
from ..embeddings import ChannelEmbeddings, Orientation, mask_grid
from ..names import GROUPS, identify

NEIGHBOUR_MM = 5.0
POOLS = 5
SCALARS = 6
IDENTITY_SIZE = len(GROUPS) + 3 + len(SEQUENCES) + 2
PROJECTION = 32
FEATURES = (
    "head_dice",
    "head_dice_min",
    "vit_contrast",
    "vit_contrast_min",
    "vit_far_contrast",
    "vit_spread",
)
"""The learned head's slice Dice (mean over slices, and the worst slice) and three training-free
measures of the same pooled embeddings: how far the inside lies from its 1-cell ring (mean and worst
slice) and from its 2-3-cell ring, and how spread the embedding is inside, relative to its norm."""


@dataclass(frozen=True)
class HeadInputs:
    """Inputs of the head for one structure: one row per (slice, channel).

    ``masks`` (R, 3, 64, 64) float16 are the candidate's grid and its neighbours' (below, above);
    ``identity`` (R, IDENTITY_SIZE); ``slice_of_row`` the position of each row's slice in ``slices``;
    ``embedding_keys`` (channel index, z) of each row's embedding.
    """

    slices: tuple[int, ...]
    areas: np.ndarray
    masks: np.ndarray
    identity: np.ndarray
    slice_of_row: np.ndarray
    embedding_keys: tuple[tuple[int, int], ...]


def identity_vector(name: str, *, sequence: str, modality: str, lateral: float) -> np.ndarray:
    identity = identify(name)
    vector = np.zeros(IDENTITY_SIZE, np.float32)
    vector[GROUPS.index(identity.group)] = 1.0
    vector[len(GROUPS) + 1 + identity.side] = 1.0
    vector[len(GROUPS) + 3 + SEQUENCES.index(sequence)] = 1.0
    agreement = identity.side * lateral if identity.side and math.isfinite(lateral) else 0.0
    vector[-2] = float(np.clip(agreement, -1.5, 1.5))
    vector[-1] = float(modality == "CT")
    return vector


def head_inputs(
    crop: StructureCrop,
    slices: Sequence[int],
    embeddings: Sequence[ChannelEmbeddings],
    *,
    orientation: Orientation,
    spacing_z: float,
    modality: str,
    lateral: float,
) -> HeadInputs | None:
    """The head's rows for the listed slices the candidate occupies (None when it occupies none)."""
    slices = [int(z) for z in slices]
    planes = crop.full_slices(slices)
    areas = planes.reshape(len(slices), -1).sum(axis=1)
    keep = areas > 0
    slices, planes, areas = [z for z, k in zip(slices, keep) if k], planes[keep], areas[keep]
    if not slices:
        return None
    frame = embeddings[0].frame
    step = max(1, int(round(NEIGHBOUR_MM / spacing_z)))
    below = crop.full_slices([z - step for z in slices])
    above = crop.full_slices([z + step for z in slices])
    grids = np.stack([mask_grid(orientation.apply(p), frame) for p in (planes, below, above)], axis=1).astype(
        np.float16
    )
    rows_masks, rows_identity, rows_slice, keys = [], [], [], []
    for channel_index, channel in enumerate(embeddings):
        vector = identity_vector(crop.name, sequence=channel.sequence, modality=modality, lateral=lateral)
        for position, z in enumerate(slices):
            rows_masks.append(grids[position])
            rows_identity.append(vector)
            rows_slice.append(position)
            keys.append((channel_index, z))
    return HeadInputs(
        slices=tuple(slices),
        areas=np.asarray(areas, float),
        masks=np.stack(rows_masks),
        identity=np.stack(rows_identity),
        slice_of_row=np.asarray(rows_slice),
        embedding_keys=tuple(keys),
    )


def pooled_features(embedding, masks) -> tuple[np.ndarray, np.ndarray]:
    """For rows sharing one embedding (256, 64, 64): pooled vectors (R, 5, 256) and scalars (R, 6).

    Pools: inside the candidate, its 1-cell ring, its 2-3-cell ring, where a neighbouring slice's mask
    reaches beyond this one's, and the per-channel standard deviation inside. Scalars: overlap (IoU)
    with each neighbour mask, log area in cells, the cosine similarity of inside and each ring, and
    whether a neighbour is empty.
    """
    import torch
    import torch.nn.functional as F

    image = torch.as_tensor(embedding).to(torch.float32).reshape(256, -1)
    masks = torch.as_tensor(masks).to(torch.float32)
    candidate, below, above = masks[:, 0], masks[:, 1], masks[:, 2]
    near = F.max_pool2d(candidate[:, None], 3, stride=1, padding=1)[:, 0]
    far = F.max_pool2d(candidate[:, None], 7, stride=1, padding=3)[:, 0]
    ring_near = (near - candidate).clamp(min=0.0)
    ring_far = (far - near).clamp(min=0.0)
    beyond = (torch.maximum(below, above) - candidate).clamp(min=0.0)
    weights = torch.stack([candidate, ring_near, ring_far, beyond], dim=1).reshape(len(masks), 4, -1)
    totals = weights.sum(dim=2, keepdim=True)
    means = (weights @ image.T) / totals.clamp(min=1e-3)
    inside_sq = (weights[:, :1] @ (image**2).T) / totals[:, :1].clamp(min=1e-3)
    spread = (inside_sq - means[:, :1] ** 2).clamp(min=0.0).sqrt()
    vectors = torch.cat([means, spread], dim=1)

    def iou(a, b):
        return torch.minimum(a, b).sum(dim=(1, 2)) / torch.maximum(a, b).sum(dim=(1, 2)).clamp(min=1e-3)

    cosine = F.cosine_similarity(means[:, :1], means[:, 1:3], dim=2)
    scalars = torch.stack(
        [
            iou(candidate, below),
            iou(candidate, above),
            torch.log1p(candidate.sum(dim=(1, 2))),
            cosine[:, 0],
            cosine[:, 1],
            ((below.sum(dim=(1, 2)) == 0) | (above.sum(dim=(1, 2)) == 0)).to(torch.float32),
        ],
        dim=1,
    )
    return vectors.numpy(), scalars.numpy()


def pool_rows(embedding_of, masks: np.ndarray, keys: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Pooled vectors and scalars for every row; ``embedding_of(key)`` gives a row's embedding and rows
    sharing a key are pooled together (each embedding converted once)."""
    vectors = np.zeros((len(keys), POOLS, 256), np.float32)
    scalars = np.zeros((len(keys), SCALARS), np.float32)
    groups: dict = {}
    for index, key in enumerate(keys):
        groups.setdefault(key, []).append(index)
    for key, members in groups.items():
        vectors[members], scalars[members] = pooled_features(embedding_of(key), masks[members])
    return vectors, scalars


def build_head_net():
    """The head network (about 13 k parameters)."""
    import torch
    from torch import nn

    class HeadNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.project = nn.Linear(256, PROJECTION)
            self.head = nn.Sequential(
                nn.Linear(POOLS * PROJECTION + SCALARS + IDENTITY_SIZE, 48),
                nn.GELU(),
                nn.Dropout(0.1),
                nn.Linear(48, 1),
            )

        def forward(self, vectors, scalars, identity):
            projected = self.project(vectors).flatten(1)
            return torch.sigmoid(self.head(torch.cat([projected, scalars, identity], dim=1))).squeeze(1)

    return HeadNet()


def pool_inputs(inputs: HeadInputs, embeddings: Sequence[ChannelEmbeddings]) -> tuple[np.ndarray, np.ndarray]:
    """Pooled vectors and scalars of every row of ``inputs``."""
    return pool_rows(lambda key: embeddings[key[0]].by_slice[key[1]], inputs.masks, inputs.embedding_keys)


def predict_rows(net, inputs: HeadInputs, vectors: np.ndarray, scalars: np.ndarray) -> np.ndarray:
    """Predicted slice Dice of every row of ``inputs`` from its pooled inputs (eval mode, no gradient)."""
    import torch

    net.eval()
    with torch.inference_mode():
        return net(
            torch.from_numpy(vectors), torch.from_numpy(scalars), torch.from_numpy(inputs.identity)
        ).numpy()


def embedding_contrasts(vectors: np.ndarray) -> np.ndarray:
    """(R, 3) per row: ||inside - near ring|| / ||inside||, 1 - cos(inside, far ring), and
    ||spread inside|| / ||inside||. A mask that fits its structure differs from its surroundings in
    the encoder's features; one shifted off it, or spilling over, pools a mixture like its ring."""
    vectors = np.asarray(vectors, dtype=np.float32)
    inside, near, far, spread = vectors[:, 0], vectors[:, 1], vectors[:, 2], vectors[:, 4]
    norm = np.linalg.norm(inside, axis=1) + 1e-6
    cosine = (inside * far).sum(axis=1) / (norm * (np.linalg.norm(far, axis=1) + 1e-6))
    return np.stack(
        [np.linalg.norm(inside - near, axis=1) / norm, 1.0 - cosine, np.linalg.norm(spread, axis=1) / norm],
        axis=1,
    )


def aggregate_slices(
    per_row: np.ndarray, slice_of_row: np.ndarray, areas: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows (channels) averaged per slice, then the area-weighted mean and the minimum over slices;
    ``per_row`` is (R,) or (R, k)."""
    per_row = np.asarray(per_row, float).reshape(len(slice_of_row), -1)
    count = len(areas)
    sums = np.zeros((count, per_row.shape[1]))
    np.add.at(sums, slice_of_row, per_row)
    per_slice = sums / np.maximum(np.bincount(slice_of_row, minlength=count), 1)[:, None]
    return np.average(per_slice, axis=0, weights=areas), per_slice.min(axis=0)


def head_features(
    inputs: HeadInputs | None, row_predictions: np.ndarray | None, vectors: np.ndarray | None
) -> dict[str, float]:
    """The ``FEATURES`` of one structure from its rows' head predictions and pooled vectors (NaN for
    what is absent: no rows, or no trained head)."""
    features = dict.fromkeys(FEATURES, math.nan)
    if inputs is None or vectors is None or not len(vectors):
        return features
    mean, minimum = aggregate_slices(embedding_contrasts(vectors), inputs.slice_of_row, inputs.areas)
    features.update(
        vit_contrast=float(mean[0]),
        vit_contrast_min=float(minimum[0]),
        vit_far_contrast=float(mean[1]),
        vit_spread=float(mean[2]),
    )
    if row_predictions is not None and row_predictions.size:
        mean, minimum = aggregate_slices(row_predictions, inputs.slice_of_row, inputs.areas)
        features.update(head_dice=float(mean[0]), head_dice_min=float(minimum[0]))
    return features
