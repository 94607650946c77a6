"""segquality analyze on a long table from elsewhere, and the CLI's one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from SegQualityReviewLib.cli import main

HOSTILE_MODEL = "<img src=x onerror=alert(1)>"


def challenge_table(path, *, n_patients: int = 12) -> None:
    """Published-results style table: model 'best' leads by 0.08 Dice, two cases per patient, a site column."""
    rng = np.random.default_rng(1)
    rows = []
    for patient in range(n_patients):
        for visit in range(2):
            base = rng.uniform(0.7, 0.85)
            for model, offset in (("best", 0.08), ("middle", 0.0), (HOSTILE_MODEL, -0.02)):
                for structure in ("kidney", "tumour"):
                    rows.append(
                        {
                            "case_id": f"p{patient}_v{visit}",
                            "patient_id": f"p{patient}",
                            "model": model,
                            "structure": structure,
                            "metric": "dice",
                            "value": float(np.clip(base + offset + rng.normal(0, 0.04), 0, 1)),
                            "site": "<b>north</b>" if patient % 2 else "south",
                        }
                    )
    pd.DataFrame(rows).to_csv(path, index=False)


def test_analyze_ranks_an_external_table_and_escapes_every_user_string(tmp_path):
    scores = tmp_path / "challenge.csv"
    challenge_table(scores)
    card = tmp_path / "card.yaml"
    card.write_text("version: '3'\ntraining_datasets: [KiTS/2023]\n", encoding="utf-8")
    out = tmp_path / "out"
    code = main(
        [
            "analyze",
            "--scores",
            str(scores),
            "--out",
            str(out),
            "--metrics",
            "dice",
            "--n-resamples",
            "200",
            "--dataset-name",
            "KiTS/2023/test",
            "--model-card",
            f"middle={card}",
            "--equivalence-margin",
            "dice=0.5",
        ]
    )
    assert code == 0
    analysis = json.loads((out / "results.json").read_text())["analysis"]
    assert analysis["n_cases"] == 24 and analysis["n_patients"] == 12
    assert analysis["ranked_models"] == ["best", HOSTILE_MODEL]  # 'middle' trained on KiTS/2023
    for family in analysis["families"]:
        assert family["ranking"]["models"][0]["model"] == "best"
        assert family["estimates"][0]["mean"]["n"] == 12  # patients, the bootstrap clusters
        # A 0.1 Dice gap whose whole interval lies inside a 0.5 margin: equivalent, though also significant.
        pair = family["pairwise"][0]
        assert pair["verdict"] == "equivalent" and pair["significant"] and pair["equivalence_margin"] == 0.5
        assert -0.5 < pair["difference"]["low"] and pair["difference"]["high"] < 0.5
    html = (out / "report.html").read_text()
    assert HOSTILE_MODEL not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>north</b>" not in html and "&lt;b&gt;north&lt;/b&gt;" in html
    assert "No views: the scores came from a table" in html  # no failure views without image files
    assert main(["reanalyze", str(out / "results.json")]) == 0


def test_user_errors_print_one_line_and_exit_2(tmp_path, capsys):
    assert main(["analyze", "--scores", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "out")]) == 2
    assert main(["compare", "--gt-dir", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert main(["compare", "--gt-dir", str(tmp_path), "--pred", "a", "--out", str(tmp_path / "out")]) == 2
    assert main(["reanalyze", str(tmp_path / "results.json")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("segquality ") and "error:" in line for line in lines)
    assert "score table not found" in lines[0] and "at least one --pred" in lines[1]
    assert "expected NAME=VALUE" in lines[2] and "results file not found" in lines[3]


def test_a_failed_row_without_a_value_takes_the_worst_observed_value_and_is_counted(tmp_path):
    from SegQualityReviewLib.batch import AnalysisSettings, analyze_table, read_long_table

    path = tmp_path / "scores.csv"
    rows = ["case_id,patient_id,model,structure,metric,value,status"]
    dice = {"a": [0.9, 0.8, 0.85, 0.7], "b": [0.6, 0.95, None, 0.9]}
    for model, values in dice.items():
        for index, value in enumerate(values):
            status = "failed" if value is None else "ok"
            rows.append(f"c{index},p{index},{model},liver,dice,{'' if value is None else value},{status}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    analysis = analyze_table(read_long_table(path), AnalysisSettings(metrics=("dice",), n_resamples=200))
    assert (
        analysis["imputation"]["b"]["by_status"]["failed"] == 1
        and analysis["imputation"]["a"]["imputed_cells"] == 0
    )
    means = {e["model"]: e["mean"]["estimate"] for e in analysis["families"][0]["estimates"]}
    assert abs(means["b"] - (0.6 + 0.95 + 0.6 + 0.9) / 4) < 1e-12  # the blank took the worst Dice seen, 0.6
    assert abs(means["a"] - 0.8125) < 1e-12


def test_without_metrics_analyze_takes_the_metrics_the_table_holds(tmp_path):
    path = tmp_path / "scores.csv"
    rows = ["case_id,patient_id,model,structure,metric,value"]
    rows += [
        f"c{i},p{i},{m},tumour,DSC,{0.6 + 0.03 * i + (0.1 if m == 'A' else 0)}"
        for i in range(6)
        for m in "AB"
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert (
        main(["analyze", "--scores", str(path), "--out", str(tmp_path / "out"), "--n-resamples", "200"]) == 0
    )
    analysis = json.loads((tmp_path / "out" / "results.json").read_text())["analysis"]
    assert analysis["metrics"] == ["DSC"] and analysis["families"][0]["ranking"]["models"][0]["model"] == "A"


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.ConvergenceWarning")
def test_a_family_whose_power_cannot_be_computed_keeps_its_ranking_and_says_why(tmp_path):
    from SegQualityReviewLib.batch import AnalysisSettings, analyze_table, read_long_table

    path = tmp_path / "scores.csv"
    rows = ["case_id,patient_id,model,structure,metric,value"]
    for index in range(
        5
    ):  # a 0.4 Dice gap with almost no spread: an effect size the power solver cannot reach
        rows += [
            f"c{index},p{index},good,liver,dice,{0.9 + 0.001 * index}",
            f"c{index},p{index},poor,liver,dice,0.5",
        ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    family = analyze_table(read_long_table(path), AnalysisSettings(metrics=("dice",), n_resamples=200))[
        "families"
    ][0]
    assert family["ranking"]["models"][0]["model"] == "good" and len(family["pairwise"]) == 1
    assert family["power"] is None or family["power"]["n_for_power"] is not None
    assert family["power"] is not None or family["note"].startswith("power analysis not available")
