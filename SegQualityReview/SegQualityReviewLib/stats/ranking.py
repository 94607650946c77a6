"""Aggregate-then-rank model ranking with bootstrap rank uncertainty, and its sensitivity to the ranking scheme."""

from __future__ import annotations

import itertools
from typing import Optional, Sequence

import numpy as np
from scipy import stats

from .intervals import DEFAULT_LEVEL, bootstrap_means, resamples_for
from .pairwise import grouped_differences, holm, sign_flip_p_values
from .records import ModelRank, Ranking, RankingSensitivity, SchemeRanking
from .resampling import DEFAULT_RESAMPLES, DEFAULT_SEED, PatientResamples
from .validation import PatientGroups, check_level, check_model_names, group_by_patient

RANKING_SCHEMES = ("mean", "median", "rank_then_aggregate", "test_then_rank")


def rank_models(
    values: np.ndarray,
    *,
    model_names: Sequence[str],
    higher_is_better: bool = True,
    level: float = DEFAULT_LEVEL,
    patient_ids: Optional[Sequence] = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    resamples: Optional[PatientResamples] = None,
) -> Ranking:
    """Rank the columns of ``values`` (n_rows, n_models) by their mean, with bootstrap rank uncertainty.

    Each patient resample is ranked again (ties share the best rank): P(rank 1), mean rank and the rank
    interval at ``level`` come from those ranks, Kendall tau-b stability from comparing each with the observed
    ranking. Tied leaders: the leader plus every model whose sign-flip test against it is not significant
    after Holm over all pairs of the family (exactly as in ``compare_models`` with the same seed).
    """
    level = check_level(level)
    groups = group_by_patient(values, patient_ids, column_names=model_names)
    names = check_model_names(model_names, groups.values.shape[1])
    resamples = resamples_for(groups.n_patients, n_resamples=n_resamples, seed=seed, resamples=resamples)
    direction = 1.0 if higher_is_better else -1.0
    observed = groups.mean
    observed_ranks = ranks_of(direction * observed)
    boot = direction * bootstrap_means(groups, resamples)
    boot_ranks = ranks_of(boot)
    tail = (1.0 - level) / 2.0
    rank_low = np.quantile(boot_ranks, tail, axis=0, method="inverted_cdf")
    rank_high = np.quantile(boot_ranks, 1.0 - tail, axis=0, method="inverted_cdf")
    taus = kendall_tau_b_rows(boot, direction * observed)
    leaders = tied_leaders(groups, direction * observed, level=level, resamples=resamples)
    defined = taus[np.isfinite(taus)]
    # When every model ties (observed or in every resample) no ordering exists to be stable: NaN, null in JSON.
    tau_mean, tau_low, tau_high = (
        (float(defined.mean()), float(np.quantile(defined, tail)), float(np.quantile(defined, 1.0 - tail)))
        if defined.size
        else (float("nan"),) * 3
    )
    order = np.lexsort((np.arange(len(names)), observed_ranks))
    models = tuple(
        ModelRank(
            model=names[j],
            aggregate=float(observed[j]),
            rank=int(observed_ranks[j]),
            mean_rank=float(boot_ranks[:, j].mean()),
            rank_low=int(rank_low[j]),
            rank_high=int(rank_high[j]),
            p_first=float((boot_ranks[:, j] == 1).mean()),
            tied_leader=bool(leaders[j]),
        )
        for j in order
    )
    return Ranking(
        scheme="mean",
        models=models,
        tied_leaders=tuple(names[j] for j in order if leaders[j]),
        kendall_tau_mean=tau_mean,
        kendall_tau_low=tau_low,
        kendall_tau_high=tau_high,
        higher_is_better=bool(higher_is_better),
        level=level,
        n=groups.n_patients,
        n_resamples=resamples.n_resamples,
        seed=resamples.seed,
    )


