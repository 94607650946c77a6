"""Subgroups by metadata: does a model's score differ between groups, and does the model difference hold in each?

Per metadata column of the case table (site, scanner, sex, age, ...):

- a column with 2 to ``MAX_CATEGORIES`` distinct values is categorical; a numeric column with more is cut
  into ``QUANTILE_BINS`` quantile bins (``Q1 [23, 41]``, ..., said so in the report); any other column is
  an identifier and left out, with a note. Blank entries belong to no group.
- per (structure, metric, model): Kruskal-Wallis across the groups, then every pair of groups by
  Mann-Whitney U with Benjamini-Hochberg over those pairs (Touchstone's protocol; scipy, statsmodels'
  definitions). The unit is the patient: a patient's cases within one group are averaged first.
- per group: each model's mean (a point estimate: the intervals per model are in the structure's own
  section) and the difference of the family's leading pair (its observed rank 1 and 2) with the primary
  test inverted at the nominal level, unadjusted for the number of groups (a description of where the
  overall verdict holds, not a new verdict).
Only groups holding cases appear: no empty slices.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any, Optional

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from .. import stats
from .config import AnalysisSettings
from .families import family_rows
from .long_table import metadata_columns
from .value_ranges import ValueRange, clip_interval, difference_range

MAX_CATEGORIES = 12
QUANTILE_BINS = 4


def subgroup_columns(table: pd.DataFrame) -> tuple[list[dict[str, Any]], list[str]]:
    """The grouping of every usable metadata column ({column, kind, labels: case_id -> group}) and the
    notes on the columns left out."""
    cases = table.drop_duplicates("case_id").set_index("case_id")
    columns, notes = [], []
    for column in metadata_columns(table):
        raw = cases[column].astype(str).str.strip()
        present = raw[raw != ""]
        distinct = present.nunique()
        numeric = pd.to_numeric(present, errors="coerce")
        if 2 <= distinct <= MAX_CATEGORIES:
            order = list(dict.fromkeys(sorted(present.unique(), key=_natural_key)))
            columns.append({"column": column, "kind": "categorical", "groups": order, "labels": present})
        elif distinct > MAX_CATEGORIES and numeric.notna().all():
            bins = pd.qcut(numeric, q=QUANTILE_BINS, duplicates="drop")
            labels = [
                f"Q{index + 1} [{_short(interval.left if index else numeric.min())}, {_short(interval.right)}]"
                for index, interval in enumerate(bins.cat.categories)
            ]
            named = pd.Series([labels[code] for code in bins.cat.codes], index=present.index, dtype=object)
            columns.append({"column": column, "kind": "quantile_bins", "groups": labels, "labels": named})
        elif distinct > MAX_CATEGORIES:
            notes.append(
                f"'{column}' has {distinct} distinct non-numeric values: an identifier, not a subgroup"
            )
        else:
            notes.append(f"'{column}' has {distinct} distinct value(s): nothing to compare")
    return columns, notes


def subgroup_analysis(
    table: pd.DataFrame,
    *,
    families: list[dict[str, Any]],
    settings: AnalysisSettings,
    value_ranges: dict[str, Optional[ValueRange]],
) -> dict[str, Any]:
    """The ``analysis.subgroups`` record: per usable column its tests and per-group slices."""
    columns, notes = subgroup_columns(table)
    by_family = dict(tuple(table.groupby(["structure", "metric"], sort=False)))
    entries = []
    for grouping in columns:
        entry = {
            "column": grouping["column"],
            "kind": grouping["kind"],
            "groups": grouping["groups"],
            "tests": [],
            "slices": [],
        }
        for family in families:
            key = (family["structure"], family["metric"])
            if key not in by_family or not family["models"]:
                continue
            rows = by_family[key]
            rows = rows.assign(
                value=family_rows(rows, higher_is_better=family["higher_is_better"]),
                group=rows["case_id"].map(grouping["labels"]),
            )
            rows = rows[rows["group"].notna() & rows["model"].isin(family["models"])]
            entry["tests"].extend(_group_tests(rows, family, grouping["groups"]))
            entry["slices"].extend(
                _group_slices(rows, family, grouping["groups"], settings, value_ranges.get(family["metric"]))
            )
        entries.append(entry)
    return {
        "columns": entries,
        "notes": notes,
        "max_categories": MAX_CATEGORIES,
        "quantile_bins": QUANTILE_BINS,
    }


def _group_tests(rows: pd.DataFrame, family: dict[str, Any], groups: list[str]) -> list[dict[str, Any]]:
    """Kruskal-Wallis then BH-adjusted pairwise Mann-Whitney per model, on patient means within groups.

    One scipy call per test covers every model whose groups are complete (the usual case); a model with
    missing patients in some group is tested on its own.
    """
    models = family["models"]
    patient_means = (
        rows.groupby(["group", "patient_id", "model"], sort=False)["value"].mean().unstack("model")
    )
    patient_means = patient_means.reindex(columns=models)
    present_groups = set(patient_means.index.get_level_values(0))
    samples = {
        group: patient_means.loc[group].to_numpy(dtype=float) for group in groups if group in present_groups
    }
    if len(samples) < 2:
        return []
    names = list(samples)
    pairs = list(itertools.combinations(range(len(names)), 2))
    complete = np.all([np.isfinite(values).all(axis=0) for values in samples.values()], axis=0)
    kruskal = np.full((2, len(models)), np.nan)
    mann_whitney = np.full((len(pairs), len(models)), np.nan)
    if complete.any():
        arrays = [values[:, complete] for values in samples.values()]
        with np.errstate(invalid="ignore", divide="ignore"):
            test = scipy_stats.kruskal(*arrays, axis=0)
        kruskal[:, complete] = test.statistic, test.pvalue
        for k, (a, b) in enumerate(pairs):
            mann_whitney[k, complete] = scipy_stats.mannwhitneyu(
                arrays[a], arrays[b], alternative="two-sided", axis=0
            ).pvalue
    incomplete = np.flatnonzero(~complete)
    if incomplete.size:
        # nan_policy="omit": each model on its own patients, still one scipy call per test.
        arrays = [values[:, incomplete] for values in samples.values()]
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            test = scipy_stats.kruskal(*arrays, axis=0, nan_policy="omit")
            kruskal[:, incomplete] = test.statistic, test.pvalue
            for k, (a, b) in enumerate(pairs):
                mann_whitney[k, incomplete] = scipy_stats.mannwhitneyu(
                    arrays[a], arrays[b], alternative="two-sided", axis=0, nan_policy="omit"
                ).pvalue
    results = []
    for j, model in enumerate(models):
        sizes = {name: int(np.isfinite(samples[name][:, j]).sum()) for name in names}
        if sum(size > 0 for size in sizes.values()) < 2:
            continue
        # Every value equal across the groups: scipy's H is undefined, and nothing differs.
        h, p = (0.0, 1.0) if np.isnan(kruskal[1, j]) else (float(kruskal[0, j]), float(kruskal[1, j]))
        tested = [k for k in range(len(pairs)) if sizes[names[pairs[k][0]]] and sizes[names[pairs[k][1]]]]
        raw = np.nan_to_num(mann_whitney[tested, j], nan=1.0)
        adjusted = stats.benjamini_hochberg(raw)
        results.append(
            {
                "structure": family["structure"],
                "metric": family["metric"],
                "model": model,
                "n_patients": {name: size for name, size in sizes.items() if size},
                "kruskal_h": h,
                "kruskal_p": p,
                "pairwise": [
                    {
                        "group_a": names[pairs[k][0]],
                        "group_b": names[pairs[k][1]],
                        "p": float(q),
                        "p_bh": float(r),
                    }
                    for k, q, r in zip(tested, raw, adjusted)
                ],
            }
        )
    return results


def _group_slices(
    rows: pd.DataFrame,
    family: dict[str, Any],
    groups: list[str],
    settings: AnalysisSettings,
    value_range: Optional[ValueRange],
) -> list[dict[str, Any]]:
    """Per group: each model's mean and cases there, and the leading pair's difference with its interval."""
    ranking = family.get("ranking") or {}
    leading = [entry["model"] for entry in ranking.get("models", [])][:2]
    wide = rows.pivot(index="case_id", columns="model", values="value").reindex(columns=family["models"])
    wide = wide.dropna(how="all")
    if wide.empty:
        return []
    cases = rows.drop_duplicates("case_id").set_index("case_id")
    patients = cases["patient_id"].reindex(wide.index)
    labels = cases["group"].reindex(wide.index).to_numpy()
    slices = []
    for group in groups:
        inside = labels == group
        if not inside.any():
            continue
        mine = wide[inside]
        slices.append(
            {
                "group": group,
                "structure": family["structure"],
                "metric": family["metric"],
                "n_cases": int(inside.sum()),
                "n_patients": int(patients[inside].nunique()),
                "estimates": [
                    {
                        "model": model,
                        "mean": float(mine[model].mean()),
                        "n_cases": int(mine[model].notna().sum()),
                    }
                    for model in family["models"]
                    if mine[model].notna().any()
                ],
                "leading_pair": _leading_pair(mine, patients[inside], leading, family, settings, value_range)
                if len(leading) == 2
                else None,
            }
        )
    return slices


def _leading_pair(
    wide: pd.DataFrame,
    patients: pd.Series,
    leading: list[str],
    family: dict[str, Any],
    settings: AnalysisSettings,
    value_range: Optional[ValueRange],
) -> Optional[dict[str, Any]]:
    pair = wide[leading].dropna(how="any")
    pair_patients = patients.reindex(pair.index)
    if pair_patients.nunique() < 2:
        return None
    (comparison,) = stats.compare_models(
        pair.to_numpy(dtype=float),
        model_names=leading,
        higher_is_better=family["higher_is_better"],
        level=settings.confidence_level,
        test=settings.primary_test,
        patient_ids=pair_patients.to_numpy(),
        n_resamples=settings.n_resamples,
        seed=settings.seed,
        skewed=family["skewed"],
        sensitivity=False,
    )
    record = comparison.as_dict()
    return {
        "model_a": record["model_a"],
        "model_b": record["model_b"],
        "difference": clip_interval(record["difference"], difference_range(value_range)),
        "p_value": record["p_value"],
    }


def _natural_key(text: str) -> tuple:
    number = pd.to_numeric(pd.Series([text]), errors="coerce").iloc[0]
    return (0, float(number), "") if pd.notna(number) else (1, 0.0, text)


def _short(value: float) -> str:
    return f"{value:.4g}"
