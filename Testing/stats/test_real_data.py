"""Statistics on real model outputs: five BraTS 2020 algorithms scored slice by slice against their fusion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from SegQualityReviewLib.io import read_volume
from SegQualityReviewLib.stats import analyze_metric, mean_intervals

SLAB_SLICES = 5


@pytest.fixture(scope="module")
def brats_slice_dice(shared_data: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Whole-tumour Dice per axial slice of each algorithm against the simple fusion, and each slice's slab."""
    case = shared_data / "brats_toolkit" / "TCGA-DU-7294"
    reference = read_volume(case / "fusion_simple.nii.gz").array > 0
    predictions = {
        path.name[5:].split("-")[0]: read_volume(path).array > 0 for path in sorted(case.glob("pred_*"))
    }
    slices = np.flatnonzero(reference.any(axis=(1, 2)))
    dice = np.array(
        [
            [
                2 * (mask[z] & reference[z]).sum() / (mask[z].sum() + reference[z].sum())
                for mask in predictions.values()
            ]
            for z in slices
        ]
    )
    return list(predictions), dice, (slices - slices[0]) // SLAB_SLICES


def test_grouping_neighbouring_slices_widens_every_interval(brats_slice_dice):
    names, dice, slabs = brats_slice_dice
    assert dice.shape == (40, 5) and len(names) == 5
    by_slab = mean_intervals(dice, patient_ids=slabs)
    by_slice = mean_intervals(dice, n_resamples=2000)
    # Adjacent slices of one tumour agree with each other: treating them as independent understates the error.
    for grouped, independent in zip(by_slab, by_slice):
        assert grouped.estimate == pytest.approx(independent.estimate)
        assert grouped.high - grouped.low > 1.1 * (independent.high - independent.low)


def test_ranking_of_real_algorithms_is_honest_about_eight_slabs(brats_slice_dice):
    names, dice, slabs = brats_slice_dice
    analysis = analyze_metric(
        dice, model_names=names, patient_ids=slabs, n_resamples=2000, equivalence_margin=0.01
    )
    assert analysis.ranking.models[0].model == "sanet0" and analysis.ranking.models[0].p_first > 0.9
    assert "sanet0" in analysis.ranking.tied_leaders and analysis.ranking.n == 8
    # Eight slabs allow 256 sign vectors: the smallest two-sided p is 2/256, and Holm over 10 pairs lifts it
    # above 0.05, so no pair can be called different; none is shown equivalent either.
    assert all(c.exact and c.difference.n_resamples == 256 for c in analysis.pairwise)
    assert {c.verdict for c in analysis.pairwise} == {"not_separable"}
    # At Holm's level for 10 pairs (alpha 0.005) 256 sign vectors cannot reject any difference: the interval
    # that belongs to that verdict is unbounded, and says so instead of showing a narrow unadjusted one.
    assert all(c.difference.level == 1 - 0.005 for c in analysis.pairwise)
    assert all(c.difference.low == -np.inf and c.difference.high == np.inf for c in analysis.pairwise)
    assert analysis.power.n_for_power is not None and analysis.power.n_for_power > 8
