"""Speed of the statistics package against scipy.stats on the issue's size, in one run.

Case: 10 models x 1,000 patients of Dice-like values, B = 10,000 resamples (issue 3: the whole family in at
most 10 s on 2 CPU cores). Measured, best of ``--repeats``: our BCa mean intervals for all models against
``scipy.stats.bootstrap(method="BCa", vectorized=True)`` run per model; our percentile median intervals against
``scipy.stats.bootstrap(method="percentile")`` with ``np.median``; our sign-flip p-values for all pairs against
``scipy.stats.permutation_test(permutation_type="samples")`` on ``--peer-pairs`` pairs, scaled per pair to the
family (said so in the output); and the full ``analyze_metric`` against the 10 s goal.

``--coverage`` measures accuracy instead: the coverage of 95% mean intervals over ``--simulations`` data sets
per cell (B = 1,000), ours (t, expanded BCa, and the default rule) against scipy's BCa, for Dice-like
Beta(8, 2), normal and HD95-like log-normal data at N = 10 to 60; for skewed metrics t against bootstrap-t
and BCa at N = 5 to 60 (with the share of intervals that miss the true mean from below, the long tail's
side); and for 5 correlated structures per patient.

Run: ``.venv/bin/python benchmarks/bench_stats.py [--models 10] [--patients 1000] [--resamples 10000]``
     ``.venv/bin/python benchmarks/bench_stats.py --coverage [--simulations 4000]``
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import time

import numpy as np
import scipy
import scipy.stats

from SegQualityReviewLib.stats import analyze_metric, compare_models, mean_intervals, median_intervals

GOAL_SECONDS = 10.0


def best_of(repeats: int, action) -> float:
    """Shortest wall time of ``repeats`` runs of ``action``."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def coverage(intervals_low: np.ndarray, intervals_high: np.ndarray, true_mean: float) -> float:
    """Share of intervals containing the true mean."""
    return float(np.mean((intervals_low <= true_mean) & (true_mean <= intervals_high)))


def bounds(intervals) -> tuple[np.ndarray, np.ndarray]:
    """Low and high bounds of a sequence of Interval records as arrays."""
    return np.array([i.low for i in intervals]), np.array([i.high for i in intervals])


def coverage_study(simulations: int) -> None:
    """Print coverage of 95% mean intervals: ours against scipy's BCa, then clustered against independent."""
    rng = np.random.default_rng(2024)
    laws = {
        "beta(8,2) Dice-like": (lambda size: rng.beta(8, 2, size), 0.8),
        "normal(0.8, 0.1)": (lambda size: rng.normal(0.8, 0.1, size), 0.8),
        "lognormal(1, 0.6) HD95-like": (lambda size: rng.lognormal(1.0, 0.6, size), float(np.exp(1.18))),
    }
    print(f"coverage of 95% mean intervals, {simulations} simulated data sets per cell, B = 1000")
    print(f"{'data':30s} {'N':>4s} {'ours_t':>7s} {'ours_bca':>8s} {'scipy_bca':>9s} {'default':>8s}")
    for law, (draw, true_mean) in laws.items():
        for n in (10, 20, 30, 60):
            data = draw((n, simulations))
            cells = []
            for threshold in (n + 1, 0):
                cells.append(
                    coverage(
                        *bounds(mean_intervals(data, n_resamples=1000, seed=1, small_n_threshold=threshold)),
                        true_mean,
                    )
                )
            peer = scipy.stats.bootstrap(
                (data.T,), np.mean, axis=-1, method="BCa", n_resamples=1000, vectorized=True, batch=50, rng=1
            ).confidence_interval
            cells.append(coverage(peer.low, peer.high, true_mean))
            cells.append(coverage(*bounds(mean_intervals(data, n_resamples=1000, seed=1)), true_mean))
            print(f"{law:30s} {n:4d} " + " ".join(f"{c:{w}.3f}" for c, w in zip(cells, (7, 8, 9, 8))))
    skewed_laws = {
        "lognormal(1, 0.6) HD95-like": (lambda size: rng.lognormal(1.0, 0.6, size), float(np.exp(1.18))),
        "lognormal(1, 1.0) long tail": (lambda size: rng.lognormal(1.0, 1.0, size), float(np.exp(1.5))),
        "gamma(2, 1.5) + 10% at 20-60 mm": (_capped_distances(rng), 0.9 * 3.0 + 0.1 * 40.0),
    }
    print("skewed metrics: t against bootstrap-t (the rule for skewed metrics) and expanded BCa")
    print(
        f"{'data':32s} {'N':>4s} {'t':>7s} {'boot_t':>7s} {'bca':>7s} {'t_too_low':>11s} {'bt_too_low':>12s}"
    )
    for law, (draw, true_mean) in skewed_laws.items():
        for n in (5, 10, 20, 30, 60):
            data = draw((n, simulations))
            t = mean_intervals(data, small_n_threshold=n + 1)
            skewed = mean_intervals(data, skewed=True, n_resamples=1000, seed=1)
            bca = mean_intervals(data, small_n_threshold=0, n_resamples=1000, seed=1)
            cells = [coverage(*bounds(intervals), true_mean) for intervals in (t, skewed, bca)]
            misses = [float(np.mean(bounds(intervals)[1] < true_mean)) for intervals in (t, skewed)]
            print(
                f"{law:32s} {n:4d} {cells[0]:7.3f} {cells[1]:7.3f} {cells[2]:7.3f} {misses[0]:11.3f} {misses[1]:12.3f}"
            )
    print("5 structures per patient (patient SD 0.08, structure SD 0.04), mean 0.8")
    print(f"{'patients':>8s} {'cluster':>8s} {'rows_as_patients':>16s}")
    for n_patients in (15, 40):
        effect = rng.normal(0.0, 0.08, size=(n_patients, 1, simulations))
        data = (0.8 + effect + rng.normal(0.0, 0.04, size=(n_patients, 5, simulations))).reshape(
            -1, simulations
        )
        ids = np.repeat(np.arange(n_patients), 5)
        clustered = coverage(*bounds(mean_intervals(data, patient_ids=ids, n_resamples=1000, seed=1)), 0.8)
        independent = coverage(*bounds(mean_intervals(data, n_resamples=1000, seed=1)), 0.8)
        print(f"{n_patients:8d} {clustered:8.3f} {independent:16.3f}")


