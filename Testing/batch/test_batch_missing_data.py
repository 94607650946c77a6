"""Missing data made explicit: blank values need a policy, absent organs leave every aggregate, one model's
gaps stay its own, model cards say what a model segments, and a probable label-mapping error is flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from SegQualityReviewLib.batch import AnalysisSettings, ModelCard, analyze_table, read_long_table
from SegQualityReviewLib.batch.errors import ScoreTableError
from SegQualityReviewLib.batch.missing import MissingDataSettings
from SegQualityReviewLib.batch.synthetic_scores import synthetic_score_table
from SegQualityReviewLib.cli import main


def gall_bladder_table(path, *, n_cases: int = 30) -> pd.DataFrame:
    """Three models; the gall bladder is absent (blank for every model) in a third of the patients, and
    model 'gappy' has no value on 8 liver cases: Touchstone's two kinds of blank."""
    rng = np.random.default_rng(3)
    rows = []
    for case in range(n_cases):
        for model, offset in (("good", 0.03), ("fair", 0.0), ("gappy", 0.01)):
            for structure in ("liver", "gall_bladder"):
                absent = structure == "gall_bladder" and case % 3 == 0
                missing = model == "gappy" and structure == "liver" and case < 8
                value = (
                    np.nan if absent or missing else float(np.clip(0.8 + offset + rng.normal(0, 0.03), 0, 1))
                )
                rows.append((f"c{case:02d}", f"p{case:02d}", model, structure, "dice", value))
    table = pd.DataFrame(rows, columns=["case_id", "patient_id", "model", "structure", "metric", "value"])
    table.to_csv(path, index=False)
    return table


def family(analysis, structure, metric="dice"):
    return next(f for f in analysis["families"] if (f["structure"], f["metric"]) == (structure, metric))


def test_a_blank_value_without_a_status_is_refused_unless_the_study_says_what_it_means(tmp_path, capsys):
    path = tmp_path / "scores.csv"
    gall_bladder_table(path)
    assert (
        main(["analyze", "--scores", str(path), "--out", str(tmp_path / "refused"), "--n-resamples", "200"])
        == 2
    )
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and str(path) in error and "no value and no status" in error
    assert not (tmp_path / "refused" / "results.json").exists()
    with pytest.raises(ScoreTableError, match="missing policy"):
        read_long_table(path)


def test_absent_organs_leave_every_aggregate_where_imputing_them_as_failures_would_sink_the_mean(tmp_path):
    path = tmp_path / "scores.csv"
    truth = gall_bladder_table(path)
    settings = {"metrics": ("dice",), "n_resamples": 300}
    absent = analyze_table(
        read_long_table(path, blank="not_evaluable"),
        AnalysisSettings(
            **settings, missing=MissingDataSettings(blank="not_evaluable", alignment="per_pair")
        ),
    )
    failed = analyze_table(
        read_long_table(path, blank="failed"),
        AnalysisSettings(**settings, missing=MissingDataSettings(blank="failed")),
    )
    measured = truth[(truth["structure"] == "gall_bladder") & (truth["model"] == "good")]["value"].mean()
    good = {e["model"]: e for e in family(absent, "gall_bladder")["estimates"]}["good"]
    assert good["mean"]["estimate"] == pytest.approx(measured) and good["n_cases"] == 20
    sunk = {e["model"]: e for e in family(failed, "gall_bladder")["estimates"]}["good"]
    worst = truth[truth["structure"] == "gall_bladder"]["value"].min()
    # Read as failures, a third of the cases take the worst Dice observed on the organ.
    assert sunk["mean"]["estimate"] == pytest.approx((20 * measured + 10 * worst) / 30)
    assert sunk["mean"]["estimate"] < measured - 0.02
    counts = absent["missing_data"]
    assert counts["blank_rows"] == 10 * 3 + 8 and counts["excluded"]["not_evaluable"] == 38
    assert failed["missing_data"]["worst_observed_rows"] == 38


