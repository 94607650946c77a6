"""Statistics for comparing segmentation models: intervals, paired tests, rankings and power.

Input: one (structure, metric) family as a value table ``(n_rows, n_models)`` (one column per model, the same
rows for every model) and optional ``patient_ids`` (one per row). Without ids each row is one patient; with
ids, rows sharing a patient (several cases, structures or lesions) are resampled together. Every bootstrap
resamples whole patients with one index matrix shared by all models (paired); ``resample_patients`` makes
that matrix so the batch layer can reuse it across structures and metrics. Defaults: level 0.95,
B = 10,000, seed 0 (recorded in every result). Every result is a frozen dataclass with ``as_dict()``.

- ``mean_interval(s)``: t interval below ``SMALL_N_THRESHOLD`` (30) patients, patient-cluster BCa above.
- ``median_intervals``: percentile bootstrap. ``rate_interval``: Wilson (statsmodels).
- ``compare_models``: all pairs, mean paired difference with CI, sign-flip permutation p, Wilcoxon
  signed-rank, Holm within the family, optional TOST within ``equivalence_margin``; verdicts keep
  ``not_separable`` apart from ``equivalent``.
- ``rank_models``: aggregate-then-rank with P(rank 1), mean rank, rank interval, Kendall tau stability and
  tied leaders. ``ranking_sensitivity``: mean, median, rank-then-aggregate, test-then-rank.
- ``leading_pair_power``: smallest detectable difference at N and N for 80% power (statsmodels TTestPower).
- ``analyze_metric``: all of the above on shared resamples, as one ``MetricAnalysis``.
``higher_is_better`` (Dice: True, HD95: False) orients every ranking and "better" verdict.
"""

from .analysis import analyze_metric
from .intervals import (
    DEFAULT_LEVEL,
    SMALL_N_THRESHOLD,
    mean_interval,
    mean_intervals,
    median_intervals,
    rate_interval,
)
from .pairwise import compare_models
from .power import leading_pair_power
from .ranking import RANKING_SCHEMES, rank_models, ranking_sensitivity
from .records import (
    Equivalence,
    Interval,
    MetricAnalysis,
    ModelRank,
    PairwiseComparison,
    PowerAnalysis,
    Ranking,
    RankingSensitivity,
    SchemeRanking,
    json_ready,
)
from .resampling import DEFAULT_RESAMPLES, DEFAULT_SEED, PatientResamples, resample_patients
from .validation import StatsInputError

__all__ = [
    "DEFAULT_LEVEL",
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "RANKING_SCHEMES",
    "SMALL_N_THRESHOLD",
    "Equivalence",
    "Interval",
    "MetricAnalysis",
    "ModelRank",
    "PairwiseComparison",
    "PatientResamples",
    "PowerAnalysis",
    "Ranking",
    "RankingSensitivity",
    "SchemeRanking",
    "StatsInputError",
    "analyze_metric",
    "compare_models",
    "json_ready",
    "leading_pair_power",
    "mean_interval",
    "mean_intervals",
    "median_intervals",
    "rank_models",
    "ranking_sensitivity",
    "rate_interval",
    "resample_patients",
]
