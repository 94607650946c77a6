"""The network input is what docs/estimator.md says: slices, margins, crop, windowing, mask channel."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from SegQualityReviewLib.io.intensity import ModalityError, detect_modality
from SegQualityReviewLib.quality.encoding import (
    EncodingConfig,
    EncodingError,
    crop_box,
    encode_structure,
    normalize_intensity,
    structure_slice_indices,
)


def _box_mask(shape=(20, 40, 40), z=(5, 10), y=(10, 20), x=(12, 30)) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[z[0] : z[1], y[0] : y[1], x[0] : x[1]] = True
    return mask


def test_slices_cover_the_extent_plus_margin_on_both_ends():
    indices = structure_slice_indices(_box_mask(), config=EncodingConfig(slice_margin=2))
    assert indices == tuple(range(3, 12))


def test_margin_is_clipped_at_the_volume_edge():
    indices = structure_slice_indices(_box_mask(z=(0, 3)), config=EncodingConfig(slice_margin=2))
    assert indices == (0, 1, 2, 3, 4)


def test_thinning_keeps_extent_ends_and_outer_margin_slices():
    mask = _box_mask(shape=(100, 40, 40), z=(10, 90))
    indices = structure_slice_indices(mask, config=EncodingConfig(slice_margin=2, max_slices=12))
    assert {8, 10, 89, 91} <= set(indices)
    assert len(indices) <= 14 and list(indices) == sorted(indices)


def test_crop_is_square_in_mm_with_anisotropic_pixels():
    mask = _box_mask()
    rows, cols, padding = crop_box(mask, (2.0, 1.0), config=EncodingConfig(crop_margin=0.25, min_crop_mm=0))
    height_mm = (rows.stop - rows.start + padding[0][0] + padding[0][1]) * 2.0
    width_mm = (cols.stop - cols.start + padding[1][0] + padding[1][1]) * 1.0
    # Equal in mm up to rounding to whole voxels on each axis (2 mm rows, 1 mm columns).
    assert abs(height_mm - width_mm) <= 3.0
    # The box (20 mm rows, 18 mm cols) plus a quarter on each side: 30 mm across.
    assert 30.0 <= width_mm <= 34.0


def test_channel_mode_gives_image_and_mask_channels():
    image = np.random.default_rng(0).random((20, 40, 40)).astype(np.float32)
    mask = _box_mask()
    encoded = encode_structure(image, mask, spacing_zyx=(1, 1, 1), config=EncodingConfig(image_size=32))
    assert encoded.slices.shape == (9, 2, 32, 32)
    assert encoded.slices[:, 1].amax(dim=(1, 2)).tolist() == [0, 0] + [1] * 5 + [0, 0]
    assert encoded.candidate_areas.tolist() == [0, 0] + [180] * 5 + [0, 0]


def test_red_blend_puts_the_mask_into_the_red_channel_only():
    image = np.full((20, 40, 40), 0.2, dtype=np.float32)
    config = EncodingConfig(image_size=32, mask_mode="red_blend", red_blend_alpha=0.5)
    encoded = encode_structure(image, _box_mask(), spacing_zyx=(1, 1, 1), config=config)
    red, green, blue = encoded.slices[4]
    assert torch.allclose(green, blue) and torch.allclose(green, torch.full_like(green, 0.2))
    assert red.max().item() == pytest.approx(0.6) and red.min().item() == pytest.approx(0.1)


def test_ct_window_and_mr_percentiles_map_to_unit_range():
    config = EncodingConfig(ct_window=(-250, 350))
    ct = np.array([[[-1000.0, -250.0, 50.0, 350.0, 2000.0]]])
    assert normalize_intensity(ct, modality="CT", config=config).ravel().tolist() == pytest.approx(
        [0, 0, 0.5, 1, 1]
    )
    mr = np.concatenate([np.zeros(1000), np.linspace(1, 100, 1000)]).reshape(1, 40, 50)
    normalised = normalize_intensity(mr, modality="MR", config=EncodingConfig(mr_percentiles=(0.5, 99.5)))
    assert normalised.min() == 0.0 and normalised.max() == 1.0
    assert normalised.ravel()[1500] == pytest.approx((mr.ravel()[1500] - 1.495) / (99.505 - 1.495), abs=0.01)


def test_modality_detection_uses_hounsfield_air():
    assert detect_modality(np.full((4, 8, 8), -1000.0)) == "CT"
    assert detect_modality(np.random.default_rng(0).random((4, 8, 8))) == "MR"


def test_unknown_options_and_empty_masks_are_refused():
    with pytest.raises(EncodingError, match="mask_mode"):
        EncodingConfig(mask_mode="green")
    with pytest.raises(ModalityError, match="modality"):
        normalize_intensity(np.zeros((1, 2, 2)), modality="PET", config=EncodingConfig())
    with pytest.raises(EncodingError, match="empty"):
        encode_structure(
            np.zeros((4, 8, 8)), np.zeros((4, 8, 8), bool), spacing_zyx=(1, 1, 1), config=EncodingConfig()
        )
