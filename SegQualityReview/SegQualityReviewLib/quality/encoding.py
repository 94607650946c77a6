"""Input encoding: per-structure 2D slices, cropped around the candidate mask, intensity-normalised.

Each structure becomes a stack of slices along array axis 0 (z): every slice of the candidate mask's
extent plus ``slice_margin`` slices beyond each end (so a missing end is visible), cropped to a square
(in mm) around the candidate's in-plane box with a relative margin, resized to ``image_size`` pixels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import SegQualityError
from ..io.intensity import normalize_intensity as _normalize_intensity

MASK_MODES = ("channel", "red_blend")


class EncodingError(SegQualityError):
    """An encoding option or input cannot be used (unknown modality or mask mode, wrong shapes)."""


@dataclass(frozen=True)
class EncodingConfig:
    """How a structure is turned into network input; stored with the weights so inference matches training.

    ``mask_mode``: ``channel`` gives (image, mask) as two channels; ``red_blend`` gives an RGB image with
    the mask blended into the red channel (EvanySeg's overlay) for backbones pretrained on RGB.
    """

    image_size: int = 64
    crop_margin: float = 0.25
    min_crop_mm: float = 24.0
    slice_margin: int = 2
    max_slices: int = 24
    mask_mode: str = "channel"
    ct_window: tuple[float, float] = (-250.0, 350.0)
    mr_percentiles: tuple[float, float] = (0.5, 99.5)
    red_blend_alpha: float = 0.5

    def __post_init__(self) -> None:
        if self.mask_mode not in MASK_MODES:
            raise EncodingError(f"mask_mode '{self.mask_mode}' is not one of {', '.join(MASK_MODES)}")
        object.__setattr__(self, "ct_window", tuple(float(v) for v in self.ct_window))
        object.__setattr__(self, "mr_percentiles", tuple(float(v) for v in self.mr_percentiles))

    @property
    def in_chans(self) -> int:
        return 2 if self.mask_mode == "channel" else 3

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EncodedStructure:
    """Network input for one structure: ``slices`` (S, C, H, W) float32 at the z indices ``slice_indices``.

    ``candidate_areas`` is the candidate's voxel count on each encoded slice (0 on margin slices), the
    weight each slice gets when slice predictions are aggregated to one Dice.
    """

    slices: torch.Tensor
    slice_indices: tuple[int, ...]
    candidate_areas: np.ndarray


def normalize_intensity(array: np.ndarray, *, modality: str, config: EncodingConfig) -> np.ndarray:
    """Map a (z, y, x) volume to [0, 1] with this encoding's CT window or MR percentiles (``io.intensity``)."""
    return _normalize_intensity(
        array, modality=modality, ct_window=config.ct_window, mr_percentiles=config.mr_percentiles
    )


def structure_slice_indices(mask: np.ndarray, *, config: EncodingConfig) -> tuple[int, ...]:
    """The z indices encoded for a non-empty mask: its extent plus margins, evenly thinned to ``max_slices``.

    Thinning keeps both extent ends and both outermost margin slices, where missing-slice errors show.
    """
    occupied = np.flatnonzero(mask.any(axis=(1, 2)))
    if occupied.size == 0:
        return ()
    first = max(0, int(occupied[0]) - config.slice_margin)
    last = min(mask.shape[0] - 1, int(occupied[-1]) + config.slice_margin)
    indices = np.arange(first, last + 1)
    if indices.size > config.max_slices:
        keep = {first, last, int(occupied[0]), int(occupied[-1])}
        spread = np.linspace(first, last, config.max_slices - len(keep) + 2).round().astype(int)
        indices = np.array(sorted(keep | set(spread.tolist())))
    return tuple(int(i) for i in indices)


def crop_box(
    mask: np.ndarray, spacing_yx: tuple[float, float], *, config: EncodingConfig
) -> tuple[slice, slice, tuple]:
    """A square-in-mm in-plane box around the mask's (y, x) extent; returns slices plus the padding needed."""
    rows = np.flatnonzero(mask.any(axis=(0, 2)))
    cols = np.flatnonzero(mask.any(axis=(0, 1)))
    center = ((rows[0] + rows[-1]) / 2.0, (cols[0] + cols[-1]) / 2.0)
    extent_mm = max((rows[-1] - rows[0] + 1) * spacing_yx[0], (cols[-1] - cols[0] + 1) * spacing_yx[1])
    half_mm = max(extent_mm * (1.0 + 2.0 * config.crop_margin), config.min_crop_mm) / 2.0
    bounds, padding = [], []
    for axis, size in enumerate(mask.shape[1:]):
        half = max(1, int(np.ceil(half_mm / spacing_yx[axis])))
        start, stop = int(np.floor(center[axis])) - half, int(np.floor(center[axis])) + half + 1
        padding.append((max(0, -start), max(0, stop - size)))
        bounds.append(slice(max(0, start), min(size, stop)))
    return bounds[0], bounds[1], tuple(padding)


def encode_structure(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    spacing_zyx: tuple[float, float, float],
    config: EncodingConfig,
    slice_indices: tuple[int, ...] | None = None,
) -> EncodedStructure:
    """Encode one candidate mask over a normalised image (both (z, y, x)); the mask must be non-empty.

    ``slice_indices`` overrides the default choice (training samples a few slices per structure).
    """
    if image.shape != mask.shape:
        raise EncodingError(f"image shape {image.shape} and mask shape {mask.shape} differ")
    if slice_indices is None:
        slice_indices = structure_slice_indices(mask, config=config)
    if not slice_indices:
        raise EncodingError("cannot encode an empty mask (no slice holds the structure)")
    rows, cols, padding = crop_box(mask, (spacing_zyx[1], spacing_zyx[2]), config=config)
    index = list(slice_indices)
    image_crop = np.pad(image[index, rows, cols], ((0, 0),) + padding, constant_values=0.0)
    mask_crop = np.pad(mask[index, rows, cols], ((0, 0),) + padding, constant_values=False)
    size = (config.image_size, config.image_size)
    image_small = F.interpolate(
        torch.from_numpy(image_crop[:, None].astype(np.float32)), size=size, mode="area"
    )
    mask_small = F.interpolate(
        torch.from_numpy(mask_crop[:, None].astype(np.float32)), size=size, mode="area"
    )
    slices = compose_channels(torch.cat([image_small, mask_small], dim=1), config=config)
    areas = mask[index].sum(axis=(1, 2)).astype(np.float64)
    return EncodedStructure(slices=slices.contiguous(), slice_indices=tuple(index), candidate_areas=areas)


def compose_channels(image_and_mask: torch.Tensor, *, config: EncodingConfig) -> torch.Tensor:
    """Network channels from (S, 2, H, W) image and mask: unchanged for ``channel``, RGB for ``red_blend``."""
    if config.mask_mode == "channel":
        return image_and_mask
    image, mask = image_and_mask[:, :1], image_and_mask[:, 1:]
    red = (1.0 - config.red_blend_alpha) * image + config.red_blend_alpha * mask
    return torch.cat([red, image, image], dim=1)
