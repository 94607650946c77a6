"""Training the slice network: Dice regression weighted toward low Dice, plus a pairwise ranking term."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .model import QualityNet
from .samples import CandidateSample


@dataclass(frozen=True)
class TrainingOptions:
    """Optimiser and loss settings. ``low_dice_weight`` w gives a slice with target t the weight 1 + w(1 - t)."""

    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.05
    low_dice_weight: float = 2.0
    ranking_weight: float = 0.5
    ranking_margin: float = 0.05
    seed: int = 0


@dataclass(frozen=True)
class TrainingResult:
    """What a run did: steps, final mean loss and wall time, kept in the weights' summary."""

    steps: int
    final_loss: float
    seconds: float


def quality_loss(predicted: torch.Tensor, target: torch.Tensor, *, options: TrainingOptions) -> torch.Tensor:
    """Weighted squared error plus a hinge ranking loss over the pairs in the batch whose targets differ.

    The weight favours low-Dice slices, which are rarer and matter most to a reviewer; the ranking term
    keeps the order of candidates right even where the absolute value is off.
    """
    weights = 1.0 + options.low_dice_weight * (1.0 - target)
    regression = (weights * (predicted - target) ** 2).sum() / weights.sum()
    target_gap = target[:, None] - target[None, :]
    ordered = target_gap > options.ranking_margin
    if not ordered.any():
        return regression
    predicted_gap = predicted[:, None] - predicted[None, :]
    ranking = F.relu(options.ranking_margin - predicted_gap[ordered]).mean()
    return regression + options.ranking_weight * ranking


def stack_slices(samples: Sequence[CandidateSample]) -> tuple[torch.Tensor, torch.Tensor]:
    """All slices of the samples as one (N, C, H, W) float16 tensor and their slice-Dice targets."""
    slices = torch.cat([sample.slices for sample in samples])
    targets = torch.from_numpy(
        np.concatenate([sample.slice_targets for sample in samples]).astype(np.float32)
    )
    return slices, targets


def train(
    model: QualityNet,
    samples: Sequence[CandidateSample],
    *,
    options: TrainingOptions,
    progress: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Train in place with AdamW and a cosine schedule; shuffling and dropout are seeded."""
    torch.manual_seed(options.seed)
    slices, targets = stack_slices(samples)
    generator = torch.Generator().manual_seed(options.seed)
    steps_per_epoch = math.ceil(len(targets) / options.batch_size)
    total_steps = options.epochs * steps_per_epoch
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=options.learning_rate, total_steps=total_steps, pct_start=0.1
    )
    model.train()
    started, step, running = time.perf_counter(), 0, 0.0
    for epoch in range(options.epochs):
        order = torch.randperm(len(targets), generator=generator)
        for batch in order.split(options.batch_size):
            inputs = _augment(slices[batch].to(torch.float32), generator)
            loss = quality_loss(model(inputs), targets[batch], options=options)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        if progress is not None:
            progress(
                f"epoch {epoch + 1}/{options.epochs}: loss {running:.4f}, {time.perf_counter() - started:.0f} s"
            )
    model.eval()
    return TrainingResult(steps=step, final_loss=running, seconds=time.perf_counter() - started)


def _augment(inputs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random flips and 90-degree turns: slice orientation carries no information about quality."""
    if torch.rand(1, generator=generator).item() < 0.5:
        inputs = inputs.flip(-1)
    turns = int(torch.randint(0, 4, (1,), generator=generator).item())
    return torch.rot90(inputs, turns, dims=(-2, -1)) if turns else inputs


@torch.no_grad()
def predict_slices(
    model: QualityNet, slices: torch.Tensor, *, batch_size: int = 256, device: str = "cpu"
) -> np.ndarray:
    """Predicted Dice per slice, in input order (eval mode, no gradient)."""
    model.eval()
    outputs = [
        model(chunk.to(device=device, dtype=torch.float32)).float().cpu()
        for chunk in slices.split(batch_size)
    ]
    return torch.cat(outputs).numpy() if outputs else np.zeros(0, dtype=np.float32)
