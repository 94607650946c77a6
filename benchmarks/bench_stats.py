"""Speed of the statistics package against scipy.stats on the issue's size, in one run.

Case: 10 models x 1,000 patients of Dice-like values, B = 10,000 resamples (issue 3: the whole family in at
most 10 s on 2 CPU cores). Measured, best of ``--repeats``: our BCa mean intervals for all models against
``scipy.stats.bootstrap(method="BCa", vectorized=True)`` run per model; our percentile median intervals against
``scipy.stats.bootstrap(method="percentile")`` with ``np.median``; our sign-flip p-values for all pairs against
``scipy.stats.permutation_test(permutation_type="samples")`` on ``--peer-pairs`` pairs, scaled per pair to the
family (said so in the output); and the full ``analyze_metric`` against the 10 s goal.

Run: ``.venv/bin/python benchmarks/bench_stats.py [--models 10] [--patients 1000] [--resamples 10000]``
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--peer-pairs", type=int, default=3)
    args = parser.parse_args()
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
