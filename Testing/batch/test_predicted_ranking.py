"""Ranking models by predicted quality: with references (set against the true ranking) and without."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from SegQualityReviewLib.batch import load_config, run_compare, write_phantom_cohort
from SegQualityReviewLib.batch.phantom import MODELS
from SegQualityReviewLib.batch.predicted_ranking import (
    estimate_tasks,
    match_image_cases,
    predicted_leaderboard,
    reference_agreement,
)
from SegQualityReviewLib.batch.predicted_runs import run_reference_free
from SegQualityReviewLib.batch.predicted_settings import ESTIMATOR_MODES, PredictedQualitySettings
from SegQualityReviewLib.quality.estimator import MODES

# The CLI in a fresh interpreter, as a user runs it.
CLI = [
    sys.executable,
    "-c",
    "import sys; from SegQualityReviewLib.cli import main; sys.exit(main(sys.argv[1:]))",
]
# The estimator's classical mode (no LiteMedSAM) keeps these runs to seconds on 2 CPU cores.
CLASSICAL = PredictedQualitySettings(mode="classical")


@pytest.fixture(scope="module")
def ranked(tmp_path_factory):
    """The phantom cohort compared with references and ranked by predicted quality, in one run."""
    root = tmp_path_factory.mktemp("predicted")
    cohort = write_phantom_cohort(root / "inputs", n_patients=5)
    config = load_config(cohort.config_path, workers=1)
    config = replace(config, analysis=replace(config.analysis, n_resamples=200))
    outputs = run_compare(config, root / "out", progress=False, predicted_quality=CLASSICAL)
    return cohort, outputs


def test_the_ranking_is_set_against_the_true_one_on_the_same_cells(ranked):
    _, outputs = ranked
    block = outputs.results["predicted_quality"]
    agreement = block["agreement_with_reference"]
    predicted = pd.read_csv(outputs.out_dir / "predicted.csv")
    scores = pd.read_csv(outputs.scores_path)
    dice = scores[scores["metric"] == "dice"][["case_id", "model", "structure", "value"]]
    joined = predicted[predicted["structure"].isin(block["structures"])].merge(
        dice, on=["case_id", "model", "structure"]
    )
    means = joined.groupby("model")[["predicted_dice", "value"]].mean().reindex(list(MODELS))
    expected = scipy_stats.kendalltau(means["predicted_dice"], means["value"]).statistic
    assert agreement["kendall_tau"] == pytest.approx(expected)
    assert agreement["n_cells"] == len(joined)
    assert agreement["true_order"] == list(means["value"].sort_values(ascending=False).index)
    # The phantom's models differ by construction; the estimate must at least order them positively.
    assert agreement["kendall_tau"] > 0 and agreement["pearson_cells"] > 0.5


def test_the_leaderboard_is_the_stats_analysis_of_case_means_of_predicted_dice(ranked):
    _, outputs = ranked
    block = outputs.results["predicted_quality"]
    predicted = pd.read_csv(outputs.out_dir / "predicted.csv")
    kept = predicted[predicted["structure"].isin(block["structures"])]
    case_means = kept.groupby(["case_id", "model"])["predicted_dice"].mean().unstack()[list(MODELS)]
    estimates = dict(zip(block["analysis"]["models"], block["analysis"]["means"]))
    for model in MODELS:
        assert estimates[model]["estimate"] == pytest.approx(case_means[model].mean())
    ranking = block["analysis"]["ranking"]
    first = ranking["models"][0]["model"]
    assert first == case_means.mean().idxmax()
    assert block["ranked_by"].startswith("predicted Dice") and "no reference used" in block["ranked_by"]


def test_the_report_says_the_ranking_is_an_estimate_and_names_the_lead_it_shows(ranked):
    _, outputs = ranked
    html = outputs.report_path.read_text(encoding="utf-8")
    ranking = outputs.results["predicted_quality"]["analysis"]["ranking"]
    leaders = ranking["tied_leaders"]
    section = html[html.index("Ranked without the references") : html.index("<h2>Per structure</h2>")]
    assert "It is not a measurement against a reference." in section
    assert "Kendall tau between the predicted and the true ranking" in section
    if len(leaders) == 1:
        assert f"{leaders[0]} leads predicted Dice" in section
    else:
        assert "are tied for the lead on predicted Dice" in section


def test_each_model_is_estimated_with_every_other_model_of_its_case_as_agreement(tmp_path):
    cohort = write_phantom_cohort(tmp_path / "inputs", n_patients=5)
    root = cohort.config_path.parent
    cases, _ = match_image_cases(root / "images", {m: root / "pred" / m for m in MODELS})
    tasks = estimate_tasks(cases, {m: root / "labels.json" for m in MODELS})
    case = cases[0]
    for task in (t for t in tasks if t.case_id == case.case_id):
        others = {path for path, _ in task.others}
        expected = {p for m, p in case.prediction_paths.items() if m != task.model and p is not None}
        assert others == expected and task.pred_path not in others


def test_without_references_missing_and_unreadable_predictions_are_kept_as_dice_zero(tmp_path):
    cohort = write_phantom_cohort(tmp_path / "inputs", n_patients=5)
    root = cohort.config_path.parent
    results = run_reference_free(
        image_dir=root / "images",
        predictions={m: root / "pred" / m for m in MODELS},
        label_maps={m: root / "labels.json" for m in MODELS},
        out_dir=tmp_path / "out",
        cache_dir=tmp_path / "cache",
        cases_csv=root / "cases.csv",
        settings=CLASSICAL,
        progress=False,
    )
    assert (
        results["mode"] == "reference_free"
        and results["predicted_quality"]["agreement_with_reference"] is None
    )
    table = pd.read_csv(tmp_path / "out" / "predicted.csv")
    cases = pd.read_csv(root / "cases.csv")["case_id"]
    assert set(table["case_id"]) == set(cases)  # the case with an unreadable prediction is not dropped
    broken = table[table["status"].isin(["missing_pred", "failed"])]
    assert not broken.empty and (broken["predicted_dice"] == 0).all()
    assert set(broken["model"]) == {"hallucinator"}  # one bad file fails its own cell only
    noted = results["run_notes"]["cells_without_estimate"]
    assert {cell["model"] for cell in noted} == {"hallucinator"}
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "no reference segmentation was used" in html and "Cells without an estimate" in html


def test_reference_agreement_is_kendall_tau_of_the_model_means():
    rows = []
    for rank, model in enumerate(["a", "b", "c", "d"]):
        for case in range(3):
            rows.append((f"c{case}", model, "liver", 0.9 - 0.1 * rank, 0.95 - 0.1 * rank))
    frame = pd.DataFrame(rows, columns=["case_id", "model", "structure", "predicted_dice", "dice"])
    predicted = frame.drop(columns="dice")
    same = reference_agreement(predicted, frame.drop(columns="predicted_dice"), models=list("abcd"))
    assert same["kendall_tau"] == pytest.approx(1.0) and same["mae_cells"] == pytest.approx(0.05)
    reversed_truth = frame.assign(dice=frame["dice"].to_numpy()[::-1])
    flipped = reference_agreement(
        predicted, reversed_truth.drop(columns="predicted_dice"), models=list("abcd")
    )
    assert flipped["kendall_tau"] == pytest.approx(-1.0)
    assert flipped["true_order"] == ["d", "c", "b", "a"]


def test_a_structure_not_every_model_declares_is_left_out_and_named():
    rows = [
        ("c1", "p1", "a", "liver", 0.9),
        ("c1", "p1", "b", "liver", 0.8),
        ("c1", "p1", "a", "spleen", 0.7),
        ("c2", "p2", "a", "liver", 0.85),
        ("c2", "p2", "b", "liver", 0.75),
    ]
    table = pd.DataFrame(rows, columns=["case_id", "patient_id", "model", "structure", "predicted_dice"])
    block = predicted_leaderboard(table, models=["a", "b"])
    assert block["structures"] == ["liver"] and block["structures_left_out"] == ["spleen"]
    means = dict(zip(block["analysis"]["models"], block["analysis"]["means"]))
    assert means["a"]["estimate"] == pytest.approx(np.mean([0.9, 0.85]))


def test_the_cli_modes_are_the_estimators_modes():
    assert set(ESTIMATOR_MODES) == set(MODES)


def test_compare_without_references_needs_images_in_one_line(tmp_path):
    completed = subprocess.run(
        [*CLI, "compare", "--predicted-quality", "--pred", f"a={tmp_path}", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert completed.returncode == 2
    assert completed.stderr.strip().count("\n") == 0 and "needs --images" in completed.stderr


def test_compare_without_references_from_the_command_line(tmp_path):
    cohort = write_phantom_cohort(tmp_path / "inputs", n_patients=5)
    root = cohort.config_path.parent
    command = [*CLI, "compare", "--predicted-quality", "--estimator-mode", "classical", "--images", str(root / "images"), "--cases",
               str(root / "cases.csv"), "--workers", "1", "--no-progress", "--out", str(tmp_path / "out")]  # fmt: skip
    for model in ("steady", "dilated"):
        command += [
            "--pred",
            f"{model}={root / 'pred' / model}",
            "--pred-labels",
            f"{model}={root / 'labels.json'}",
        ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert "no reference used" in completed.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert [m["model"] for m in results["predicted_quality"]["analysis"]["ranking"]["models"]] != []
