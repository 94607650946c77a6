"""The shipped estimator: loads without pickle, is deterministic, and scores damaged masks lower."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
import SimpleITK as sitk

from SegQualityReviewLib.cli import main
from SegQualityReviewLib.errors import GeometryMismatchError
from SegQualityReviewLib.io import Geometry, StructureSet, Volume, read_structures, read_volume
from SegQualityReviewLib.quality import DEFAULT_WEIGHTS, estimate_quality, load_bundle
from SegQualityReviewLib.quality.calibration import MonotoneCalibration
from SegQualityReviewLib.quality.synthetic import Edit, apply_edit
from SegQualityReviewLib.quality.weights import WeightsError, save_bundle


def test_shipped_weights_are_small_safetensors_that_load():
    assert DEFAULT_WEIGHTS.suffix == ".safetensors"
    assert DEFAULT_WEIGHTS.stat().st_size < 5_000_000
    bundle = load_bundle()
    assert 0.0 < bundle.interval_half_width <= 1.0
    assert bundle.encoding.in_chans == bundle.model_config.in_chans


def test_shipped_weights_never_saw_a_test_or_held_out_family_patient(shared_data):
    from SegQualityReviewLib.quality.cases import shared_data_cases

    summary = load_bundle().summary
    held_out = {c.case_id for c in shared_data_cases(shared_data) if c.split in ("test", "heldout_family")}
    assert summary["trained_on"] and not held_out & set(summary["trained_on"])
    assert not held_out & set(summary["calibrated_on"])


def test_a_file_that_is_not_safetensors_is_refused(tmp_path):
    bogus = tmp_path / "weights.safetensors"
    bogus.write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(WeightsError, match="weights.safetensors"):
        load_bundle(bogus)


@pytest.fixture(scope="module")
def held_out_ct(shared_data):
    """The TotalSegmentator DICOM CT (test split, never trained on) and three organs of its v2 output."""
    folder = shared_data / "totalsegmentator" / "ct_dicom"
    volume = read_volume(folder / "dicom")
    labels = read_structures(
        folder / "pred_total_v2.nii.gz",
        label_map=shared_data / "labelmaps" / "totalsegmentator_total_v2.json",
        reference=volume.geometry,
        resample=True,
    )
    return volume, {name: labels.mask(name) for name in ("liver", "spleen", "stomach")}


def test_inference_is_deterministic(held_out_ct):
    volume, masks = held_out_ct
    structures = StructureSet.from_masks(masks, volume.geometry)
    first = estimate_quality(volume, structures, device="cpu")
    second = estimate_quality(volume, structures, device="cpu")
    assert first == second


@pytest.fixture(scope="module")
def uncalibrated_weights(tmp_path_factory):
    """The shipped network without its calibration map: the raw aggregated slice predictions."""
    bundle = load_bundle()
    return save_bundle(
        replace(bundle, calibration=MonotoneCalibration()), tmp_path_factory.mktemp("w") / "raw.safetensors"
    )


@pytest.mark.parametrize("kind", ["erode", "shift"])
def test_an_eroded_or_shifted_mask_is_scored_below_the_original(held_out_ct, uncalibrated_weights, kind):
    """The network puts damaged masks clearly lower; the calibration keeps that order (it may compress
    the gap where the calibration data showed little change in true Dice)."""
    volume, masks = held_out_ct
    rng = np.random.default_rng(0)
    damaged = {f"{name}_{kind}": apply_edit(mask, Edit(kind, 0.8), rng=rng) for name, mask in masks.items()}
    structures = StructureSet.from_masks({**masks, **damaged}, volume.geometry)
    raw = {
        e.structure: e.predicted_dice
        for e in estimate_quality(volume, structures, device="cpu", weights=uncalibrated_weights)
    }
    shipped = {e.structure: e.predicted_dice for e in estimate_quality(volume, structures, device="cpu")}
    for name in masks:
        assert raw[f"{name}_{kind}"] < raw[name] - 0.05, (name, raw)
        assert shipped[f"{name}_{kind}"] < shipped[name], (name, shipped)


def test_estimates_carry_intervals_worst_slice_and_slice_scores(held_out_ct):
    volume, masks = held_out_ct
    estimates = estimate_quality(volume, StructureSet.from_masks(masks, volume.geometry), threshold=0.99)
    for estimate in estimates:
        assert estimate.interval_low <= estimate.predicted_dice <= estimate.interval_high
        assert estimate.flagged == (estimate.predicted_dice < 0.99)
        slices = dict(estimate.slice_scores)
        assert estimate.worst_slice in slices and slices[estimate.worst_slice] == min(slices.values())


def _synthetic_ct(tmp_path):
    shape = (16, 48, 48)
    grid = np.indices(shape)
    ball = ((grid[0] - 8) ** 2 * 4 + (grid[1] - 24) ** 2 + (grid[2] - 24) ** 2) <= 100
    image = np.where(ball, 60.0, -900.0).astype(np.float32)
    labels = ball.astype(np.uint8)
    paths = []
    for name, array in (("image.nii.gz", image), ("seg.nii.gz", labels)):
        itk = sitk.GetImageFromArray(array)
        itk.SetSpacing((1.0, 1.0, 2.0))
        sitk.WriteImage(itk, str(tmp_path / name))
        paths.append(tmp_path / name)
    (tmp_path / "labels.json").write_text(json.dumps({"labels": {"1": "kidney_left"}}))
    return paths[0], paths[1], tmp_path / "labels.json"


def test_cli_writes_the_csv_columns_and_the_slice_side_file(tmp_path):
    image, seg, labels = _synthetic_ct(tmp_path)
    out = tmp_path / "quality.csv"
    code = main(
        ["estimate", "--image", str(image), "--seg", str(seg), "--labels", str(labels), "--out", str(out)]
    )
    assert code == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == [
        "structure",
        "predicted_dice",
        "interval_low",
        "interval_high",
        "flagged",
        "worst_slice",
    ]
    assert rows[0]["structure"] == "kidney_left"
    side = json.loads(out.with_suffix(".slices.json").read_text())
    assert int(rows[0]["worst_slice"]) in [entry["slice"] for entry in side["kidney_left"]]


def test_an_empty_structure_is_flagged_only_when_another_model_found_it():
    geometry = Geometry.from_array_shape((4, 16, 16))
    volume = Volume(np.zeros((4, 16, 16), np.float32), geometry, "<zeros>")
    empty = StructureSet.from_masks({"gone": np.zeros((4, 16, 16), bool)}, geometry)
    assert estimate_quality(volume, empty) == []
    found = np.zeros((4, 16, 16), bool)
    found[1:3, 4:10, 4:10] = True
    other = StructureSet.from_masks({"Gone": found}, geometry, source="other.nii.gz")
    estimate = estimate_quality(volume, empty, other_segmentations=[other])[0]
    assert (estimate.predicted_dice, estimate.interval_low, estimate.interval_high) == (0.0, 0.0, 1.0)
    assert estimate.flagged and estimate.worst_slice == -1


def test_a_segmentation_on_another_grid_is_refused():
    volume = Volume(np.zeros((4, 16, 16), np.float32), Geometry.from_array_shape((4, 16, 16)), "image.nii.gz")
    other = Geometry.from_array_shape((4, 16, 16), spacing=(2.0, 2.0, 2.0))
    structures = StructureSet.from_masks({"a": np.ones((4, 16, 16), bool)}, other, source="seg.nii.gz")
    with pytest.raises(GeometryMismatchError, match="seg.nii.gz"):
        estimate_quality(volume, structures)
