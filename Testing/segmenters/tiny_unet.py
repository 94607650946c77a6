"""A tiny 3D U-Net the adapter tests build, train for a few steps and save (TorchScript and state dict)."""

from __future__ import annotations

import torch
from torch import nn


def _block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, 3, padding=1),
        nn.InstanceNorm3d(out_channels, affine=True),
        nn.LeakyReLU(0.01),
        nn.Conv3d(out_channels, out_channels, 3, padding=1),
        nn.InstanceNorm3d(out_channels, affine=True),
        nn.LeakyReLU(0.01),
    )


class TinyUNet3D(nn.Module):
    """Two resolution levels; input sizes must be even. Output: logits for ``classes`` channels."""

    def __init__(self, channels: int = 8, classes: int = 2):
        super().__init__()
        self.encoder = _block(1, channels)
        self.bottom = _block(channels, 2 * channels)
        self.up = nn.ConvTranspose3d(2 * channels, channels, 2, stride=2)
        self.decoder = _block(2 * channels, channels)
        self.head = nn.Conv3d(channels, classes, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        skip = self.encoder(image)
        deep = self.bottom(nn.functional.max_pool3d(skip, 2))
        return self.head(self.decoder(torch.cat([self.up(deep), skip], dim=1)))
