"""A user's PyTorch model (TorchScript or state dict) plus a small YAML, as a segmenter.

The YAML (paths relative to its own folder)::

    model: unet.pt                  # TorchScript file, torch.export .pt2, or a state dict with `architecture`
    architecture: unet.py:UNet3D    # state dicts only: FILE.py:Class or package.module:Class
    architecture_kwargs: {channels: 8}
    name: my-unet                   # optional; version and training_datasets too
    labels: {1: lung_left, 2: lung_right}   # output channel k is label k; channel 0 is background
    spacing_mm: [1.5, 1.5, 3.0]     # (x, y, z) the model expects; omit to use the image's own
    normalization: {type: ct_window, min: -1000, max: 1000}   # or zscore, percentile, none
    patch_size: [96, 96, 48]        # (x, y, z) voxels
    overlap: 0.5
    batch_size: 1

Inference: normalise, resample to ``spacing_mm`` (linear), sliding windows with Gaussian blending on
cuda or cpu, softmax, resample the probabilities back to the input grid (linear), argmax.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import SimpleITK as sitk
import torch
import yaml

from ..io import Geometry, LabelMap, StructureSet, Volume
from .base import RunControl, SegmenterError
from .devices import resolve_device
from .sliding_window import sliding_window_inference

_NORMALIZATIONS = ("ct_window", "zscore", "percentile", "none")


class ModelConfigError(SegmenterError):
    """A model YAML is missing a field, holds a wrong value, or does not fit the model file."""


@dataclass(frozen=True)
class TorchModelConfig:
    """The parsed model YAML; sizes and spacings in ITK (x, y, z) order like ``io.Geometry``."""

    source: Path
    model_path: Path
    labels: LabelMap
    patch_size: tuple[int, int, int]
    architecture: str | None = None
    architecture_kwargs: Mapping[str, Any] = field(default_factory=dict)
    spacing_mm: tuple[float, float, float] | None = None
    normalization: Mapping[str, Any] = field(default_factory=lambda: {"type": "none"})
    overlap: float = 0.5
    batch_size: int = 1
    name: str = "torch-model"
    version: str = ""
    training_datasets: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: str | Path) -> TorchModelConfig:
        path = Path(path)
        if not path.is_file():
            raise ModelConfigError(f"{path}: model YAML not found")
        try:
            content = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise ModelConfigError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
        if not isinstance(content, dict):
            raise ModelConfigError(f"{path}: expected a mapping of settings")
        for required in ("model", "labels", "patch_size"):
            if required not in content:
                raise ModelConfigError(f"{path}: missing '{required}'")
        labels = content["labels"]
        if not isinstance(labels, dict) or not labels:
            raise ModelConfigError(f"{path}: 'labels' must map output channels 1..K to structure names")
        label_map = LabelMap(names_by_value={int(k): str(v) for k, v in labels.items()}, source=str(path))
        if sorted(label_map.names_by_value) != list(range(1, len(label_map.names_by_value) + 1)):
            raise ModelConfigError(f"{path}: 'labels' must number the output channels 1..K without gaps")
        normalization = content.get("normalization") or {"type": "none"}
        if normalization.get("type") not in _NORMALIZATIONS:
            raise ModelConfigError(f"{path}: normalization type must be one of {', '.join(_NORMALIZATIONS)}")
        overlap = float(content.get("overlap", 0.5))
        if not 0.0 <= overlap < 1.0:
            raise ModelConfigError(f"{path}: overlap must be in [0, 1)")
        return cls(
            source=path,
            model_path=(path.parent / str(content["model"])).resolve(),
            labels=label_map,
            patch_size=_triple(path, "patch_size", content["patch_size"], int),
            architecture=content.get("architecture"),
            architecture_kwargs=content.get("architecture_kwargs") or {},
            spacing_mm=_triple(path, "spacing_mm", content["spacing_mm"], float)
            if content.get("spacing_mm")
            else None,
            normalization=normalization,
            overlap=overlap,
            batch_size=int(content.get("batch_size", 1)),
            name=str(content.get("name", path.stem)),
            version=str(content.get("version", "")),
            training_datasets=tuple(str(d) for d in content.get("training_datasets", ())),
        )


class TorchModelSegmenter:
    """Runs a loaded network by sliding windows; ``structures`` are the YAML's label names."""

    def __init__(self, config: TorchModelConfig, network: torch.nn.Module, *, device: str):
        self.config = config
        self.device = device
        self.network = network
        self.name = config.name
        self.version = config.version
        self.training_datasets = config.training_datasets
        self.structures = config.labels.names

    @classmethod
    def from_config(cls, path: str | Path, *, device: str = "auto") -> TorchModelSegmenter:
        config = TorchModelConfig.load(path)
        resolved = resolve_device(device)
        return cls(config, load_network(config, device=resolved), device=resolved)

    def run(self, volume: Volume, *, control: RunControl | None = None) -> StructureSet:
        control = control or RunControl()
        config = self.config
        control.report(0.0, "normalising and resampling")
        image = sitk.GetImageFromArray(normalize_intensities(volume.array, config.normalization))
        volume.geometry.apply_to(image)
        model_image = _resample(image, config.spacing_mm, sitk.sitkLinear) if config.spacing_mm else image
        tensor = torch.from_numpy(sitk.GetArrayFromImage(model_image)).to(self.device)[None]
        expected_channels = len(config.labels.names_by_value) + 1

        def predict(batch: torch.Tensor) -> torch.Tensor:
            logits = self.network(batch)
            if logits.ndim != 5 or logits.shape[1] != expected_channels:
                raise ModelConfigError(
                    f"{config.source}: the model returned shape {tuple(logits.shape)}, expected "
                    f"(batch, {expected_channels}, z, y, x) for background + {expected_channels - 1} labels"
                )
            return torch.softmax(logits, dim=1)

        with torch.inference_mode():
            probabilities = sliding_window_inference(
                tensor,
                predict,
                patch_size=config.patch_size[::-1],
                overlap=config.overlap,
                batch_size=config.batch_size,
                control=control.scaled(0.05, 0.9),
            )
        control.report(0.9, "resampling back to the input grid")
        labels = _labels_on_input_grid(probabilities.cpu().numpy(), model_image, volume.geometry)
        control.report(1.0, "done")
        return StructureSet.from_label_array(
            labels, volume.geometry, label_map=config.labels, source=self.name
        )


