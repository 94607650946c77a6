"""Training the ViT head (signal a) on cached embeddings, and its out-of-patient predictions.

The encoder stays frozen: its stored float16 embeddings are pooled once per row (``vit_head``), so
training a head is seconds of CPU (seeded shuffling and initialisation, one torch thread) and one head
per held-out patient is affordable. Each row is one (slice, channel) of one candidate with that
slice's Dice as target; rows are weighted so each candidate counts once and a patient with many
candidates (100-organ CT) counts as the square root of its size.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np

from .samples import SampleTable
from .signals import vit_head

Progress = Callable[[str], None]


@dataclass(frozen=True)
class HeadTrainingOptions:
    epochs: int = 40
    batch_size: int = 256
    learning_rate: float = 3e-3
    weight_decay: float = 0.05
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class HeadRows:
    """The head rows of several cases: pooled inputs, targets, and which candidate each row is from."""

    vectors: np.ndarray
    scalars: np.ndarray
    identity: np.ndarray
    target: np.ndarray
    area: np.ndarray
    candidate: np.ndarray  # global candidate index (into the concatenated rows of the tables)
    position: np.ndarray
    patient: np.ndarray


def collect_rows(tables: Sequence[SampleTable]) -> HeadRows:
    """Pooled head rows of ``tables``; candidate indices run over the tables' rows in order."""
    parts: dict[str, list] = {
        k: []
        for k in ("vectors", "scalars", "identity", "target", "area", "candidate", "position", "patient")
    }
    offset = 0
    for table in tables:
        arrays = table.arrays
        bank = arrays["bank"]
        vectors, scalars = vit_head.pool_rows(
            lambda key, bank=bank: bank[key], arrays["head_masks"], arrays["head_bank_index"].tolist()
        )
        parts["vectors"].append(vectors.astype(np.float16))
        parts["scalars"].append(scalars)
        parts["identity"].append(arrays["head_identity"])
        parts["target"].append(arrays["head_slice_target"])
        parts["area"].append(arrays["head_slice_area"])
        parts["candidate"].append(arrays["head_candidate"] + offset)
        parts["position"].append(arrays["head_slice_position"])
        parts["patient"].append(np.full(len(arrays["head_candidate"]), table.patient, dtype=object))
        offset += len(table.rows)
    return HeadRows(**{k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()})


def row_weights(rows: HeadRows, selected: np.ndarray) -> np.ndarray:
    """Each candidate's rows share a weight of 1; a patient's candidates share sqrt(their count)."""
    candidates = rows.candidate[selected]
    patients = rows.patient[selected]
    _, inverse, per_candidate = np.unique(candidates, return_inverse=True, return_counts=True)
    weights = 1.0 / per_candidate[inverse]
    for patient in np.unique(patients):
        members = patients == patient
        count = len(np.unique(candidates[members]))
        weights[members] *= math.sqrt(count) / count
    return weights / weights.mean()


def train_head(
    rows: HeadRows, selected: np.ndarray, *, options: HeadTrainingOptions, progress: Progress | None = None
):
    """A head trained on the rows ``selected`` (indices); returns the network in eval mode."""
    import torch

    torch.manual_seed(options.seed)
    net = vit_head.build_head_net()
    weights = torch.from_numpy(row_weights(rows, selected).astype(np.float32))
    targets = torch.from_numpy(rows.target[selected].astype(np.float32))
    vectors = torch.from_numpy(rows.vectors[selected].astype(np.float32))
    scalars = torch.from_numpy(rows.scalars[selected])
    identity = torch.from_numpy(rows.identity[selected])
    steps = max(1, options.epochs * math.ceil(len(selected) / options.batch_size))
    optimizer = torch.optim.AdamW(
        net.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=options.learning_rate, total_steps=steps, pct_start=0.15
    )
    generator = torch.Generator().manual_seed(options.seed)
    started = time.perf_counter()
    net.train()
    for epoch in range(options.epochs):
        order = torch.randperm(len(selected), generator=generator)
        running = 0.0
        for batch in order.split(options.batch_size):
            predicted = net(vectors[batch], scalars[batch], identity[batch])
            loss = (weights[batch] * (predicted - targets[batch]) ** 2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            running += float(loss.detach()) * len(batch)
        if progress is not None and (epoch + 1) % 10 == 0:
            progress(
                f"  head epoch {epoch + 1}/{options.epochs}: loss {running / len(selected):.4f}, {time.perf_counter() - started:.0f} s"
            )
    return net.eval()


def predict_head_rows(net, rows: HeadRows, selected: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return net(
            torch.from_numpy(rows.vectors[selected].astype(np.float32)),
            torch.from_numpy(rows.scalars[selected]),
            torch.from_numpy(rows.identity[selected]),
        ).numpy()


def candidate_head_features(
    rows: HeadRows, selected: np.ndarray, predictions: np.ndarray | None, count: int
) -> np.ndarray:
    """(count, len(vit_head.FEATURES)) per candidate (NaN for candidates without rows): the head's
    predictions (None: no head, NaN) and the embedding contrasts, channels averaged per slice, then
    the area-weighted mean and the minimum over slices (``vit_head.aggregate_slices``)."""
    features = np.full((count, len(vit_head.FEATURES)), np.nan)
    if not len(selected):
        return features
    contrasts = vit_head.embedding_contrasts(rows.vectors[selected])
    head = predictions if predictions is not None else np.full(len(selected), np.nan)
    values = np.column_stack([head, contrasts])
    candidates = rows.candidate[selected]
    for candidate in np.unique(candidates):
        members = candidates == candidate
        positions = rows.position[selected][members]
        unique, slice_of_row = np.unique(positions, return_inverse=True)
        areas = np.zeros(len(unique))
        areas[slice_of_row] = rows.area[selected][members]
        mean, minimum = vit_head.aggregate_slices(values[members], slice_of_row, areas)
        features[candidate] = [mean[0], minimum[0], mean[1], minimum[1], mean[2], mean[3]]
    return features
