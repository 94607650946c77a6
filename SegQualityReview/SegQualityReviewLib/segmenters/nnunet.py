"""A trained nnU-Net v2 model (optional package ``nnunetv2``) as a segmenter, through ``nnUNetPredictor``.

The YAML (paths relative to its folder)::

    model_folder: Dataset003_Liver/nnUNetTrainer__nnUNetPlans__3d_fullres
    folds: [0]                        # default: every fold_N folder present
    checkpoint: checkpoint_final.pth
    tile_step_size: 0.5
    use_mirroring: true
    name: liver-nnunet                # optional; training_datasets defaults to the plans' dataset name

Label names come from the model's ``dataset.json`` (``{"background": 0, "liver": 1}``); region-based
models (values are lists) are named in ``regions_class_order``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import SimpleITK as sitk
import yaml

from ..io import LabelMap, StructureSet, Volume, read_structures
from .base import RunControl, SegmenterError, SegmenterUnavailableError
from .devices import resolve_device
from .torch_model import ModelConfigError

INSTALL_HINT = "pip install nnunetv2 (inside Slicer: the NNUNet extension)"


@dataclass(frozen=True)
class NnUNetConfig:
    """The parsed nnU-Net YAML plus what the model folder declares."""

    source: Path
    model_folder: Path
    folds: tuple[int, ...]
    checkpoint: str
    tile_step_size: float
    use_mirroring: bool
    labels: LabelMap
    file_ending: str
    name: str
    training_datasets: tuple[str, ...]

    @classmethod
    def load(cls, path: str | Path) -> NnUNetConfig:
        path = Path(path)
        if not path.is_file():
            raise ModelConfigError(f"{path}: nnU-Net model YAML not found")
        try:
            content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise ModelConfigError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
        if "model_folder" not in content:
            raise ModelConfigError(f"{path}: missing 'model_folder' (the trained nnU-Net model folder)")
        folder = (path.parent / str(content["model_folder"])).resolve()
        dataset = _read_json(folder / "dataset.json")
        channels = dataset.get("channel_names", dataset.get("modality", {"0": "image"}))
        if len(channels) != 1:
            raise ModelConfigError(
                f"{folder}: the model takes {len(channels)} input channels; only one is supported"
            )
        folds = content.get("folds")
        if folds is None:
            folds = sorted(int(p.name[5:]) for p in folder.glob("fold_*") if p.name[5:].isdigit())
        plans = folder / "plans.json"
        dataset_name = _read_json(plans).get("dataset_name") if plans.is_file() else None
        declared = content.get("training_datasets") or (
            [dataset_name] if dataset_name else [folder.parent.name]
        )
        return cls(
            source=path,
            model_folder=folder,
            folds=tuple(int(f) for f in folds),
            checkpoint=str(content.get("checkpoint", "checkpoint_final.pth")),
            tile_step_size=float(content.get("tile_step_size", 0.5)),
            use_mirroring=bool(content.get("use_mirroring", True)),
            labels=label_map_from_dataset_json(dataset, source=str(folder / "dataset.json")),
            file_ending=str(dataset.get("file_ending", ".nii.gz")),
            name=str(content.get("name", path.stem)),
            training_datasets=tuple(str(d) for d in declared),
        )


def label_map_from_dataset_json(dataset: Mapping[str, Any], *, source: str) -> LabelMap:
    """Names by output value from an nnU-Net v2 ``dataset.json`` (plain labels or regions)."""
    labels = dataset.get("labels")
    if not isinstance(labels, dict) or not labels:
        raise ModelConfigError(f"{source}: no 'labels' table")
    foreground = [(name, value) for name, value in labels.items() if value != 0 and value != [0]]
    if any(isinstance(value, list) for _, value in foreground):
        order = dataset.get("regions_class_order")
        if not order or len(order) != len(foreground):
            raise ModelConfigError(
                f"{source}: region labels need a 'regions_class_order' with one value per region"
            )
        return LabelMap(
            names_by_value={int(v): name for (name, _), v in zip(foreground, order)}, source=source
        )
    return LabelMap(names_by_value={int(value): name for name, value in foreground}, source=source)


def check_nnunet_ready(config: NnUNetConfig) -> None:
    """Raise ``SegmenterUnavailableError`` when nnunetv2 or a fold's checkpoint is missing, saying what to do."""
    if importlib.util.find_spec("nnunetv2") is None:
        raise SegmenterUnavailableError(f"nnU-Net v2 is not installed: {INSTALL_HINT}")
    if not config.folds:
        raise SegmenterUnavailableError(f"{config.model_folder}: holds no fold_N folder with trained weights")
    missing = [
        f for f in config.folds if not (config.model_folder / f"fold_{f}" / config.checkpoint).is_file()
    ]
    if missing:
        raise SegmenterUnavailableError(
            f"{config.model_folder}: no {config.checkpoint} for fold {', '.join(map(str, missing))} "
            "(train it, or download/unzip the model with `nnUNetv2_install_pretrained_model_from_zip`)"
        )


