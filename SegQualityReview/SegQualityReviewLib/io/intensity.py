"""Intensity normalisation shared by every network input: a fixed window for CT, percentiles for MR.

The quality estimator and the LiteMedSAM wrapper both read images through these two functions, so a
slice looks the same to every model. numpy only (no torch), so it is safe to import anywhere.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import SegQualityError

MODALITIES = ("CT", "MR")
DEFAULT_CT_WINDOW = (-250.0, 350.0)
DEFAULT_MR_PERCENTILES = (0.5, 99.5)


class ModalityError(SegQualityError):
    """A modality that is neither CT nor MR was asked for."""


def detect_modality(array: np.ndarray) -> str:
    """``CT`` when the image holds air-like Hounsfield values (1st percentile below -500), else ``MR``."""
    sample = array[:: max(1, array.shape[0] // 16)]
    return "CT" if float(np.percentile(sample, 1)) < -500.0 else "MR"


def normalize_intensity(
    array: np.ndarray,
    *,
    modality: str,
    ct_window: Sequence[float] = DEFAULT_CT_WINDOW,
    mr_percentiles: Sequence[float] = DEFAULT_MR_PERCENTILES,
) -> np.ndarray:
    """Map a volume (any shape) to float32 in [0, 1]: ``ct_window`` in HU for CT, foreground percentiles for MR.

    MR foreground excludes voxels at the volume's minimum, which is the constant background of skull-stripped
    and z-scored brain images.
    """
    if modality not in MODALITIES:
        raise ModalityError(f"modality '{modality}' is not one of {', '.join(MODALITIES)} (or 'auto')")
    if modality == "CT":
        low, high = ct_window
    else:
        foreground = array[array > array.min()]
        if foreground.size == 0:
            foreground = array.ravel()
        step = max(1, foreground.size // 2_000_000)
        low, high = np.percentile(foreground[::step], list(mr_percentiles))
    scale = max(float(high) - float(low), 1e-6)
    return np.clip((array.astype(np.float32) - np.float32(low)) / np.float32(scale), 0.0, 1.0)
