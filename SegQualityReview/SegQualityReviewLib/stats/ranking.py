"""Aggregate-then-rank model ranking with bootstrap rank uncertainty, and its sensitivity to the ranking scheme."""

from __future__ import annotations

import itertools
from typing import Optional, Sequence

import numpy as np
from scipy import stats

from .bootstrap import bootstrap_means, bootstrap_medians
from .intervals import DEFAULT_LEVEL, resamples_for
from .pairwise import wilcoxon_p_values
from .records import ModelRank, Ranking, RankingSensitivity, SchemeRanking
from .resampling import DEFAULT_RESAMPLES, DEFAULT_SEED, PatientResamples
from .validation import StatsInputError, check_level, check_model_names, group_by_patient

RANKING_SCHEMES = ("mean", "median", "rank_then_aggregate", "test_then_rank")
RANK_STATISTICS = ("mean", "median")


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
    statistic: str = "mean",
    allow_missing: bool = False,
) -> Ranking:
    """Rank the columns of ``values`` (n_rows, n_models) by their mean or median, with bootstrap uncertainty.

    Each patient resample is ranked again (ties share the best rank): P(rank 1), mean rank and the rank
    interval at ``level`` (percentiles of the bootstrap ranks) come from those ranks, Kendall tau-b
    stability from comparing each with the observed ranking. Tied leaders are the models whose rank
    interval contains 1. With ``allow_missing`` each model's aggregate uses its own rows of the resampled
    patients; a resample that holds none of a model's rows ranks it last.
    """
    level = check_level(level)
    if statistic not in RANK_STATISTICS:
        raise StatsInputError(f"statistic '{statistic}': expected one of {', '.join(RANK_STATISTICS)}")
    groups = group_by_patient(values, patient_ids, column_names=model_names, allow_missing=allow_missing)
    names = check_model_names(model_names, groups.values.shape[1])
    resamples = resamples_for(groups.n_patients, n_resamples=n_resamples, seed=seed, resamples=resamples)
    direction = 1.0 if higher_is_better else -1.0
    if statistic == "mean":
        observed, boot = groups.mean, bootstrap_means(groups, resamples)
    else:
        observed, boot = np.nanmedian(groups.values, axis=0), bootstrap_medians(groups, resamples)
    observed_ranks = ranks_of(direction * observed)
    boot = np.where(np.isfinite(boot), direction * boot, -np.inf)
    boot_ranks = ranks_of(boot)
    tail = (1.0 - level) / 2.0
    rank_low = np.quantile(boot_ranks, tail, axis=0, method="inverted_cdf")
    rank_high = np.quantile(boot_ranks, 1.0 - tail, axis=0, method="inverted_cdf")
    taus = kendall_tau_b_rows(boot, direction * observed)
    leaders = rank_low == 1
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
            rank_distribution=tuple(
                float(share)
                for share in np.bincount(boot_ranks[:, j] - 1, minlength=len(names)) / len(boot_ranks)
            ),
        )
        for j in order
    )
    return Ranking(
        scheme=statistic,
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
    primary: str = "mean",
    allow_missing: bool = False,
) -> RankingSensitivity:
    """The ranking under four schemes, each with its Kendall tau-b to the ``primary`` scheme's ranking.

    ``mean`` and ``median`` aggregate over rows then rank; ``rank_then_aggregate`` ranks the models within
    each patient (among those with a value) and averages the ranks; ``test_then_rank`` counts, per model, the
    models it beats in a one-sided Wilcoxon signed-rank test at 1 - ``level`` without adjustment
    (challengeR's default) and ranks by that count. Rank-based schemes use patient-level means.
    """
    level = check_level(level)
    groups = group_by_patient(values, patient_ids, column_names=model_names, allow_missing=allow_missing)
    names = check_model_names(model_names, groups.values.shape[1])
    direction = 1.0 if higher_is_better else -1.0
    patient_scores = direction * groups.patient_means
    within_patient = stats.rankdata(np.where(np.isnan(patient_scores), np.inf, -patient_scores), axis=1)
    aggregates = {
        "mean": groups.mean,
        "median": np.nanmedian(groups.values, axis=0),
        "rank_then_aggregate": np.nanmean(np.where(np.isnan(patient_scores), np.nan, within_patient), axis=0),
        "test_then_rank": significant_wins(patient_scores, alpha=1.0 - level),
    }
    # Larger is better for each scheme's score: oriented aggregates, fewer average ranks, more wins.
    scores = {
        "mean": direction * aggregates["mean"],
        "median": direction * aggregates["median"],
        "rank_then_aggregate": -aggregates["rank_then_aggregate"],
        "test_then_rank": aggregates["test_then_rank"],
    }
    reference = ranks_of(scores[primary])
    schemes = []
    for scheme in RANKING_SCHEMES:
        ranks = ranks_of(scores[scheme])
        tau = stats.kendalltau(reference, ranks).statistic
        schemes.append(
            SchemeRanking(
                scheme=scheme,
                models=names,
                aggregates=tuple(float(value) for value in aggregates[scheme]),
                ranks=tuple(int(rank) for rank in ranks),
                kendall_tau_vs_primary=float(tau),
            )
        )
    return RankingSensitivity(
        schemes=tuple(schemes), primary=primary, higher_is_better=bool(higher_is_better), level=level
    )


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
    """Per model, how many other models it beats in a one-sided Wilcoxon signed-rank test at ``alpha``.

    Each pair a < b is tested once: a beats b when p(a > b) < alpha, b beats a when p(b > a) < alpha. With
    more than 50 complete patients scipy uses the normal approximation, where p(b > a) = 1 - p(a > b)
    exactly; below, the exact test is run in both directions. A pair with no nonzero difference wins
    nothing.
    """
    n_models = patient_scores.shape[1]
    pairs = list(itertools.combinations(range(n_models), 2))
    differences = np.stack([patient_scores[:, a] - patient_scores[:, b] for a, b in pairs], axis=1)
    greater = wilcoxon_p_values(differences, alternative="greater")
    if patient_scores.shape[0] > 50 and np.isfinite(differences).all():
        no_difference = ~np.any(differences != 0, axis=0)
        less = np.where(
            np.isnan(greater) | no_difference, np.where(no_difference, 1.0, np.nan), 1.0 - greater
        )
    else:
        less = wilcoxon_p_values(differences, alternative="less")
    wins = np.zeros(n_models)
    for (a, b), first, second in zip(pairs, np.nan_to_num(greater, nan=1.0), np.nan_to_num(less, nan=1.0)):
        wins[a] += first < alpha
        wins[b] += second < alpha
    return wins
