"""The shipped estimator as one safetensors file (no pickle): the ViT head's tensors, the fusion's arrays,
and JSON metadata for everything else (calibration, intervals, priors, options, measured figures).

Loading needs numpy and safetensors; the head's tensors become a torch module only when the encoder
signals run (``head_network``), so a machine without LiteMedSAM (Python 3.9) still loads the file and
runs the fusion on the signals it has.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import SegQualityError
from .calibration import CalibrationError, ConformalIntervals, MonotoneCalibration
from .fusion import LinearFusion, TreeEnsemble
from .priors import StructurePriors

DEFAULT_WEIGHTS = (
    Path(__file__).resolve().parents[2] / "Resources" / "Models" / "quality_estimator.safetensors"
)
FORMAT_VERSION = "3"
_HEAD_PREFIX = "head."
_FUSION_PREFIX = "fusion."


class WeightsError(SegQualityError):
    """An estimator weights file is missing, unreadable, or was written for another format."""


@dataclass(frozen=True)
class EstimatorBundle:
    """A trained estimator: the head's state (numpy arrays), the fusion, its calibration and intervals,
    the priors per concept, and ``summary`` (how it was trained and what it measured)."""

    head_state: Mapping[str, np.ndarray]
    fusion: object
    calibration: MonotoneCalibration
    intervals: ConformalIntervals
    priors: StructurePriors
    summary: Mapping[str, Any] = field(default_factory=dict)

    def head_network(self):
        """The ViT head as a torch module in eval mode (imports torch)."""
        import torch

        from .signals.vit_head import build_head_net

        net = build_head_net()
        net.load_state_dict(
            {k: torch.from_numpy(np.array(v, np.float32)) for k, v in self.head_state.items()}
        )
        return net.eval()


def save_bundle(bundle: EstimatorBundle, path: str | Path) -> Path:
    """Write the bundle: head tensors as float16, fusion arrays at full precision, metadata as JSON."""
    from safetensors.numpy import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {
        _HEAD_PREFIX + k: np.ascontiguousarray(v, dtype=np.float16) for k, v in bundle.head_state.items()
    }
    tensors.update({_FUSION_PREFIX + k: np.ascontiguousarray(v) for k, v in bundle.fusion.arrays().items()})
    fusion_meta = {
        "kind": bundle.fusion.kind,
        "features": list(bundle.fusion.features),
        "baseline" if bundle.fusion.kind == "trees" else "intercept": getattr(
            bundle.fusion, "baseline", getattr(bundle.fusion, "intercept", 0.0)
        ),
    }
    metadata = {
        "format": FORMAT_VERSION,
        "fusion": json.dumps(fusion_meta),
        "calibration": json.dumps(bundle.calibration.as_dict()),
        "intervals": json.dumps(bundle.intervals.as_dict()),
        "priors": json.dumps(bundle.priors.as_dict()),
        "summary": json.dumps(dict(bundle.summary)),
    }
    temporary = path.with_suffix(".tmp")
    save_file(tensors, str(temporary), metadata=metadata)
    temporary.chmod(0o644)  # safetensors writes owner-only files; weights are for everyone to read
    temporary.replace(path)
    return path


def load_bundle(path: str | Path | None = None) -> EstimatorBundle:
    """Read an estimator written by ``save_bundle``; ``None`` reads the shipped default weights."""
    from safetensors import SafetensorError, safe_open

    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    if not path.is_file():
        raise WeightsError(f"{path}: estimator weights not found")
    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError) as error:
        raise WeightsError(f"{path}: not a readable safetensors file ({error})") from None
    if metadata.get("format") != FORMAT_VERSION:
        raise WeightsError(
            f"{path}: estimator format '{metadata.get('format')}', expected '{FORMAT_VERSION}' "
            "(retrain with segquality train-estimator)"
        )
    try:
        fusion_meta = json.loads(metadata["fusion"])
        arrays = {k[len(_FUSION_PREFIX) :]: v for k, v in tensors.items() if k.startswith(_FUSION_PREFIX)}
        if fusion_meta["kind"] == "trees":
            fusion = TreeEnsemble.from_arrays(
                arrays, features=fusion_meta["features"], baseline=fusion_meta["baseline"]
            )
        else:
            fusion = LinearFusion.from_arrays(
                arrays, features=fusion_meta["features"], intercept=fusion_meta["intercept"]
            )
        bundle = EstimatorBundle(
            head_state={k[len(_HEAD_PREFIX) :]: v for k, v in tensors.items() if k.startswith(_HEAD_PREFIX)},
            fusion=fusion,
            calibration=MonotoneCalibration.from_dict(json.loads(metadata["calibration"])),
            intervals=ConformalIntervals.from_dict(json.loads(metadata["intervals"])),
            priors=StructurePriors.from_dict(json.loads(metadata["priors"])),
            summary=json.loads(metadata.get("summary", "{}")),
        )
    except (CalibrationError, KeyError, TypeError, ValueError) as error:
        raise WeightsError(f"{path}: unusable estimator metadata ({error})") from None
    return bundle
