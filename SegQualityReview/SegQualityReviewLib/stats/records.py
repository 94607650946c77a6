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

    ``method`` is ``t`` (Student t, cluster-robust when patients hold several rows), ``bca`` (bias-corrected
    and accelerated patient bootstrap), ``percentile`` (patient bootstrap) or ``wilson`` (score interval for
    a rate). ``n`` counts patients (clusters), or trials for a rate. ``n_resamples`` and ``seed`` are None for
    the analytic methods.
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
    """TOST equivalence of two models within ``±margin`` (paired, on patient-level values).

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
class PairwiseComparison(JsonRecord):
    """One paired comparison of ``model_a`` against ``model_b`` within a (structure, metric) family.

    ``difference`` is the mean of (a - b) over patients with its interval; the p-values are two-sided, the
    ``*_holm`` ones adjusted by Holm within the family. ``better`` names the model that is significantly
    better (direction from ``higher_is_better``), else None. ``verdict`` is ``a_better``, ``b_better``,
    ``equivalent`` (TOST within the margin, even when a tiny difference is also significant) or
    ``not_separable`` (neither different nor shown equivalent: absence of evidence, not equivalence).
    """

    model_a: str
    model_b: str
    difference: Interval
    p_permutation: float
    p_permutation_holm: float
    p_wilcoxon: float
    p_wilcoxon_holm: float
    significant: bool
    better: Optional[str]
    equivalence: Optional[Equivalence]
    verdict: str
    n_permutations: int
    permutation_exact: bool


@dataclass(frozen=True)
class ModelRank(JsonRecord):
    """One model's place in an aggregate-then-rank ranking and its bootstrap uncertainty (rank 1 = best)."""

    model: str
    aggregate: float
    rank: int
    mean_rank: float
    rank_low: int
    rank_high: int
    p_first: float
    tied_leader: bool


@dataclass(frozen=True)
class Ranking(JsonRecord):
    """Aggregate-then-rank ranking with bootstrap rank uncertainty, Kendall tau stability and tied leaders.

    ``models`` are ordered by observed rank. ``kendall_tau_*`` summarise tau-b between the observed ranking
    and each bootstrap ranking. ``tied_leaders`` holds the leader and every model not significantly worse
    than it (sign-flip permutation, Holm over all pairs of the family, as in the pairwise table).
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
    """The ranks one ranking scheme gives (in the order of ``models``) and its Kendall tau-b to the mean scheme."""

    scheme: str
    models: tuple[str, ...]
    aggregates: tuple[float, ...]
    ranks: tuple[int, ...]
    kendall_tau_vs_mean: float


@dataclass(frozen=True)
class RankingSensitivity(JsonRecord):
    """Rankings under ``mean``, ``median``, ``rank_then_aggregate`` and ``test_then_rank`` side by side."""

    schemes: tuple[SchemeRanking, ...]
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