def _capped_distances(rng: np.random.Generator):
    """HD95-like values with a few cases far off: gamma(2, 1.5) mm, 10% uniform on 20-60 mm."""

    def draw(size):
        base = rng.gamma(2.0, 1.5, size)
        return np.where(rng.random(size) < 0.1, rng.uniform(20.0, 60.0, size), base)

    return draw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--peer-pairs", type=int, default=3)
    parser.add_argument("--coverage", action="store_true")
    parser.add_argument("--simulations", type=int, default=4000)
    args = parser.parse_args()
    if args.coverage:
        coverage_study(args.simulations)
        return
    rng = np.random.default_rng(0)
    shift = np.linspace(0.0, 0.02, args.models)
    values = np.clip(
        rng.beta(8, 2, size=(args.patients, 1)) + shift + rng.normal(0, 0.03, (args.patients, args.models)),
        0,
        1,
    )
    names = [f"model_{j}" for j in range(args.models)]
    options = {"n_resamples": args.resamples, "seed": 0}
    n_pairs = args.models * (args.models - 1) // 2
    peer_pairs = list(itertools.combinations(range(args.models), 2))[: args.peer_pairs]

    def scipy_bca() -> None:
        for column in values.T:
            scipy.stats.bootstrap(
                (column,), np.mean, method="BCa", n_resamples=args.resamples, vectorized=True, rng=0
            )

    def scipy_median() -> None:
        for column in values.T:
            scipy.stats.bootstrap(
                (column,), np.median, method="percentile", n_resamples=args.resamples, vectorized=True, rng=0
            )

    def scipy_permutations() -> None:
        for a, b in peer_pairs:
            scipy.stats.permutation_test(
                (values[:, a], values[:, b]),
                lambda x, y, axis: np.mean(x - y, axis=axis),
                permutation_type="samples",
                n_resamples=args.resamples,
                vectorized=True,
                rng=0,
            )

    rows = [
        (
            "BCa mean CIs, all models",
            best_of(args.repeats, lambda: mean_intervals(values, **options)),
            best_of(args.repeats, scipy_bca),
            "scipy.stats.bootstrap BCa per model",
        ),
        (
            "percentile median CIs, all models",
            best_of(args.repeats, lambda: median_intervals(values, **options)),
            best_of(args.repeats, scipy_median),
            "scipy.stats.bootstrap percentile per model",
        ),
        (
            "pairwise (CI + sign-flip + Wilcoxon + Holm), all pairs",
            best_of(args.repeats, lambda: compare_models(values, model_names=names, **options)),
            best_of(args.repeats, scipy_permutations) * n_pairs / len(peer_pairs),
            f"scipy.stats.permutation_test, {len(peer_pairs)} pairs timed, scaled to {n_pairs}",
        ),
    ]
    full = best_of(
        args.repeats, lambda: analyze_metric(values, model_names=names, equivalence_margin=0.01, **options)
    )
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()} "
        f"numpy {np.__version__} scipy {scipy.__version__}"
    )
    print(
        f"case: {args.models} models x {args.patients} patients x {args.resamples} resamples, best of {args.repeats}"
    )
    print(f"{'task':58s} {'ours_s':>8s} {'peer_s':>8s} {'speedup':>8s}  peer")
    for task, ours, peer, peer_name in rows:
        print(f"{task:58s} {ours:8.2f} {peer:8.2f} {peer / ours:8.1f}x  {peer_name}")
    print(
        f"{'analyze_metric (everything, shared resamples)':58s} {full:8.2f} {'':>8s} {'':>8s}  "
        f"goal {GOAL_SECONDS:.0f} s: goal_ratio {full / GOAL_SECONDS:.2f}"
    )


if __name__ == "__main__":
    main()
