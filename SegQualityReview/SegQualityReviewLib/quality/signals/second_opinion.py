"""Signal b: a training-free second opinion. LiteMedSAM re-segments the structure from the candidate's
own per-slice boxes (with a margin), and the agreement between the two is the signal.

A box says where the structure is; MedSAM decides from the image what in that box is the structure.
A candidate that is too small, too large, ragged, or shifted off the organ disagrees with what MedSAM
finds in its box. Box prompts need no crop, so every box decodes on the full-slice embeddings that the
ViT head also reads. With several channels (MR sequences) each box is decoded once, on the channel
where the candidate stands out most from its surroundings in the box (decoding costs about as much
per box as a tenth of an encoding on a CPU, so not on every channel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy import ndimage

from ..crops import StructureCrop
from ..embeddings import ChannelEmbeddings, Orientation

FEATURES = (
    "ms_dice",
    "ms_dice_min",
    "ms_iou",
    "ms_boundary_mm",
    "ms_boundary_rel",
    "ms_area_ratio",
)
BOX_MARGIN_INPUT_PX = 5.0
"""Box margin in the encoder's 256 px frame, about the box jitter LiteMedSAM was trained with."""


@dataclass(frozen=True)
class BoxRequest:
    """One slice of one structure to re-segment: its z, the display-oriented candidate plane and box,
    and the channel to decode it on."""

    structure: str
    z: int
    plane: np.ndarray
    box: tuple[int, int, int, int]
    channel: int = 0


@dataclass(frozen=True)
class SliceAnswer:
    """MedSAM's best answer over channels for one request, with the candidate's agreement with it."""

    z: int
    candidate_area: int
    dice: float
    predicted_iou: float
    boundary_mm: float
    area_ratio: float


def box_requests(
    crop: StructureCrop,
    slices: Sequence[int],
    *,
    orientation: Orientation,
    frame,
    channels: Sequence[np.ndarray] = (),
) -> list[BoxRequest]:
    """Requests for the listed slices the candidate occupies, boxes grown by the margin; with several
    normalised ``channels`` (z, y, x), each slice goes to the one with the highest contrast in its box."""
    from ...segmenters.medsam import mask_box

    margin = int(math.ceil(BOX_MARGIN_INPUT_PX / frame.scale))
    planes = orientation.apply(crop.full_slices(list(slices)))
    requests = []
    for z, plane in zip(slices, planes):
        box = mask_box(plane, margin=margin)
        if box is None:
            continue
        channel = 0
        if len(channels) > 1:
            window = (slice(box[1], box[3] + 1), slice(box[0], box[2] + 1))
            inside = plane[window]
            scores = []
            for image in channels:
                values = orientation.apply(image[z])[window]
                inner, outer = values[inside], values[~inside]
                spread = float(values.std()) + 1e-3
                scores.append(abs(float(inner.mean()) - float(outer.mean())) / spread if outer.size else 0.0)
            channel = int(np.argmax(scores))
        requests.append(BoxRequest(crop.name, int(z), np.ascontiguousarray(plane), box, channel))
    return requests


def run_second_opinion(
    encoder, requests: Sequence[BoxRequest], embeddings: Sequence[ChannelEmbeddings], *, spacing_yx
) -> list[SliceAnswer | None]:
    """Decode every request on its channel (``SliceEncoder.decode``, one batched call per channel);
    answers in request order."""
    answers: list[SliceAnswer | None] = [None] * len(requests)
    for index, channel in enumerate(embeddings):
        mine = [i for i, r in enumerate(requests) if r.channel == index]
        if not mine:
            continue
        boxes = np.array([requests[i].box for i in mine], dtype=np.float32)
        masks, ious = encoder.decode(channel, [requests[i].z for i in mine], boxes)
        for i, mask, iou in zip(mine, masks, ious):
            answers[i] = _agreement(requests[i], mask, float(iou), spacing_yx)
    return answers


def second_opinion_features(
    answers: Sequence[SliceAnswer], *, equivalent_radius_mm: float
) -> dict[str, float]:
    """Area-weighted agreement over the decoded slices (NaN features when none was decoded)."""
    features = dict.fromkeys(FEATURES, math.nan)
    if not answers:
        return features
    weights = np.array([a.candidate_area for a in answers], float)
    dice = np.array([a.dice for a in answers])
    boundary = np.array([a.boundary_mm for a in answers])
    finite = np.isfinite(boundary)
    features.update(
        ms_dice=float(np.average(dice, weights=weights)),
        ms_dice_min=float(dice.min()),
        ms_iou=float(np.average([a.predicted_iou for a in answers], weights=weights)),
        ms_area_ratio=float(np.average([a.area_ratio for a in answers], weights=weights)),
    )
    if finite.any():
        mean_boundary = float(np.average(boundary[finite], weights=weights[finite]))
        features["ms_boundary_mm"] = mean_boundary
        features["ms_boundary_rel"] = mean_boundary / max(equivalent_radius_mm, 1e-3)
    return features


def _agreement(request: BoxRequest, medsam: np.ndarray, iou: float, spacing_yx) -> SliceAnswer:
    candidate = request.plane
    own, theirs = int(candidate.sum()), int(medsam.sum())
    overlap = int(np.count_nonzero(candidate & medsam))
    dice = 2.0 * overlap / (own + theirs) if own + theirs else 1.0
    return SliceAnswer(
        z=request.z,
        candidate_area=own,
        dice=dice,
        predicted_iou=iou,
        boundary_mm=_mean_boundary_distance(candidate, medsam, spacing_yx) if theirs else math.nan,
        area_ratio=math.log2(max(theirs, 1) / max(own, 1)),
    )


def _mean_boundary_distance(first: np.ndarray, second: np.ndarray, spacing_yx) -> float:
    """Symmetric mean distance (mm) between the two masks' boundary pixels, on their joint box."""
    rows = np.flatnonzero((first | second).any(axis=1))
    cols = np.flatnonzero((first | second).any(axis=0))
    box = (slice(max(0, rows[0] - 2), rows[-1] + 3), slice(max(0, cols[0] - 2), cols[-1] + 3))
    a, b = first[box], second[box]
    edge_a = a & ~ndimage.binary_erosion(a)
    edge_b = b & ~ndimage.binary_erosion(b)
    to_b = ndimage.distance_transform_edt(~edge_b, sampling=spacing_yx)
    to_a = ndimage.distance_transform_edt(~edge_a, sampling=spacing_yx)
    distances = np.concatenate([to_b[edge_a], to_a[edge_b]])
    return float(distances.mean()) if distances.size else math.nan


def equivalent_radius_mm(crop: StructureCrop, spacing: Mapping | Sequence[float]) -> float:
    """Radius of the circle with the candidate's largest slice area (mm): the scale of boundary errors."""
    areas = crop.crop.reshape(crop.crop.shape[0], -1).sum(axis=1)
    return float(math.sqrt(areas.max() * spacing[1] * spacing[2] / math.pi))