def test_per_pair_alignment_keeps_one_models_missing_cases_from_removing_them_for_the_others(tmp_path):
    path = tmp_path / "scores.csv"
    gall_bladder_table(path)
    table = read_long_table(path, blank="not_evaluable")
    settings = {"metrics": ("dice",), "n_resamples": 300}
    complete = family(
        analyze_table(
            table, AnalysisSettings(**settings, missing=MissingDataSettings(blank="not_evaluable"))
        ),
        "liver",
    )
    per_pair = family(
        analyze_table(
            table,
            AnalysisSettings(
                **settings, missing=MissingDataSettings(blank="not_evaluable", alignment="per_pair")
            ),
        ),
        "liver",
    )
    assert complete["n_cases"] == 22 and complete["n_cases_dropped_by_alignment"] == 8
    assert per_pair["n_cases"] == 30 and per_pair["n_cases_dropped_by_alignment"] == 0
    pairs = {(p["model_a"], p["model_b"]): p["n"] for p in per_pair["pairwise"]}
    assert pairs == {("good", "fair"): 30, ("good", "gappy"): 22, ("fair", "gappy"): 22}
    assert {e["model"]: e["n_cases"] for e in per_pair["estimates"]} == {"good": 30, "fair": 30, "gappy": 22}


def test_structures_a_card_does_not_list_are_not_supported_not_missed():
    table = synthetic_score_table(
        n_models=3,
        n_cases=12,
        structures=("liver", "spleen"),
        metrics=("dice",),
        missing_cases=0,
        absent_rate=0,
    )
    # The liver-only model has empty predictions elsewhere: Dice 0 with a failure mode, as a scorer writes it.
    liver_only = table["model"] == "model_C"
    table["status"] = "ok"
    table["failure_mode"] = ""
    table.loc[liver_only & (table["structure"] == "spleen"), ["value", "status", "failure_mode"]] = [
        0.0,
        "empty_pred",
        "missed",
    ]
    cards = (ModelCard("model_C", structures=("Liver",)),)
    analysis = analyze_table(table, AnalysisSettings(metrics=("dice",), n_resamples=300, model_cards=cards))
    spleen = family(analysis, "spleen")
    assert spleen["not_supported"] == ["model_C"] and "model_C" not in spleen["competitors"]
    assert {e["model"] for e in spleen["estimates"]} == {"model_A", "model_B"}
    assert "model_C" in family(analysis, "liver")["competitors"]  # matched by name: "Liver" = "liver"
    pooled = {e["model"]: e for e in analysis["failure_modes"] if e["structure"] is None}
    assert pooled["model_C"]["modes"]["missed"]["estimate"] == 0.0 and pooled["model_C"]["cells"] == 12
    assert analysis["missing_data"]["not_supported_by_card"] == {"model_C": 12}
    assert analysis["leaderboard"]["structures"] == ["liver"]  # the structures every ranked model segments
    assert analysis["spot_checks"]["flags"] == []


def test_dice_zero_on_every_case_of_a_declared_structure_is_flagged_before_any_ranking(tmp_path):
    table = synthetic_score_table(
        n_models=3,
        n_cases=12,
        structures=("liver", "spleen"),
        metrics=("dice",),
        missing_cases=0,
        absent_rate=0,
    )
    table["status"] = "ok"
    swapped = (table["model"] == "model_B") & (table["structure"] == "spleen")
    table.loc[swapped, "value"] = 0.0  # the spleen label id of model_B points at another organ
    path = tmp_path / "scores.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "out"
    assert main(["analyze", "--scores", str(path), "--out", str(out), "--n-resamples", "200"]) == 0
    (flag,) = __import__("json").loads((out / "results.json").read_text())["analysis"]["spot_checks"]["flags"]
    assert (flag["model"], flag["structure"], flag["n_cases"]) == ("model_B", "spleen", 12)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "probable label-mapping error" in html
    assert html.index("probable label-mapping error") < html.index("Which model, how sure")


def test_metrics_left_out_of_the_analysis_are_named_not_dropped(tmp_path, capsys):
    table = synthetic_score_table(
        n_models=2, n_cases=10, structures=("liver",), metrics=("dice", "nsd"), missing_cases=0, absent_rate=0
    )
    table = pd.concat([table, table[table["metric"] == "nsd"].assign(metric="assd", value=2.0)])
    path = tmp_path / "scores.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "out"
    assert main(["analyze", "--scores", str(path), "--out", str(out), "--n-resamples", "200"]) == 0
    assert "also holds assd, not analysed" in capsys.readouterr().err
    assert "assd: not analysed" in (out / "report.html").read_text(encoding="utf-8")
