"""Statistics for comparing segmentation models: intervals, paired tests, rankings and power.

Input: one (structure, metric) family as a value table ``(n_rows, n_models)`` (one column per model, the same
rows for every model) and optional ``patient_ids`` (one per row). Without ids each row is one patient; with
ids, rows sharing a patient (several cases, structures or lesions) are resampled together. Every bootstrap
resamples whole patients with one index matrix shared by all models (paired); ``resample_patients`` makes
that matrix so the batch layer can reuse it across structures and metrics. Defaults: level 0.95,
B = 10,000, seed 0 (recorded in every result). Every result is a frozen dataclass with ``as_dict()``.

- ``mean_interval(s)``: t interval below ``SMALL_N_THRESHOLD`` (30) patients, patient-cluster BCa above;
  bootstrap-t for skewed metrics (``skewed=True``: HD95, ASSD) at every N.
- ``median_intervals``: percentile bootstrap. ``rate_interval``: Wilson (statsmodels).
- ``compare_models`` (``family_tests`` + ``holm_decision`` for multiplicity across families): every pair
  decided by the primary ``test`` (``permutation``: sign-flip test of the mean difference, exact up to 2^20
  sign vectors; ``wilcoxon``: signed-rank test of the Hodges-Lehmann shift), with the interval from
  inverting that test at the pair's Holm level, so verdict and interval cannot disagree; the other test,
  and TOST as a labelled sensitivity analysis.
- ``rank_models``: aggregate-then-rank (mean or median) with P(rank 1), mean rank, rank interval, Kendall tau
  stability and tied leaders (rank interval contains 1). ``ranking_sensitivity``: the other schemes.
- ``leading_pair_power``: smallest detectable difference at N and N for 80% power (statsmodels TTestPower,
  both solves checked).
- ``analyze_metric``: all of the above on shared resamples, as one ``MetricAnalysis``.
Missing cells (NaN) are allowed with ``allow_missing=True``: each model, and each pair, uses its own rows.
``higher_is_better`` (Dice: True, HD95: False) orients every ranking and "better" verdict.
"""

from .analysis import analyze_metric
from .intervals import (
    DEFAULT_LEVEL,
    SMALL_N_THRESHOLD,
    mean_interval,
    mean_intervals,
    mean_method,
    median_intervals,
    rate_interval,
    rate_intervals,
)
from .multiplicity import MULTIPLICITY_SCOPES, HolmDecision, benjamini_hochberg, holm, holm_decision
from .pairwise import PRIMARY_TESTS, FamilyTests, compare_models, family_tests
from .power import leading_pair_power
from .ranking import RANK_STATISTICS, RANKING_SCHEMES, rank_models, ranking_sensitivity
from .records import (
    Equivalence,
    Interval,
    MetricAnalysis,
    ModelRank,
    PairwiseComparison,
    PairwiseSensitivity,
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
    "MULTIPLICITY_SCOPES",
    "PRIMARY_TESTS",
    "RANKING_SCHEMES",
    "RANK_STATISTICS",
    "SMALL_N_THRESHOLD",
    "Equivalence",
    "FamilyTests",
    "HolmDecision",
    "Interval",
    "MetricAnalysis",
    "ModelRank",
    "PairwiseComparison",
    "PairwiseSensitivity",
    "PatientResamples",
    "PowerAnalysis",
    "Ranking",
    "RankingSensitivity",
    "SchemeRanking",
    "StatsInputError",
    "analyze_metric",
    "benjamini_hochberg",
    "compare_models",
    "family_tests",
    "holm",
    "holm_decision",
    "json_ready",
    "leading_pair_power",
    "mean_interval",
    "mean_intervals",
    "mean_method",
    "median_intervals",
    "rank_models",
    "ranking_sensitivity",
    "rate_interval",
    "rate_intervals",
    "resample_patients",
]
