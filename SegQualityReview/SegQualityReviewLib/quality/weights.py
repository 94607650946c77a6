"""Saving and loading estimator weights as safetensors (no pickle) with their settings in the metadata."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ..errors import SegQualityError
from .calibration import CalibrationError, MonotoneCalibration
from .encoding import EncodingConfig
from .model import ModelConfig, QualityNet

DEFAULT_WEIGHTS = (
    Path(__file__).resolve().parents[2] / "Resources" / "Models" / "quality_estimator.safetensors"
)
FORMAT_VERSION = "1"
"""Format "1": every tensor float16. Format "2": kernels ``_int8_tensors`` picks are int8 with a float32
scale per output channel in ``<name>.scale`` (``quantize_int8``), all other tensors float16. Both load."""
INT8_FORMAT_VERSION = "2"
SCALE_SUFFIX = ".scale"
MIN_INT8_FAN_IN = 8


class WeightsError(SegQualityError):
    """An estimator weights file is missing, unreadable, or was written for another format."""


@dataclass(frozen=True)
class EstimatorBundle:
    """A trained estimator: the network plus everything inference needs to reproduce training's choices.

    ``calibration`` maps the network's aggregated Dice monotonically toward the true Dice (identity for
    files written before it existed); ``interval_half_width`` is the split-conformal quantile of
    |true - calibrated| Dice on the calibration set (coverage ``1 - conformal_alpha``); ``agreement_weight``
    is the share given to inter-model agreement when other segmentations of the structure are supplied.
    """

    model: QualityNet
    model_config: ModelConfig
    encoding: EncodingConfig
    interval_half_width: float
    conformal_alpha: float = 0.1
    agreement_weight: float = 0.5
    summary: Mapping[str, Any] = field(default_factory=dict)
    calibration: MonotoneCalibration = field(default_factory=MonotoneCalibration)


def quantize_int8(tensor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-output-channel int8: ``tensor ~ q * scale`` along dim 0, error at most scale / 2.

    ``scale = max|row| / 127`` in float32 (1 for an all-zero row), so every row uses the full int8 range.
    """
    rows = tensor.detach().to(torch.float32).reshape(tensor.shape[0], -1)
    scale = rows.abs().amax(dim=1) / 127.0
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    quantized = torch.round(rows / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return quantized.reshape(tensor.shape).contiguous(), scale.contiguous()


def dequantize_int8(quantized: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The float32 tensor ``quantize_int8`` approximated: each output channel times its scale."""
    shape = (quantized.shape[0],) + (1,) * (quantized.dim() - 1)
    return quantized.to(torch.float32) * scale.to(torch.float32).reshape(shape)


def _is_int8_kernel(tensor: torch.Tensor) -> bool:
    """A kernel worth int8: 2+ dimensions, several outputs, at least ``MIN_INT8_FAN_IN`` input channels.

    Kept float16: depthwise convolutions (1 input channel per group), an RGB stem (3) and a one-output
    head. They hold 0.18 M of the shipped network's 3.33 M weights; quantizing them too moved test
    Pearson by 0.015 (docs/estimator.md).
    """
    return (
        tensor.is_floating_point()
        and tensor.dim() >= 2
        and tensor.shape[0] > 1
        and tensor.shape[1] >= MIN_INT8_FAN_IN
    )


def _int8_tensors(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The kernels ``_is_int8_kernel`` picks as int8 plus their scales; every other tensor as float16."""
    tensors: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        if _is_int8_kernel(tensor):
            tensors[name], tensors[name + SCALE_SUFFIX] = quantize_int8(tensor)
        else:
            tensors[name] = tensor.detach().to(torch.float16).contiguous()
    return tensors


def _dequantized(tensors: Mapping[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    """Format-2 tensors back to float32: int8 kernels times their scales, float16 tensors widened."""
    scales = {name[: -len(SCALE_SUFFIX)]: t for name, t in tensors.items() if name.endswith(SCALE_SUFFIX)}
    state: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        base = name[: -len(SCALE_SUFFIX)]
        if name.endswith(SCALE_SUFFIX) and base in tensors and tensors[base].dtype == torch.int8:
            continue
        if tensor.dtype == torch.int8:
            if name not in scales or scales[name].shape != (tensor.shape[0],):
                raise WeightsError(f"{path}: int8 tensor '{name}' has no matching per-channel scale")
            state[name] = dequantize_int8(tensor, scales[name])
        else:
            state[name] = tensor.to(torch.float32)
    return state


def save_bundle(
    bundle: EstimatorBundle, path: str | Path, *, quantize: Literal["int8"] | None = None
) -> Path:
    """Write the weights as safetensors: float16 (format "1") or, with ``quantize="int8"``, most kernels
    int8 with per-channel scales and everything else float16 (format "2", 3.8 MB instead of 6.9 MB)."""
    if quantize not in (None, "int8"):
        raise WeightsError(f"{path}: quantize must be None or 'int8', not {quantize!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = bundle.model.state_dict()
    if quantize == "int8":
        tensors = _int8_tensors(state)
    else:
        tensors = {name: t.detach().to(torch.float16).contiguous() for name, t in state.items()}
    metadata = {
        "format": INT8_FORMAT_VERSION if quantize == "int8" else FORMAT_VERSION,
        "model_config": json.dumps(bundle.model_config.as_dict()),
        "encoding": json.dumps(bundle.encoding.as_dict()),
        "interval_half_width": repr(float(bundle.interval_half_width)),
        "conformal_alpha": repr(float(bundle.conformal_alpha)),
        "agreement_weight": repr(float(bundle.agreement_weight)),
        "summary": json.dumps(dict(bundle.summary)),
        "calibration": json.dumps(bundle.calibration.as_dict()),
    }
    save_file(tensors, str(path), metadata=metadata)
    return path


def load_bundle(path: str | Path | None = None) -> EstimatorBundle:
    """Read an estimator written by ``save_bundle``; ``None`` reads the shipped default weights."""
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    if not path.is_file():
        raise WeightsError(f"{path}: estimator weights not found")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise WeightsError(f"{path}: not a readable safetensors file ({error})") from None
    if metadata.get("format") not in (FORMAT_VERSION, INT8_FORMAT_VERSION):
        raise WeightsError(
            f"{path}: estimator format '{metadata.get('format')}', "
            f"expected '{FORMAT_VERSION}' or '{INT8_FORMAT_VERSION}'"
        )
    if metadata["format"] == INT8_FORMAT_VERSION:
        state = _dequantized(tensors, path)
    else:
        state = {name: t.to(torch.float32) for name, t in tensors.items()}
    model_config = ModelConfig(**json.loads(metadata["model_config"]))
    encoding_fields = json.loads(metadata["encoding"])
    encoding = EncodingConfig(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in encoding_fields.items()}
    )
    model = QualityNet(model_config)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise WeightsError(
            f"{path}: weights do not fit {model_config.backbone} ({str(error)[:200]})"
        ) from None
    model.eval()
    try:
        calibration = (
            MonotoneCalibration.from_dict(json.loads(metadata["calibration"]))
            if "calibration" in metadata
            else MonotoneCalibration()
        )
    except (CalibrationError, KeyError, TypeError, ValueError) as error:
        raise WeightsError(f"{path}: unusable calibration in the metadata ({error})") from None
    return EstimatorBundle(
        model=model,
        model_config=model_config,
        encoding=encoding,
        interval_half_width=float(metadata["interval_half_width"]),
        conformal_alpha=float(metadata["conformal_alpha"]),
        agreement_weight=float(metadata["agreement_weight"]),
        summary=json.loads(metadata.get("summary", "{}")),
        calibration=calibration,
    )
