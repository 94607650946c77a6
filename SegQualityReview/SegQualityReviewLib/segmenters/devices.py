"""Choosing the compute device: ``auto`` means CUDA when torch sees a GPU, else the CPU."""

from __future__ import annotations

from .base import SegmenterError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    """``cpu`` or ``cuda`` for a requested ``auto|cpu|cuda``; asking for CUDA without a GPU is an error."""
    if device not in DEVICE_CHOICES:
        raise SegmenterError(f"device '{device}' is not one of {', '.join(DEVICE_CHOICES)}")
    if device == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise SegmenterError(
            "device 'cuda' was requested but torch sees no CUDA GPU (use --device auto or cpu)"
        )
    return "cpu"
