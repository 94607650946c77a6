"""Subgroups: a between-group test per column (Kruskal-Wallis, then BH-adjusted Mann-Whitney), the model
difference within each group, continuous columns in quantile bins (and said so), no empty slices."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from statsmodels.stats.multitest import multipletests

from SegQualityReviewLib.batch import AnalysisSettings, analyze_table
from SegQualityReviewLib.batch.subgroups import subgroup_columns
from SegQualityReviewLib.batch.synthetic_scores import synthetic_score_table
from SegQualityReviewLib.stats import benjamini_hochberg


@pytest.fixture(scope="module")
def cohort():
    table = synthetic_score_table(
        n_models=3,
        n_cases=60,
        structures=("liver",),
        metrics=("dice",),
        missing_cases=0,
        absent_rate=0,
        seed=5,
    )
    table["status"] = "ok"
    # Site "east" is harder for everyone; "record" is an identifier; "scanner" has a single value.
    table.loc[table["site"] == "east", "value"] -= 0.05
    table["record"] = table["case_id"].str.replace("case", "rec")
    table["scanner"] = "x"
    return table


@pytest.fixture(scope="module")
def subgroups(cohort):
    return analyze_table(cohort, AnalysisSettings(metrics=("dice",), n_resamples=500))["subgroups"]


def column(subgroups, name):
    return next(entry for entry in subgroups["columns"] if entry["column"] == name)


def test_a_continuous_column_is_cut_into_quantile_bins_and_identifiers_are_left_out_with_a_note(
    cohort, subgroups
):
    age = column(subgroups, "age")
    assert age["kind"] == "quantile_bins" and len(age["groups"]) == 4
    assert all(label.startswith(f"Q{index + 1} [") for index, label in enumerate(age["groups"]))
    assert {entry["column"] for entry in subgroups["columns"]} == {"age", "sex", "site"}
    assert any("'record'" in note and "identifier" in note for note in subgroups["notes"])
    assert any("'scanner'" in note for note in subgroups["notes"])
    _, notes = subgroup_columns(cohort)
    assert notes == subgroups["notes"]


def test_kruskal_wallis_and_mann_whitney_with_benjamini_hochberg_match_scipy_and_statsmodels(
    cohort, subgroups
):
    site = column(subgroups, "site")
    test = next(t for t in site["tests"] if t["model"] == "model_A")
    mine = cohort[(cohort["model"] == "model_A")]
    groups = {name: mine.loc[mine["site"] == name, "value"].to_numpy() for name in site["groups"]}
    assert test["kruskal_p"] == pytest.approx(scipy.stats.kruskal(*groups.values()).pvalue)
    assert test["kruskal_p"] < 0.05  # east is harder
    raw = [
        scipy.stats.mannwhitneyu(groups[p["group_a"]], groups[p["group_b"]]).pvalue for p in test["pairwise"]
    ]
    assert [p["p"] for p in test["pairwise"]] == pytest.approx(raw)
    assert [p["p_bh"] for p in test["pairwise"]] == pytest.approx(multipletests(raw, method="fdr_bh")[1])


def test_benjamini_hochberg_matches_statsmodels():
    p_values = np.random.default_rng(2).uniform(0, 0.3, size=17)
    assert benjamini_hochberg(p_values) == pytest.approx(multipletests(p_values, method="fdr_bh")[1])


def test_every_slice_holds_cases_and_carries_the_leading_pairs_difference(subgroups):
    for entry in subgroups["columns"]:
        assert entry["slices"], entry["column"]
        for slice_ in entry["slices"]:
            assert slice_["n_cases"] > 0 and slice_["estimates"]
            assert all(estimate["n_cases"] > 0 for estimate in slice_["estimates"])
            assert slice_["group"] in entry["groups"]
            pair = slice_["leading_pair"]
            assert pair is not None and pair["difference"]["method"] == "sign_flip_inversion"
    sex = column(subgroups, "sex")
    assert sorted(s["group"] for s in sex["slices"]) == ["F", "M"]
