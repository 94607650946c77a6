"""Synthetic edits are seeded, change the mask the way their name says, and targets are metric-core Dice."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from SegQualityReviewLib.metrics import score_masks
from SegQualityReviewLib.quality.cases import load_case_file
from SegQualityReviewLib.quality.encoding import EncodingConfig
from SegQualityReviewLib.quality.samples import SampleOptions, SplitError, balance_by_dice, build_samples
from SegQualityReviewLib.quality.synthetic import EDIT_KINDS, Edit, EditError, apply_edit


def _ball(shape=(24, 48, 48), center=(12, 24, 20), radius=8.0) -> np.ndarray:
    grid = np.indices(shape)
    return sum((grid[a] - center[a]) ** 2 for a in range(3)) <= radius**2


@pytest.mark.parametrize("kind", EDIT_KINDS)
def test_every_edit_is_reproducible_from_its_seed_and_changes_the_mask(kind):
    mask, neighbour = _ball(), _ball(center=(12, 24, 34))
    first = apply_edit(mask, Edit(kind, 0.6), rng=np.random.default_rng(3), neighbour=neighbour)
    second = apply_edit(mask, Edit(kind, 0.6), rng=np.random.default_rng(3), neighbour=neighbour)
    assert np.array_equal(first, second)
    assert not np.array_equal(first, mask)


def test_edits_move_the_mask_in_the_named_direction():
    mask = _ball()
    rng = np.random.default_rng(0)
    assert apply_edit(mask, Edit("erode", 0.5), rng=rng).sum() < mask.sum()
    assert apply_edit(mask, Edit("dilate", 0.5), rng=rng).sum() > mask.sum()
    assert not apply_edit(mask, Edit("empty", 0.5), rng=rng).any()
    missing = apply_edit(mask, Edit("missing_end_slices", 0.8), rng=rng)
    assert missing.any(axis=(1, 2)).sum() < mask.any(axis=(1, 2)).sum()
    assert (apply_edit(mask, Edit("holes", 0.8), rng=rng) <= mask).all()
    assert (apply_edit(mask, Edit("false_positive_blobs", 0.8), rng=rng) >= mask).all()


def test_label_swap_without_neighbour_and_unknown_kind_are_refused():
    with pytest.raises(EditError, match="neighbour"):
        apply_edit(_ball(), Edit("label_swap", 0.5), rng=np.random.default_rng(0))
    with pytest.raises(EditError, match="unknown edit"):
        apply_edit(_ball(), Edit("melt", 0.5), rng=np.random.default_rng(0))


def _write(array: np.ndarray, path, spacing=(0.8, 0.8, 2.0)) -> str:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    sitk.WriteImage(image, str(path))
    return path.name


@pytest.fixture(scope="module")
def synthetic_case_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("case")
    rng = np.random.default_rng(1)
    reference = _ball().astype(np.uint8) + 2 * _ball(center=(12, 24, 36), radius=6).astype(np.uint8)
    output = np.roll(reference, 2, axis=2)
    image = (reference * 40 + rng.normal(0, 5, reference.shape)).astype(np.float32)
    entries = [
        {
            "case_id": "synthetic",
            "patient": "p1",
            "split": "train",
            "modality": "MR",
            "image": _write(image, folder / "image.nii.gz"),
            "reference": _write(reference, folder / "reference.nii.gz"),
            "model_outputs": [
                {"family": "shifted", "model": "roll2", "path": _write(output, folder / "out.nii.gz")}
            ],
        }
    ]
    (folder / "cases.json").write_text(json.dumps(entries))
    return folder / "cases.json", reference, output


def test_generator_targets_equal_the_metric_core_dice(synthetic_case_file):
    case_file, reference, output = synthetic_case_file
    options = SampleOptions(edits_per_structure=2, edits_per_case_floor=0, slices_per_candidate=None, seed=5)
    samples = build_samples(
        load_case_file(case_file), encoding=EncodingConfig(image_size=32), options=options
    )
    for label in (1, 2):
        name = f"label_{label}"
        expected = score_masks(
            (output == label)[None],
            (reference == label)[None],
            spacing=(2.0, 0.8, 0.8),
            names=[name],
            compute_distances=False,
        )[0].dice
        model_sample = next(s for s in samples if s.structure == name and s.source == "model:roll2")
        assert model_sample.true_dice == pytest.approx(expected, abs=1e-9)
        per_slice = [
            score_masks(
                (output == label)[z][None, None],
                (reference == label)[z][None, None],
                spacing=(1, 1, 1),
                names=["s"],
                compute_distances=False,
            )[0]
            for z in model_sample.slice_indices
        ]
        expected_slices = [1.0 if s.status == "both_empty" else s.dice for s in per_slice]
        assert model_sample.slice_targets.tolist() == pytest.approx(expected_slices)
        assert next(s for s in samples if s.structure == name and s.source == "reference").true_dice == 1.0


def test_samples_are_reproducible_for_a_seed(synthetic_case_file):
    case_file = synthetic_case_file[0]
    options = SampleOptions(edits_per_structure=3, edits_per_case_floor=0, seed=7)
    first = build_samples(load_case_file(case_file), encoding=EncodingConfig(image_size=32), options=options)
    second = build_samples(load_case_file(case_file), encoding=EncodingConfig(image_size=32), options=options)
    assert [(s.source, s.true_dice, s.slice_indices) for s in first] == [
        (s.source, s.true_dice, s.slice_indices) for s in second
    ]


def test_one_patient_in_two_splits_is_refused(synthetic_case_file, tmp_path):
    entries = json.loads(synthetic_case_file[0].read_text())
    folder = synthetic_case_file[0].parent
    for entry in entries:
        for key in ("image", "reference"):
            entry[key] = str(folder / entry[key])
        entry["model_outputs"] = []
    leaked = dict(entries[0], case_id="again", split="test")
    (tmp_path / "cases.json").write_text(json.dumps([entries[0], leaked]))
    with pytest.raises(SplitError, match="patient 'p1'"):
        build_samples(
            load_case_file(tmp_path / "cases.json"), encoding=EncodingConfig(), options=SampleOptions()
        )


def test_balancing_caps_every_dice_bin_at_the_median_count(synthetic_case_file):
    case_file = synthetic_case_file[0]
    options = SampleOptions(edits_per_structure=12, edits_per_case_floor=0, slices_per_candidate=2, seed=2)
    samples = build_samples(
        load_case_file(case_file), encoding=EncodingConfig(image_size=16), options=options
    )
    balanced = balance_by_dice(samples, bins=5, seed=0)
    before = np.bincount(
        np.minimum((np.array([s.true_dice for s in samples]) * 5).astype(int), 4), minlength=5
    )
    after = np.bincount(
        np.minimum((np.array([s.true_dice for s in balanced]) * 5).astype(int), 4), minlength=5
    )
    cap = int(np.median(before[before > 0]))
    assert (after <= cap).all() and (after == np.minimum(before, cap)).all()
