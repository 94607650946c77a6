"""The pre-specified primary analysis decides every verdict, and no shown verdict contradicts its interval:
on the demo's phantom cohort and on a generated 19-model cohort, in results.json and in the report."""

from __future__ import annotations

import json
import math

import pytest

from SegQualityReviewLib.batch import AnalysisSettings, analyze_table, load_config, read_long_table
from SegQualityReviewLib.batch.errors import BatchConfigError
from SegQualityReviewLib.batch.missing import MissingDataSettings
from SegQualityReviewLib.batch.synthetic_scores import synthetic_score_table
from SegQualityReviewLib.cli import main
from SegQualityReviewLib.report.report import ReportInputs, report_context


def bound(value, infinity: float) -> float:
    """An interval end from results.json: null is an end no test at that level bounds."""
    return infinity if value is None else value


def assert_no_verdict_contradicts_its_interval(families) -> int:
    checked = 0
    for family in families:
        for pair in family["pairwise"]:
            low = bound(pair["difference"]["low"], -math.inf)
            high = bound(pair["difference"]["high"], math.inf)
            assert low <= pair["difference"]["estimate"] <= high
            excludes_zero = low > 0 or high < 0
            assert pair["significant"] == excludes_zero, pair
            if pair["verdict"] == "equivalent":
                margin = pair["equivalence_margin"]
                assert -margin < low and high < margin
            elif pair["verdict"] in ("a_better", "b_better"):
                a_larger = low > 0
                a_better = a_larger == family["higher_is_better"]
                assert (pair["verdict"] == "a_better") == a_better
                assert pair["better"] == (pair["model_a"] if a_better else pair["model_b"])
            else:
                assert pair["verdict"] == "not_separable" and low <= 0 <= high
            assert pair["difference"]["level"] >= family_level(family)
            checked += 1
    return checked


def family_level(family) -> float:
    return family["ranking"]["level"] if family["ranking"] else 0.0


@pytest.fixture(scope="module")
def nineteen_models(tmp_path_factory):
    """A generated 19-model cohort (40 patients, 3 organs, Dice and NSD) analysed with a margin."""
    root = tmp_path_factory.mktemp("nineteen")
    table = synthetic_score_table(
        n_cases=40, structures=("liver", "pancreas", "gall_bladder"), seed=3, missing_cases=10
    )
    table.to_csv(root / "scores.csv", index=False)
    settings = AnalysisSettings(
        metrics=("dice", "nsd"),
        # 10,000 sign vectors: the smallest sampled p, 1/10,001, is below Holm's first threshold 0.05/171.
        n_resamples=10_000,
        equivalence_margins={"dice": 0.05},
        missing=MissingDataSettings(blank="not_evaluable", alignment="per_pair"),
    )
    scores = read_long_table(root / "scores.csv", blank="not_evaluable")
    return scores, settings, analyze_table(scores, settings)


def test_no_verdict_of_the_demo_cohort_contradicts_its_interval(phantom_run):
    analysis = phantom_run.outputs.results["analysis"]
    assert assert_no_verdict_contradicts_its_interval(analysis["families"]) == 12 * 6


def test_no_verdict_of_a_19_model_cohort_contradicts_its_interval_in_results_or_report(nineteen_models):
    scores, settings, analysis = nineteen_models
    assert assert_no_verdict_contradicts_its_interval(analysis["families"]) == 6 * 171
    verdicts = {pair["verdict"] for family in analysis["families"] for pair in family["pairwise"]}
    assert {"a_better", "not_separable", "equivalent"} <= verdicts | {"b_better"}
    results = {"analysis": analysis, "config": {"analysis": settings.as_dict()}, "confidence_level": 0.95}
    context = report_context(ReportInputs(table=scores, results=results))
    for section in context["sections"]:
        for family in section["families"]:
            ranked = [entry["model"] for entry in family["ranking"]["models"]]
            means = {row["model"]: row["mean"]["estimate"] for row in family["rows"]}
            for pair in family["pairs"]:  # as shown: the better-ranked model first
                assert ranked.index(pair["model_a"]) < ranked.index(pair["model_b"])
                if "model_S" not in (pair["model_a"], pair["model_b"]):  # the others share every case
                    shown = means[pair["model_a"]] - means[pair["model_b"]]
                    assert pair["difference"]["estimate"] == pytest.approx(shown, abs=1e-12)
                low = bound(pair["difference"]["low"], -math.inf)
                high = bound(pair["difference"]["high"], math.inf)
                if pair["verdict_text"] == f"{pair['model_a']} better":
                    assert (low > 0) if family["higher_is_better"] else (high < 0)
                elif pair["verdict_text"] == f"{pair['model_b']} better":
                    assert (high < 0) if family["higher_is_better"] else (low > 0)
                else:
                    assert not (low > 0 or high < 0) or pair["verdict_text"] == "equivalent"
            for row in family["matrix"]:
                for column, cell in zip(family["matrix"], row["cells"]):
                    mirror = column["cells"][ranked.index(row["model"])]
                    flipped = {"better": "worse", "worse": "better"}.get(cell["kind"], cell["kind"])
                    assert mirror["kind"] == flipped