def load_network(config: TorchModelConfig, *, device: str) -> torch.nn.Module:
    """The TorchScript module, the ``torch.export`` program, or ``architecture`` filled with the state dict.

    A ``.pt2`` program is exported for one input shape: (batch_size, 1, *patch_size in z, y, x).
    """
    path = config.model_path
    if not path.is_file():
        raise ModelConfigError(f"{config.source}: model file {path} not found")
    if path.suffix == ".pt2":
        if config.batch_size != 1:
            raise ModelConfigError(f"{config.source}: a torch.export .pt2 model needs batch_size: 1")
        try:
            # Exported programs are traced in eval mode already and do not support .eval().
            return torch.export.load(str(path)).module().to(device)
        except (RuntimeError, ValueError) as error:
            raise ModelConfigError(
                f"{path}: not a torch.export program ({str(error).splitlines()[0]})"
            ) from None
    if config.architecture is None:
        try:
            return torch.jit.load(str(path), map_location=device).eval()
        except RuntimeError as error:
            raise ModelConfigError(
                f"{path}: not a TorchScript file ({str(error).splitlines()[0]}); for a state dict, "
                f"name its class in 'architecture' in {config.source.name}"
            ) from None
    network = _architecture_class(config)(**dict(config.architecture_kwargs))
    try:
        state = torch.load(str(path), map_location=device, weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        network.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError) as error:
        raise ModelConfigError(
            f"{path}: does not fit {config.architecture} ({str(error).splitlines()[0]})"
        ) from None
    return network.to(device).eval()


def normalize_intensities(array: np.ndarray, normalization: Mapping[str, Any]) -> np.ndarray:
    """Intensities as the model was trained on: CT window to [0, 1], z-score, percentile clip to [0, 1], or none."""
    kind = normalization.get("type", "none")
    values = array.astype(np.float32, copy=True)
    if kind == "ct_window":
        low, high = float(normalization.get("min", -1000.0)), float(normalization.get("max", 1000.0))
        return (np.clip(values, low, high) - low) / (high - low)
    if kind == "zscore":
        return (values - values.mean()) / max(float(values.std()), 1e-6)
    if kind == "percentile":
        low, high = np.percentile(
            values, [float(normalization.get("low", 0.5)), float(normalization.get("high", 99.5))]
        )
        return (np.clip(values, low, high) - low) / max(float(high - low), 1e-6)
    return values


def _architecture_class(config: TorchModelConfig) -> type:
    module_name, _, class_name = str(config.architecture).rpartition(":")
    if not module_name or not class_name:
        raise ModelConfigError(
            f"{config.source}: 'architecture' must read FILE.py:Class or package.module:Class"
        )
    if module_name.endswith(".py"):
        file = (config.source.parent / module_name).resolve()
        if not file.is_file():
            raise ModelConfigError(f"{config.source}: architecture file {file} not found")
        spec = importlib.util.spec_from_file_location(f"segquality_user_model_{file.stem}", file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ModelConfigError(f"{config.source}: cannot import {module_name} ({error})") from None
    if not hasattr(module, class_name):
        raise ModelConfigError(f"{config.source}: {module_name} has no class {class_name}")
    return getattr(module, class_name)


def _resample(image: sitk.Image, spacing: tuple[float, float, float], interpolator: int) -> sitk.Image:
    """``image`` on a grid of ``spacing`` covering the same extent (same origin and direction)."""
    size = [max(1, int(round(n * s / t))) for n, s, t in zip(image.GetSize(), image.GetSpacing(), spacing)]
    return sitk.Resample(
        image, size, sitk.Transform(), interpolator, image.GetOrigin(), spacing, image.GetDirection(), 0.0
    )


def _labels_on_input_grid(probabilities: np.ndarray, model_image: sitk.Image, target: Geometry) -> np.ndarray:
    """Argmax of the class probabilities after resampling each one linearly onto the input grid."""
    model_geometry = Geometry.from_sitk(model_image)
    if not model_geometry.differences(target):
        return np.argmax(probabilities, axis=0).astype(np.uint16)
    reference = sitk.Image(list(target.size), sitk.sitkFloat32)
    target.apply_to(reference)
    resampled = []
    for channel in probabilities:
        channel_image = sitk.GetImageFromArray(channel.astype(np.float32))
        model_geometry.apply_to(channel_image)
        resampled.append(
            sitk.GetArrayFromImage(
                sitk.Resample(channel_image, reference, sitk.Transform(), sitk.sitkLinear, 0.0)
            )
        )
    return np.argmax(np.stack(resampled), axis=0).astype(np.uint16)


def _triple(path: Path, key: str, value: Any, kind: type) -> tuple:
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ModelConfigError(f"{path}: '{key}' must list three values (x, y, z)")
    try:
        converted = tuple(kind(v) for v in value)
    except (TypeError, ValueError):
        raise ModelConfigError(f"{path}: '{key}' values must be numbers") from None
    if any(v <= 0 for v in converted):
        raise ModelConfigError(f"{path}: '{key}' values must be positive")
    return converted
