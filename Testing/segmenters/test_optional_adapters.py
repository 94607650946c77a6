"""TotalSegmentator and nnU-Net v2 adapters: everything around the call, on TotalSegmentator's real outputs.

The packages are not installed here; only their Python API call is replaced by a fake that writes the
real shared prediction where the package would, so label mapping, argument building and output reading
run for real.
"""

from __future__ import annotations

import importlib.machinery
import json
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from SegQualityReviewLib.io import LabelMap, read_structures, read_volume
from SegQualityReviewLib.segmenters import (
    SegmenterUnavailableError,
    available_models,
    build_segmenter,
    union_mask,
)
from SegQualityReviewLib.segmenters import nnunet as nnunet_adapter
from SegQualityReviewLib.segmenters import totalsegmentator as totalseg_adapter
from SegQualityReviewLib.segmenters.torch_model import ModelConfigError


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


def class_map(shared_data: Path, name: str) -> dict[int, str]:
    table = json.loads((shared_data / "labelmaps" / name).read_text())["labels"]
    return {int(k): v for k, v in table.items() if int(k) != 0}


def install_fake_module(monkeypatch, name: str, **attributes) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    for key, value in attributes.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)
    return module


def test_v1_and_v2_totalsegmentator_outputs_agree_by_name_not_by_id(shared_data):
    folder = shared_data / "totalsegmentator/ct"
    volume = read_volume(folder / "image.nii.gz")
    maps = {
        version: totalseg_adapter.label_map_from_class_map(
            class_map(shared_data, f"totalsegmentator_total_{version}.json"), source=version
        )
        for version in ("v1", "v2")
    }
    v1 = totalseg_adapter.read_totalsegmentator_output(
        folder / "pred_total_v1.nii.gz", label_map=maps["v1"], volume=volume
    )
    v2 = totalseg_adapter.read_totalsegmentator_output(
        folder / "pred_total_fast_v2_forcesplit.nii.gz", label_map=maps["v2"], volume=volume
    )
    for structure in ("liver", "aorta", "lung_right"):
        assert dice(union_mask(v1, structure), union_mask(v2, structure)) > 0.85, structure
    assert dice(v1.layers[0] == 7, v2.layers[0] == 7) < 0.05  # id 7: aorta in v1, pancreas in v2


def test_call_arguments_follow_each_major_version():
    v2 = totalseg_adapter.call_arguments(
        major=2, input_path=Path("i.nii.gz"), output_path=Path("o.nii.gz"), fast=True, device="cuda"
    )
    assert v2 == {
        "input": Path("i.nii.gz"),
        "output": Path("o.nii.gz"),
        "ml": True,
        "fast": True,
        "task": "total",
        "device": "gpu",
        "quiet": True,
    }
    v1 = totalseg_adapter.call_arguments(
        major=1, input_path=Path("i"), output_path=Path("o"), fast=False, device="cpu"
    )
    assert "device" not in v1 and v1["ml"] is True


def test_missing_package_and_missing_weights_each_say_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(totalseg_adapter, "installed_version", lambda: None)
    with pytest.raises(SegmenterUnavailableError, match="pip install TotalSegmentator"):
        totalseg_adapter.check_totalsegmentator_ready(fast=False)
    listed = {info.name: info for info in available_models()}
    assert not listed["totalsegmentator"].available and "pip install" in listed["totalsegmentator"].reason

    install_fake_module(monkeypatch, "totalsegmentator")
    monkeypatch.setattr(totalseg_adapter, "installed_version", lambda: "2.4.0")
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tmp_path))
    with pytest.raises(SegmenterUnavailableError, match=r"totalseg_download_weights -t total_fast"):
        totalseg_adapter.check_totalsegmentator_ready(fast=True)
    (tmp_path / "Dataset297_TotalSegmentator_total_3mm_1559subj").mkdir()
    assert totalseg_adapter.check_totalsegmentator_ready(fast=True) == 2


def test_a_totalsegmentator_run_reads_its_output_by_the_installed_class_map(
    shared_data, monkeypatch, tmp_path
):
    calls = []

    def fake_totalsegmentator(**arguments):
        calls.append(arguments)
        shutil.copy(shared_data / "totalsegmentator/ct_sm/pred_total_fast_v2.nii.gz", arguments["output"])

    install_fake_module(monkeypatch, "totalsegmentator")
    install_fake_module(monkeypatch, "totalsegmentator.python_api", totalsegmentator=fake_totalsegmentator)
    install_fake_module(
        monkeypatch,
        "totalsegmentator.map_to_binary",
        class_map={"total": class_map(shared_data, "totalsegmentator_total_v2.json")},
    )
    monkeypatch.setattr(totalseg_adapter, "installed_version", lambda: "2.4.0")
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tmp_path))
    (tmp_path / "Dataset297_TotalSegmentator_total_3mm_1559subj").mkdir()

    segmenter = build_segmenter("totalsegmentator-fast", device="cpu")
    assert segmenter.training_datasets == ("TotalSegmentator-v2 (1228 CT)",)
    assert len(segmenter.structures) == 117 and segmenter.structures[6] == "pancreas"
    volume = read_volume(shared_data / "totalsegmentator/ct_sm/image.nii.gz")
    result = segmenter.run(volume)
    assert calls[0]["fast"] is True and calls[0]["device"] == "cpu" and calls[0]["ml"] is True
    expected = read_structures(
        shared_data / "totalsegmentator/ct_sm/pred_total_fast_v2.nii.gz",
        label_map=shared_data / "labelmaps/totalsegmentator_total_v2.json",
    )
    assert np.array_equal(result.mask("liver"), expected.mask("liver")) and result.mask("liver").any()


