"""Sliding-window inference with Gaussian blending, on whatever device the tensors live on.

Windows are spread evenly so the first starts at 0 and the last ends at the border (nnU-Net's layout);
overlapping predictions are averaged with a Gaussian importance map (sigma = patch / 8, as in nnU-Net
and MONAI's ``mode="gaussian"``), which down-weights the less reliable window borders.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable, Sequence

import numpy as np
import torch

from .base import RunControl


def gaussian_importance_map(
    patch_size: Sequence[int], *, sigma_scale: float = 0.125, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """A separable Gaussian over the patch, peak 1, clipped below at the smallest positive value."""
    weights = torch.ones((), dtype=torch.float32, device=device)
    for size in patch_size:
        coordinates = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2.0
        sigma = max(size * sigma_scale, 1e-6)
        weights = weights[..., None] * torch.exp(-0.5 * (coordinates / sigma) ** 2)
    weights = weights / weights.max()
    positive_floor = weights[weights > 0].min()
    return torch.clamp(weights, min=float(positive_floor))


def window_starts(image_size: int, patch: int, overlap: float) -> list[int]:
    """Start indices along one axis: evenly spaced, first at 0, last ending at the border."""
    if image_size <= patch:
        return [0]
    step = patch * (1.0 - overlap)
    count = math.ceil((image_size - patch) / max(step, 1.0)) + 1
    return [int(round(v)) for v in np.linspace(0, image_size - patch, count)]


def sliding_window_inference(
    image: torch.Tensor,
    predict: Callable[[torch.Tensor], torch.Tensor],
    *,
    patch_size: Sequence[int],
    overlap: float = 0.5,
    batch_size: int = 1,
    control: RunControl | None = None,
) -> torch.Tensor:
    """Blend ``predict`` over windows of a (C, z, y, x) image; returns (K, z, y, x) on the image's device.

    ``predict`` maps a (B, C, *patch) batch to (B, K, *patch) (e.g. softmax probabilities). The image
    is zero-padded symmetrically where it is smaller than the patch, and the padding cropped off again.
    """
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    control = control or RunControl()
    spatial = tuple(int(s) for s in image.shape[1:])
    patch = tuple(int(p) for p in patch_size)
    padding = [max(p - s, 0) for p, s in zip(patch, spatial)]
    pad_before = [p // 2 for p in padding]
    if any(padding):
        flat_pad = []
        for before, total in zip(reversed(pad_before), reversed(padding)):
            flat_pad += [before, total - before]
        image = torch.nn.functional.pad(image, flat_pad)
    padded = tuple(int(s) for s in image.shape[1:])
    starts = list(itertools.product(*(window_starts(s, p, overlap) for s, p in zip(padded, patch))))
    importance = gaussian_importance_map(patch, device=image.device)
    accumulated: torch.Tensor | None = None
    weight_sum = torch.zeros(padded, dtype=torch.float32, device=image.device)
    for first in range(0, len(starts), batch_size):
        control.report(first / len(starts), f"window {first + 1} of {len(starts)}")
        batch_starts = starts[first : first + batch_size]
        windows = [tuple(slice(s, s + p) for s, p in zip(start, patch)) for start in batch_starts]
        batch = torch.stack([image[(slice(None), *window)] for window in windows])
        prediction = predict(batch).float()
        if accumulated is None:
            accumulated = torch.zeros(
                (prediction.shape[1], *padded), dtype=torch.float32, device=image.device
            )
        for window, window_prediction in zip(windows, prediction):
            accumulated[(slice(None), *window)] += window_prediction * importance
            weight_sum[window] += importance
    control.report(1.0, "windows done")
    blended = accumulated / weight_sum
    crop = tuple(slice(b, b + s) for b, s in zip(pad_before, spatial))
    return blended[(slice(None), *crop)]
