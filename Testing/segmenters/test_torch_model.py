"""The TorchScript / state-dict adapter, with a tiny 3D U-Net trained here for a few steps on real CT."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch
import yaml

from SegQualityReviewLib.io import Geometry, Volume, read_structures, read_volume
from SegQualityReviewLib.segmenters import union_mask
from SegQualityReviewLib.segmenters.torch_model import (
    ModelConfigError,
    TorchModelSegmenter,
    normalize_intensities,
)

sys.path.insert(0, str(Path(__file__).parent))
from tiny_unet import TinyUNet3D  # noqa: E402

WINDOW = {"type": "ct_window", "min": -1000, "max": 1000}


def crop_volume(volume: Volume, box: tuple[slice, slice, slice]) -> Volume:
    """A (z, y, x) box of ``volume`` with its true position in space (origin moved along the direction)."""
    start_xyz = np.array([box[2].start, box[1].start, box[0].start], dtype=float)
    direction = np.asarray(volume.geometry.direction).reshape(3, 3)
    origin = np.asarray(volume.geometry.origin) + direction @ (
        start_xyz * np.asarray(volume.geometry.spacing)
    )
    array = volume.array[box].copy()
    geometry = Geometry(
        size=array.shape[::-1],
        spacing=volume.geometry.spacing,
        origin=tuple(float(v) for v in origin),
        direction=volume.geometry.direction,
    )
    return Volume(array=array, geometry=geometry, source=f"{volume.source} (crop)")


@pytest.fixture(scope="module")
def ct_sm(shared_data):
    """A 30x64x80 box of ct_sm around the lungs (kept small so CPU inference takes seconds), and TS's lungs."""
    volume = read_volume(shared_data / "totalsegmentator/ct_sm/image.nii.gz")
    reference = read_structures(
        shared_data / "totalsegmentator/ct_sm/pred_total_v2.nii.gz",
        label_map=shared_data / "labelmaps/totalsegmentator_total_v2.json",
    )
    lungs = union_mask(reference, "lung_left") | union_mask(reference, "lung_right")
    _, y, x = (int(v.mean()) for v in np.nonzero(lungs))
    box = (slice(0, 30), slice(y - 32, y + 32), slice(x - 40, x + 40))
    return crop_volume(volume, box), lungs[box]


@pytest.fixture(scope="module")
def trained_model(ct_sm, tmp_path_factory):
    """Train for 20 steps on a 16x32x48 crop around the lungs; save TorchScript, state dict and YAMLs."""
    volume, lungs = ct_sm
    crop = (slice(14, 30), slice(16, 48), slice(16, 64))
    image = torch.from_numpy(normalize_intensities(volume.array, WINDOW)[crop].copy())[None, None]
    target = torch.from_numpy(lungs[crop].astype(np.int64))[None]
    torch.manual_seed(0)
    network = TinyUNet3D(channels=4, classes=2)
    optimizer = torch.optim.Adam(network.parameters(), lr=2e-2)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(network(image), target)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    network.eval()
    folder = tmp_path_factory.mktemp("tiny_unet")
    torch.jit.script(network).save(str(folder / "unet_scripted.pt"))
    torch.save(network.state_dict(), folder / "unet_state.pt")
    exported = torch.export.export(network, (torch.zeros(1, 1, 16, 32, 48),))
    torch.export.save(exported, str(folder / "unet_exported.pt2"))
    (folder / "tiny_unet.py").write_text((Path(__file__).parent / "tiny_unet.py").read_text())
    common = {
        "labels": {1: "lungs"},
        "normalization": WINDOW,
        "spacing_mm": [3.0, 3.0, 3.0],
        "patch_size": [48, 32, 16],
        "overlap": 0.25,
        "name": "tiny-unet",
        "training_datasets": ["totalsegmentator/ct_sm"],
    }
    scripted = folder / "scripted.yaml"
    scripted.write_text(yaml.safe_dump({"model": "unet_scripted.pt", **common}))
    state = folder / "state.yaml"
    state.write_text(
        yaml.safe_dump(
            {
                "model": "unet_state.pt",
                "architecture": "tiny_unet.py:TinyUNet3D",
                "architecture_kwargs": {"channels": 4, "classes": 2},
                **common,
            }
        )
    )
    exported_config = folder / "exported.yaml"
    exported_config.write_text(yaml.safe_dump({"model": "unet_exported.pt2", **common}))
    return {
        "losses": losses,
        "crop": crop,
        "scripted": scripted,
        "state": state,
        "exported": exported_config,
        "folder": folder,
    }


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