def write_nnunet_model(folder: Path, labels: dict, *, checkpoint: bool = True, channels: int = 1) -> Path:
    model = folder / "Dataset291_TotalSegmentator_part1/nnUNetTrainer__nnUNetPlans__3d_fullres"
    (model / "fold_0").mkdir(parents=True)
    dataset = {
        "channel_names": {str(i): "CT" for i in range(channels)},
        "labels": labels,
        "file_ending": ".nii.gz",
    }
    (model / "dataset.json").write_text(json.dumps(dataset))
    (model / "plans.json").write_text(json.dumps({"dataset_name": "Dataset291_TotalSegmentator_part1"}))
    if checkpoint:
        (model / "fold_0/checkpoint_final.pth").write_bytes(b"weights")
    config = folder / "nnunet.yaml"
    config.write_text(f"model_folder: {model.relative_to(folder)}\nname: ts-part1\n")
    return config


def test_an_nnunet_run_builds_the_predictor_calls_and_reads_a_reoriented_output(
    shared_data, monkeypatch, tmp_path
):
    names = class_map(shared_data, "totalsegmentator_total_v2.json")
    config = write_nnunet_model(tmp_path, {"background": 0, **{name: value for value, name in names.items()}})
    calls = {}

    class FakePredictor:
        def __init__(self, **arguments):
            calls["init"] = arguments

        def initialize_from_trained_model_folder(self, **arguments):
            calls["initialize"] = arguments

        def predict_from_files(self, **arguments):
            calls["predict"] = arguments
            stem = arguments["output_folder_or_list_of_truncated_output_files"][0]
            shutil.copy(shared_data / "totalsegmentator/ct_dicom/pred_total_v2.nii.gz", f"{stem}.nii.gz")

    for name in ("nnunetv2", "nnunetv2.inference"):
        install_fake_module(monkeypatch, name)
    install_fake_module(
        monkeypatch, "nnunetv2.inference.predict_from_raw_data", nnUNetPredictor=FakePredictor
    )

    segmenter = build_segmenter("nnunet", config=config, device="cpu")
    assert segmenter.training_datasets == ("Dataset291_TotalSegmentator_part1",)
    volume = read_volume(shared_data / "totalsegmentator/ct_dicom/dicom")
    result = segmenter.run(volume)
    assert calls["init"]["use_gaussian"] is True and str(calls["init"]["device"]) == "cpu"
    assert (
        calls["initialize"]["use_folds"] == (0,)
        and calls["initialize"]["checkpoint_name"] == "checkpoint_final.pth"
    )
    assert calls["predict"]["list_of_lists_or_source_folder"][0][0].endswith("case_0000.nii.gz")
    # The prediction's y axis runs the other way; read on the DICOM grid, it still matches by name.
    assert result.geometry == volume.geometry
    reference = read_structures(
        shared_data / "totalsegmentator/ct_dicom/pred_total_v2.nii.gz",
        label_map=LabelMap(names_by_value=names),
        reference=volume.geometry,
    )
    assert np.array_equal(result.mask("spleen"), reference.mask("spleen")) and result.mask("spleen").any()


def test_region_based_nnunet_labels_are_named_in_regions_class_order():
    dataset = {
        "labels": {"background": 0, "whole_tumor": [1, 2, 3], "tumor_core": [2, 3], "enhancing_tumor": [3]},
        "regions_class_order": [1, 2, 3],
    }
    label_map = nnunet_adapter.label_map_from_dataset_json(dataset, source="dataset.json")
    assert label_map.names_by_value == {1: "whole_tumor", 2: "tumor_core", 3: "enhancing_tumor"}


def test_nnunet_missing_package_checkpoint_or_extra_channels_are_clear(monkeypatch, tmp_path):
    config = write_nnunet_model(tmp_path / "a", {"background": 0, "liver": 1}, checkpoint=False)
    with pytest.raises(SegmenterUnavailableError, match="pip install nnunetv2"):
        build_segmenter("nnunet", config=config)
    install_fake_module(monkeypatch, "nnunetv2")
    with pytest.raises(SegmenterUnavailableError, match="no checkpoint_final.pth for fold 0"):
        build_segmenter("nnunet", config=config)
    two_channels = write_nnunet_model(tmp_path / "b", {"background": 0, "tumor": 1}, channels=2)
    with pytest.raises(ModelConfigError, match="2 input channels"):
        build_segmenter("nnunet", config=two_channels)
