"""The loss favours low Dice and ranks; a couple of training steps are reproducible for a seed."""

from __future__ import annotations

import numpy as np
import torch

from SegQualityReviewLib.quality.model import ModelConfig, QualityNet
from SegQualityReviewLib.quality.samples import CandidateSample
from SegQualityReviewLib.quality.training import TrainingOptions, predict_slices, quality_loss, train

TINY = ModelConfig(
    backbone_options={"patch_size": 8, "depth": 1, "embed_dim": 48, "num_heads": 2}, image_size=16
)


def test_an_error_on_a_low_dice_slice_costs_more_than_on_a_high_dice_one():
    options = TrainingOptions(ranking_weight=0.0)
    low = quality_loss(torch.tensor([0.3]), torch.tensor([0.1]), options=options)
    high = quality_loss(torch.tensor([1.0]), torch.tensor([0.8]), options=options)
    assert torch.isclose(low, high)  # one sample: the weight cancels in the normalised mean
    pair = quality_loss(torch.tensor([0.3, 1.0]), torch.tensor([0.1, 0.8]), options=options)
    shifted = quality_loss(torch.tensor([0.1, 1.0]), torch.tensor([0.1, 0.8]), options=options)
    other = quality_loss(torch.tensor([0.3, 0.8]), torch.tensor([0.1, 0.8]), options=options)
    assert shifted < other < pair


def test_ranking_term_is_zero_only_when_the_order_is_kept_with_margin():
    options = TrainingOptions(ranking_weight=1.0, low_dice_weight=0.0, ranking_margin=0.05)
    target = torch.tensor([0.2, 0.8])
    ordered = quality_loss(torch.tensor([0.2, 0.8]), target, options=options)
    swapped = quality_loss(torch.tensor([0.8, 0.2]), target, options=options)
    assert ordered == 0.0
    assert swapped > (2 * 0.6**2 / 2)  # more than the squared error alone


def _samples(count: int) -> list[CandidateSample]:
    rng = np.random.default_rng(0)
    return [
        CandidateSample(
            "c",
            "p",
            "train",
            f"s{i}",
            "synthetic",
            "synthetic",
            0.5,
            torch.from_numpy(rng.random((2, 2, 16, 16), dtype=np.float32)).half(),
            (0, 1),
            rng.random(2),
            np.array([10.0, 10.0]),
        )
        for i in range(count)
    ]


def test_two_training_steps_are_reproducible_for_a_seed():
    predictions = []
    for _ in range(2):
        torch.manual_seed(0)
        model = QualityNet(TINY)
        train(model, _samples(8), options=TrainingOptions(epochs=1, batch_size=8, seed=3))
        predictions.append(predict_slices(model, _samples(2)[0].slices))
    assert np.array_equal(predictions[0], predictions[1])
    assert ((predictions[0] >= 0) & (predictions[0] <= 1)).all()