def ranking_sensitivity(
    values: np.ndarray,
    *,
    model_names: Sequence[str],
    higher_is_better: bool = True,
    level: float = DEFAULT_LEVEL,
    patient_ids: Optional[Sequence] = None,
) -> RankingSensitivity:
    """The ranking under four schemes, each with its Kendall tau-b to the primary (mean) ranking.

    ``mean`` and ``median`` aggregate over rows then rank; ``rank_then_aggregate`` ranks the models within
    each patient and averages the ranks; ``test_then_rank`` counts, per model, the models it beats in a
    one-sided Wilcoxon signed-rank test at 1 - ``level`` without adjustment (challengeR's default) and ranks
    by that count. Rank-based schemes use patient-level means.
    """
    level = check_level(level)
    groups = group_by_patient(values, patient_ids, column_names=model_names)
    names = check_model_names(model_names, groups.values.shape[1])
    direction = 1.0 if higher_is_better else -1.0
    patient_scores = direction * groups.patient_means
    aggregates = {
        "mean": groups.mean,
        "median": np.median(groups.values, axis=0),
        "rank_then_aggregate": stats.rankdata(-patient_scores, axis=1).mean(axis=0),
        "test_then_rank": significant_wins(patient_scores, alpha=1.0 - level),
    }
    # Larger is better for each scheme's score: oriented aggregates, fewer average ranks, more wins.
    scores = {
        "mean": direction * aggregates["mean"],
        "median": direction * aggregates["median"],
        "rank_then_aggregate": -aggregates["rank_then_aggregate"],
        "test_then_rank": aggregates["test_then_rank"],
    }
    primary = ranks_of(scores["mean"])
    schemes = []
    for scheme in RANKING_SCHEMES:
        ranks = ranks_of(scores[scheme])
        tau = stats.kendalltau(primary, ranks).statistic
        schemes.append(
            SchemeRanking(
                scheme=scheme,
                models=names,
                aggregates=tuple(float(value) for value in aggregates[scheme]),
                ranks=tuple(int(rank) for rank in ranks),
                kendall_tau_vs_mean=float(tau),
            )
        )
    return RankingSensitivity(schemes=tuple(schemes), higher_is_better=bool(higher_is_better), level=level)


def ranks_of(scores: np.ndarray) -> np.ndarray:
    """Ranks along the last axis, 1 for the largest score, ties sharing the best rank (``min``)."""
    return stats.rankdata(-scores, axis=-1, method="min").astype(np.int64)


def kendall_tau_b_rows(rows: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Kendall tau-b between ``reference`` (k,) and each row of ``rows`` (B, k), vectorised over rows.

    The same statistic as ``scipy.stats.kendalltau`` (variant 'b'), computed for all rows at once:
    (concordant - discordant) / sqrt((pairs - ties in x) (pairs - ties in y)); NaN where a ranking is all ties.
    """
    first, second = (np.array(side) for side in zip(*itertools.combinations(range(reference.size), 2)))
    reference_signs = np.sign(reference[first] - reference[second])
    row_signs = np.sign(rows[:, first] - rows[:, second])
    n_pairs = first.size
    untied_reference = n_pairs - (reference_signs == 0).sum()
    untied_rows = n_pairs - (row_signs == 0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (row_signs @ reference_signs) / np.sqrt(untied_reference * untied_rows)


def significant_wins(patient_scores: np.ndarray, *, alpha: float) -> np.ndarray:
    """Per model, how many other models it beats in a one-sided Wilcoxon signed-rank test at ``alpha``."""
    n_models = patient_scores.shape[1]
    wins = np.zeros(n_models)
    for a, b in itertools.permutations(range(n_models), 2):
        difference = patient_scores[:, a] - patient_scores[:, b]
        if np.any(difference != 0) and stats.wilcoxon(difference, alternative="greater").pvalue < alpha:
            wins[a] += 1
    return wins


def tied_leaders(
    groups: PatientGroups, scores: np.ndarray, *, level: float, resamples: PatientResamples
) -> np.ndarray:
    """Boolean per model: the leader, and the models not significantly different from it.

    The p-values are the sign-flip ones of ``compare_models`` with Holm over ALL pairs of the family (same
    seed, same sign vectors), so the tied set always agrees with the pairwise table of the same analysis.
    """
    leader = int(np.argmax(scores))
    pairs = list(itertools.combinations(range(scores.size), 2))
    differences = grouped_differences(groups, pairs)
    p_values = sign_flip_p_values(differences, n_resamples=resamples.n_resamples, seed=resamples.seed)[0]
    adjusted = holm(p_values)
    tied = np.zeros(scores.size, dtype=bool)
    tied[leader] = True
    for k, (a, b) in enumerate(pairs):
        if leader in (a, b) and adjusted[k] >= 1.0 - level:
            tied[b if a == leader else a] = True
    return tied
