"""Fine-tuning starts from an existing estimator file: one step on a tiny real case trains and reloads."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from SegQualityReviewLib.cli import main
from SegQualityReviewLib.quality import load_bundle
from SegQualityReviewLib.quality.cases import LabelledCase
from SegQualityReviewLib.quality.encoding import compose_channels
from SegQualityReviewLib.quality.model import ModelConfig
from SegQualityReviewLib.quality.pipeline import TrainingSetupError, build_split_samples, fit_estimator
from SegQualityReviewLib.quality.samples import SampleOptions
from SegQualityReviewLib.quality.training import TrainingOptions, predict_slices
from SegQualityReviewLib.quality.weights import save_bundle


def test_one_fine_tuning_step_from_the_shipped_weights_on_a_real_case_trains_and_reloads(
    shared_data, tmp_path
):
    folder = shared_data / "pyradiomics"
    case = LabelledCase(
        "my_breast",
        "my_patient",
        "train",
        "MR",
        folder / "breast1_image.nrrd",
        folder / "breast1_label.nrrd",
        shared_data / "labelmaps" / "binary_roi.json",
    )
    shipped = load_bundle()
    initial = load_bundle()
    options = SampleOptions(edits_per_structure=3, edits_per_case_floor=3, slices_per_candidate=4)
    samples = build_split_samples(
        [case], encoding=initial.encoding, sample_options=options, splits=["train"], progress=lambda _: None
    )["train"]
    assert len(samples) == 4 and len({s.true_dice for s in samples}) > 1
    tuned = fit_estimator(
        samples,
        [],
        model_config=ModelConfig(),  # ignored: the initial file's network and encoding are used
        encoding=initial.encoding,
        sample_options=options,
        training_options=TrainingOptions(epochs=1, batch_size=64, learning_rate=1e-4),
        initial=initial,
        progress=lambda _: None,
    )
    assert tuned.summary["training_steps"] == 1 and math.isfinite(tuned.summary["final_loss"])
    assert tuned.model_config == shipped.model_config
    assert {"my_breast", *shipped.summary["trained_on"]} == set(tuned.summary["trained_on"])
    before = shipped.model.state_dict()
    changed = [name for name, t in tuned.model.state_dict().items() if not torch.equal(t, before[name])]
    assert any(name.startswith("head.") for name in changed)
    path = save_bundle(tuned, tmp_path / "tuned.safetensors")
    reloaded = load_bundle(path)
    slices = compose_channels(samples[0].slices, config=reloaded.encoding)
    assert np.allclose(predict_slices(reloaded.model, slices), predict_slices(tuned.model, slices), atol=5e-3)
    assert not np.allclose(predict_slices(shipped.model, slices), predict_slices(reloaded.model, slices))
    assert reloaded.summary["initial_summary"]["trained_on"] == shipped.summary["trained_on"]


def test_zero_epochs_without_weights_to_start_from_is_refused(tmp_path, capsys):
    args = ["train-estimator", "--cases", str(tmp_path / "c.json"), "--epochs", "0"]
    assert main(args + _outputs(tmp_path)) == 2
    assert "--epochs 0: use 1 or more (0 only with --init-weights)" in capsys.readouterr().err
    with pytest.raises(TrainingSetupError, match="0 epochs needs initial weights"):
        fit_estimator(
            [],
            [],
            model_config=ModelConfig(),
            encoding=load_bundle().encoding,
            sample_options=SampleOptions(),
            training_options=TrainingOptions(epochs=0),
        )


def test_a_missing_init_weights_file_is_named_in_one_line(tmp_path, capsys):
    missing = tmp_path / "no.safetensors"
    args = ["train-estimator", "--cases", str(tmp_path / "c.json"), "--init-weights", str(missing)]
    assert main(args + _outputs(tmp_path)) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and f"{missing}: --init-weights file not found" in error


def _outputs(tmp_path) -> list[str]:
    return ["--out", str(tmp_path / "w.safetensors"), "--report", str(tmp_path / "report")]
