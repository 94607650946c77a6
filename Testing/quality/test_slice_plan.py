"""The encoded slices: few, shared between structures, spread along each, within the budget."""

from __future__ import annotations

from SegQualityReviewLib.quality.slice_plan import dense_slices, occupied_slices, plan_slices, spread_choice


def test_every_structure_of_a_real_ct_gets_two_slices_shared_with_others(ts_ct):
    _, reference = ts_ct
    extents = {n: occupied_slices(reference.mask(n)) for n in reference.names}
    extents = {n: z for n, z in extents.items() if z.size}
    plan = plan_slices(extents, per_structure=2, budget=60)
    assert len(plan.slices) <= 60
    for name, z in extents.items():
        assert len(plan.by_structure[name]) >= min(2, z.size), name
        assert set(plan.by_structure[name]) <= set(z.tolist())
    assert len(plan.slices) < sum(min(2, z.size) for z in extents.values()) / 2


def test_a_tight_budget_keeps_the_slices_crossing_the_most_structures(ts_ct):
    _, reference = ts_ct
    extents = {n: occupied_slices(reference.mask(n)) for n in reference.names}
    extents = {n: z for n, z in extents.items() if z.size}
    plan = plan_slices(extents, per_structure=2, budget=3)
    assert len(plan.slices) == 3
    crossing = [sum(z in zs for zs in extents.values()) for z in range(reference.geometry.array_shape[0])]
    assert max(crossing[z] for z in plan.slices) == max(crossing)


def test_spread_choice_takes_slices_near_the_centres_of_equal_parts():
    assert spread_choice(range(0, 100), 2) == (24, 74)
    assert spread_choice([3, 4], 4) == (3, 4)


def test_the_dense_cache_covers_the_extents_with_a_margin_and_a_limit():
    slices = dense_slices({"a": [10, 11, 12], "b": [40]}, depth=50, margin=2, limit=100)
    assert set(slices) == set(range(8, 15)) | set(range(38, 43))
    assert len(dense_slices({"a": list(range(200))}, depth=200, limit=40)) <= 40