def predictor_arguments(config: NnUNetConfig, *, device: str) -> dict[str, Any]:
    """Keyword arguments for ``nnUNetPredictor(...)``: Gaussian blending on, quiet, on ``device``."""
    import torch

    return {
        "tile_step_size": config.tile_step_size,
        "use_gaussian": True,
        "use_mirroring": config.use_mirroring,
        "perform_everything_on_device": device == "cuda",
        "device": torch.device(device),
        "verbose": False,
        "verbose_preprocessing": False,
        "allow_tqdm": False,
    }


def initialize_arguments(config: NnUNetConfig) -> dict[str, Any]:
    """Keyword arguments for ``initialize_from_trained_model_folder``."""
    return {
        "model_training_output_dir": str(config.model_folder),
        "use_folds": config.folds,
        "checkpoint_name": config.checkpoint,
    }


def predict_arguments(input_path: Path, output_stem: Path) -> dict[str, Any]:
    """Keyword arguments for ``predict_from_files`` on one single-channel case, in this process."""
    return {
        "list_of_lists_or_source_folder": [[str(input_path)]],
        "output_folder_or_list_of_truncated_output_files": [str(output_stem)],
        "save_probabilities": False,
        "overwrite": True,
        "num_processes_preprocessing": 1,
        "num_processes_segmentation_export": 1,
    }


class NnUNetSegmenter:
    """nnU-Net v2 inference on a temporary copy of the image; the output is read back by name."""

    def __init__(self, config: NnUNetConfig, *, device: str):
        self.config = config
        self.device = device
        self.name = config.name
        self.version = f"nnunetv2 {config.checkpoint} folds {','.join(map(str, config.folds))}"
        self.training_datasets = config.training_datasets
        self.structures = config.labels.names

    @classmethod
    def from_config(cls, path: str | Path, *, device: str = "auto") -> NnUNetSegmenter:
        config = NnUNetConfig.load(path)
        check_nnunet_ready(config)
        return cls(config, device=resolve_device(device))

    def run(self, volume: Volume, *, control: RunControl | None = None) -> StructureSet:
        control = control or RunControl()
        module = importlib.import_module("nnunetv2.inference.predict_from_raw_data")
        with tempfile.TemporaryDirectory(prefix="segquality-nnunet-") as workspace:
            input_path = Path(workspace) / f"case_0000{self.config.file_ending}"
            output_stem = Path(workspace) / "prediction"
            control.report(0.0, "writing the input for nnU-Net")
            image = sitk.GetImageFromArray(volume.array)
            volume.geometry.apply_to(image)
            sitk.WriteImage(image, str(input_path))
            control.report(0.05, "loading the nnU-Net model")
            try:
                predictor = module.nnUNetPredictor(**predictor_arguments(self.config, device=self.device))
                predictor.initialize_from_trained_model_folder(**initialize_arguments(self.config))
                control.report(0.1, "nnU-Net running")
                predictor.predict_from_files(**predict_arguments(input_path, output_stem))
            except Exception as error:
                raise SegmenterError(
                    f"nnU-Net model {self.config.model_folder} failed on {volume.source}: {error}"
                ) from error
            control.report(0.95, "reading nnU-Net's output")
            return read_nnunet_output(
                Path(f"{output_stem}{self.config.file_ending}"), labels=self.config.labels, volume=volume
            )


def read_nnunet_output(path: Path, *, labels: LabelMap, volume: Volume) -> StructureSet:
    """Read nnU-Net's label file by the dataset.json names, on the input's grid."""
    if not path.is_file():
        raise SegmenterError(f"nnU-Net wrote no output at {path}")
    return read_structures(path, label_map=labels, reference=volume.geometry, reference_name=volume.source)


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise ModelConfigError(f"{path}: not found (is model_folder a trained nnU-Net v2 model folder?)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ModelConfigError(f"{path}: not readable JSON ({error})") from None