def test_a_saved_torchscript_model_segments_the_lungs_it_was_trained_on(ct_sm, trained_model):
    volume, lungs = ct_sm
    assert trained_model["losses"][-1] < 0.5 * trained_model["losses"][0]
    segmenter = TorchModelSegmenter.from_config(trained_model["scripted"], device="cpu")
    assert (segmenter.name, segmenter.structures, segmenter.training_datasets) == (
        "tiny-unet",
        ("lungs",),
        ("totalsegmentator/ct_sm",),
    )
    result = segmenter.run(volume)
    assert result.geometry == volume.geometry
    crop = trained_model["crop"]
    assert dice(result.mask("lungs")[crop], lungs[crop]) >= 0.7


def test_state_dict_and_exported_program_give_the_same_labels_as_torchscript(ct_sm, trained_model):
    volume, _ = ct_sm
    from_script = TorchModelSegmenter.from_config(trained_model["scripted"], device="cpu").run(volume)
    for other in ("state", "exported"):
        result = TorchModelSegmenter.from_config(trained_model[other], device="cpu").run(volume)
        assert np.array_equal(from_script.mask("lungs"), result.mask("lungs")), other


def test_an_image_on_another_grid_is_resampled_to_the_model_and_back(ct_sm, trained_model):
    volume, _ = ct_sm
    image = sitk.GetImageFromArray(volume.array)
    volume.geometry.apply_to(image)
    size = [int(round(n * 1.5)) for n in image.GetSize()]
    fine = sitk.Resample(
        image,
        size,
        sitk.Transform(),
        sitk.sitkLinear,
        image.GetOrigin(),
        (2.0, 2.0, 2.0),
        image.GetDirection(),
        -1024.0,
    )
    fine_volume = Volume(sitk.GetArrayFromImage(fine), Geometry.from_sitk(fine), "ct_sm at 2 mm")
    segmenter = TorchModelSegmenter.from_config(trained_model["scripted"], device="cpu")
    on_fine_grid = segmenter.run(fine_volume)
    assert on_fine_grid.geometry == fine_volume.geometry
    native = sitk.GetImageFromArray(segmenter.run(volume).mask("lungs").astype(np.uint8))
    volume.geometry.apply_to(native)
    native_on_fine = sitk.GetArrayFromImage(
        sitk.Resample(native, fine, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    )
    assert dice(on_fine_grid.mask("lungs"), native_on_fine.astype(bool)) >= 0.85


def test_a_model_with_the_wrong_number_of_output_channels_is_reported(ct_sm, trained_model):
    volume, _ = ct_sm
    config = yaml.safe_load(trained_model["scripted"].read_text())
    config["labels"] = {1: "lung_left", 2: "lung_right"}
    wrong = trained_model["folder"] / "wrong_channels.yaml"
    wrong.write_text(yaml.safe_dump(config))
    with pytest.raises(ModelConfigError, match="wrong_channels.yaml: the model returned shape"):
        TorchModelSegmenter.from_config(wrong, device="cpu").run(volume)


def test_a_state_dict_that_does_not_fit_its_architecture_is_reported(trained_model):
    config = yaml.safe_load(trained_model["state"].read_text())
    config["architecture_kwargs"] = {"channels": 8, "classes": 2}
    wrong = trained_model["folder"] / "wrong_width.yaml"
    wrong.write_text(yaml.safe_dump(config))
    with pytest.raises(ModelConfigError, match="does not fit tiny_unet.py:TinyUNet3D"):
        TorchModelSegmenter.from_config(wrong, device="cpu")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": None}, "missing 'labels'"),
        ({"labels": {2: "lungs"}}, "1..K without gaps"),
        ({"patch_size": [48, 32]}, "'patch_size' must list three values"),
        ({"overlap": 1.0}, r"overlap must be in \[0, 1\)"),
        ({"normalization": {"type": "magic"}}, "normalization type must be one of"),
    ],
)
def test_malformed_model_yaml_names_the_file_and_field(trained_model, change, message):
    config = yaml.safe_load(trained_model["scripted"].read_text())
    for key, value in change.items():
        if value is None:
            config.pop(key)
        else:
            config[key] = value
    broken = trained_model["folder"] / "broken.yaml"
    broken.write_text(yaml.safe_dump(config))
    with pytest.raises(ModelConfigError, match=message):
        TorchModelSegmenter.from_config(broken, device="cpu")


def test_cuda_is_refused_clearly_when_torch_sees_no_gpu(trained_model):
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    from SegQualityReviewLib.segmenters.base import SegmenterError

    with pytest.raises(SegmenterError, match="torch sees no CUDA GPU"):
        TorchModelSegmenter.from_config(trained_model["scripted"], device="cuda")