def test_tied_leaders_agree_with_the_rank_intervals_everywhere(nineteen_models):
    _, _, analysis = nineteen_models
    rankings = [family["ranking"] for family in analysis["families"]] + [analysis["leaderboard"]["ranking"]]
    for ranking in rankings:
        for model in ranking["models"]:
            assert model["tied_leader"] == (model["rank_low"] == 1)
        assert ranking["tied_leaders"] == [m["model"] for m in ranking["models"] if m["tied_leader"]]


def test_multiplicity_across_all_families_holds_every_pair_to_one_holm_decision(nineteen_models):
    scores, settings, within = nineteen_models
    across = analyze_table(scores, AnalysisSettings(**{**settings.__dict__, "multiplicity": "all"}))
    assert {pair["n_tests"] for family in across["families"] for pair in family["pairwise"]} == {6 * 171}
    assert {pair["n_tests"] for family in within["families"] for pair in family["pairwise"]} == {171}
    assert assert_no_verdict_contradicts_its_interval(across["families"]) == 6 * 171
    significant = [
        sum(p["significant"] for f in a["families"] for p in f["pairwise"]) for a in (within, across)
    ]
    assert significant[1] <= significant[0]
    assert across["primary"]["multiplicity_label"] == "holm across every family of the study"


def test_the_median_and_wilcoxon_as_primary_analysis_rank_and_decide(nineteen_models):
    scores, settings, _ = nineteen_models
    analysis = analyze_table(
        scores, AnalysisSettings(**{**settings.__dict__, "statistic": "median", "primary_test": "wilcoxon"})
    )
    liver = next(f for f in analysis["families"] if (f["structure"], f["metric"]) == ("liver", "dice"))
    medians = {e["model"]: e["median"]["estimate"] for e in liver["estimates"]}
    assert liver["ranking"]["scheme"] == "median"
    assert liver["ranking"]["models"][0]["aggregate"] == pytest.approx(max(medians.values()))
    assert {p["test"] for p in liver["pairwise"]} == {"wilcoxon"}
    assert {p["difference"]["method"] for p in liver["pairwise"]} == {"signed_rank_inversion"}
    assert assert_no_verdict_contradicts_its_interval(analysis["families"]) == 6 * 171


def test_the_primary_analysis_and_missing_policy_come_from_the_config(tmp_path, fresh_cohort):
    config = fresh_cohort.config_path
    text = config.read_text(encoding="utf-8").replace(
        "analysis:\n",
        "missing:\n  blank: not_evaluable\n  alignment: per_pair\nanalysis:\n  statistic: median\n"
        "  primary_test: wilcoxon\n  multiplicity: all\n  equivalence_margins: {dice: 0.02}\n",
    )
    config.write_text(text, encoding="utf-8")
    analysis = load_config(config).analysis
    assert (analysis.statistic, analysis.primary_test, analysis.multiplicity) == ("median", "wilcoxon", "all")
    assert analysis.missing == MissingDataSettings(blank="not_evaluable", alignment="per_pair")
    assert analysis.as_dict()["missing"] == {"blank": "not_evaluable", "alignment": "per_pair"}
    config.write_text(text.replace("  alignment: per_pair\n", "  alignement: per_pair\n"), encoding="utf-8")
    with pytest.raises(BatchConfigError, match="missing.alignement"):
        load_config(config)
    config.write_text(text.replace("statistic: median", "statistic: mode"), encoding="utf-8")
    with pytest.raises(
        BatchConfigError, match="analysis.statistic: expected one of mean, median, got 'mode'"
    ):
        load_config(config)


@pytest.mark.parametrize("model_name", ["m$\\notacmd{$x", "$a$ and $b$", "<b>bold</b>"])
def test_model_names_are_literal_text_in_every_plot(tmp_path, model_name):
    table = synthetic_score_table(
        n_models=3, n_cases=12, structures=("liver",), metrics=("dice",), missing_cases=0
    )
    table["model"] = table["model"].replace({"model_A": model_name})
    table.to_csv(tmp_path / "scores.csv", index=False)
    out = tmp_path / "out"
    assert (
        main(["analyze", "--scores", str(tmp_path / "scores.csv"), "--out", str(out), "--n-resamples", "200"])
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert model_name in results["analysis"]["models"] and (out / "report.html").stat().st_size > 10_000
