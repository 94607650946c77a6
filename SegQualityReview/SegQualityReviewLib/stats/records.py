"""Result records of the statistics package: frozen dataclasses that serialise to JSON-ready dicts."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np


def json_ready(value: Any) -> Any:
    """Plain Python types for ``json.dump``: numpy scalars unwrapped, NaN/inf as None, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: json_ready(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


class JsonRecord:
    """Mixin for result dataclasses: ``as_dict()`` gives the dict the batch layer writes to results.json."""

    def as_dict(self) -> dict[str, Any]:
        """This record (and the records inside it) as a JSON-ready dict."""
        return json_ready(self)


@dataclass(frozen=True)
class Interval(JsonRecord):
    """A point estimate with its confidence interval and how it was obtained.

    ``method``: ``t`` (Student t, cluster-robust when patients hold several rows), ``bca`` (bias-corrected
    and accelerated patient bootstrap), ``bootstrap_t`` (studentized patient bootstrap, for skewed metrics),
    ``percentile`` (patient bootstrap), ``wilson`` (score interval for a rate), ``sign_flip_inversion``
    (the values of a paired mean difference the sign-flip permutation test keeps) or
    ``signed_rank_inversion`` (the shifts the Wilcoxon signed-rank test keeps: Hodges-Lehmann). ``n`` counts
    patients (clusters), or trials for a rate. ``n_resamples`` (bootstrap resamples or sign vectors) and
    ``seed`` are None for the analytic methods. An end that no test at that level can reject is infinite
    (``null`` in JSON).
    """

    estimate: float
    low: float
    high: float
    level: float
    method: str
    n: int
    n_resamples: Optional[int] = None
    seed: Optional[int] = None


@dataclass(frozen=True)
class Equivalence(JsonRecord):
    """TOST equivalence of two models within ``±margin`` (paired, on patient-level values; a sensitivity view).

    ``low``/``high`` bound the mean difference at ``level`` = 1 - 2 alpha, the interval TOST is equivalent to;
    ``equivalent`` is True when both one-sided tests reject at alpha (``p_value`` < alpha).
    """

    margin: float
    p_value: float
    low: float
    high: float
    level: float
    equivalent: bool


@dataclass(frozen=True)
class PairwiseSensitivity(JsonRecord):
    """The analyses that do not decide the verdict, shown beside it (labelled as sensitivity analyses).

    Both tests' p-values, each Holm-adjusted within the (structure, metric) family, and TOST within the
    margin. No second interval: an interval that does not come from the verdict's procedure is exactly what
    would contradict it.
    """

    p_permutation: float
    p_permutation_holm: float
    p_wilcoxon: float
    p_wilcoxon_holm: float
    tost: Optional[Equivalence]


@dataclass(frozen=True)
class PairwiseComparison(JsonRecord):
    """One paired comparison of ``model_a`` against ``model_b``, decided by the pre-specified primary test.

    ``difference`` is the primary test's estimate (mean of a - b for ``permutation``, the Hodges-Lehmann
    shift for ``wilcoxon``) with the interval obtained by inverting that same test at ``difference.level``
    = 1 - the alpha Holm assigns this pair within its ``multiplicity`` scope (``n_tests`` hypotheses), so the
    interval excludes 0 exactly when the pair is ``significant``. ``p_value`` is the raw two-sided p,
    ``p_adjusted`` Holm's; ``p_mc_error`` the Monte Carlo standard error of a sampled permutation p (None
    when exact or for Wilcoxon). ``verdict``: ``equivalent`` (the interval lies inside ±margin), else
    ``a_better`` / ``b_better`` (significant, direction from ``higher_is_better``), else ``not_separable``
    (absence of evidence, never equivalence). ``sensitivity`` is None when it was not asked for.
    """

    model_a: str
    model_b: str
    n: int
    test: str
    difference: Interval
    p_value: float
    p_adjusted: float
    multiplicity: str
    n_tests: int
    p_mc_error: Optional[float]
    exact: bool
    significant: bool
    better: Optional[str]
    equivalence_margin: Optional[float]
    verdict: str
    sensitivity: Optional[PairwiseSensitivity]


@dataclass(frozen=True)
class ModelRank(JsonRecord):
    """One model's place in an aggregate-then-rank ranking and its bootstrap uncertainty (rank 1 = best).

    ``rank_distribution[r - 1]`` is the share of bootstrap resamples that rank the model r-th (the blobs of
    challengeR's blob plot).
    """

    model: str
    aggregate: float
    rank: int
    mean_rank: float
    rank_low: int
    rank_high: int
    p_first: float
    tied_leader: bool
    rank_distribution: tuple[float, ...]


@dataclass(frozen=True)
class Ranking(JsonRecord):
    """Aggregate-then-rank ranking with bootstrap rank uncertainty, Kendall tau stability and tied leaders.

    ``scheme`` is the aggregate (``mean`` or ``median``). ``models`` are ordered by observed rank.
    ``kendall_tau_*`` summarise tau-b between the observed ranking and each bootstrap ranking.
    ``tied_leaders``: every model whose rank interval at ``level`` contains 1 (equivalently P(rank 1) >=
    (1 - level) / 2), so the set always agrees with the rank intervals shown beside it.
    """

    scheme: str
    models: tuple[ModelRank, ...]
    tied_leaders: tuple[str, ...]
    kendall_tau_mean: float
    kendall_tau_low: float
    kendall_tau_high: float
    higher_is_better: bool
    level: float
    n: int
    n_resamples: int
    seed: int


@dataclass(frozen=True)
class SchemeRanking(JsonRecord):
    """The ranks one ranking scheme gives (in the order of ``models``) and its Kendall tau-b to the primary one."""

    scheme: str
    models: tuple[str, ...]
    aggregates: tuple[float, ...]
    ranks: tuple[int, ...]
    kendall_tau_vs_primary: float


@dataclass(frozen=True)
class RankingSensitivity(JsonRecord):
    """Rankings under ``mean``, ``median``, ``rank_then_aggregate`` and ``test_then_rank`` side by side,
    compared with the ``primary`` scheme (the pre-specified statistic)."""

    schemes: tuple[SchemeRanking, ...]
    primary: str
    higher_is_better: bool
    level: float


@dataclass(frozen=True)
class PowerAnalysis(JsonRecord):
    """Power for the leading pair: the smallest detectable difference now, and N for the target power.

    Paired two-sided t-test on patient-level differences (statsmodels ``TTestPower``); ``n_for_power`` is
    None when the observed difference is zero (no finite N detects it).
    """

    model_a: str
    model_b: str
    n: int
    mean_difference: float
    sd_difference: float
    detectable_difference: float
    n_for_power: Optional[int]
    alpha: float
    power: float


@dataclass(frozen=True)
class MetricAnalysis(JsonRecord):
    """Everything the statistics package says about one (structure, metric) family of models."""

    models: tuple[str, ...]
    higher_is_better: bool
    means: tuple[Interval, ...]
    medians: tuple[Interval, ...]
    pairwise: tuple[PairwiseComparison, ...]
    ranking: Ranking
    sensitivity: RankingSensitivity
    power: PowerAnalysis
