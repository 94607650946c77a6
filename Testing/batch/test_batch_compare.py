"""segquality compare end to end on a small synthetic phantom cohort: scoring, imputation, contamination,
provenance, resuming from the cache and reanalysis."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pandas as pd
import pytest

from SegQualityReviewLib.batch import analyze_table, reanalyze, run_compare
from SegQualityReviewLib.batch import scoring as scoring_module
from SegQualityReviewLib.batch.cache import file_sha256
from SegQualityReviewLib.batch.config import config_hash
from SegQualityReviewLib.batch.long_table import SCORE_METRICS, read_long_table
from SegQualityReviewLib.batch.phantom import MODELS, STRUCTURES
from SegQualityReviewLib.batch.pipeline import cache_folder
from SegQualityReviewLib.batch.results import load_results, settings_of
from SegQualityReviewLib.cli import main


def test_every_cell_is_scored_and_missing_or_corrupt_files_are_imputed_not_dropped(phantom_run):
    table = read_long_table(phantom_run.outputs.scores_path)
    n_cases = phantom_run.cohort.n_cases
    assert len(table) == n_cases * len(MODELS) * len(STRUCTURES) * len(SCORE_METRICS)
    dice = table[(table["metric"] == "dice") & (table["model"] == "hallucinator")]
    missing, failed = dice[dice["status"] == "missing_pred"], dice[dice["status"] == "failed"]
    assert len(missing) == len(failed) == len(STRUCTURES)
    assert (missing["value"] == 0).all() and (failed["value"] == 0).all()
    assert set(missing["failure_mode"]) == {"missed"}
    hd95 = table[(table["metric"] == "hd95") & (table["status"] == "failed")]
    assert (hd95["value"] > 100).all()  # capped at the image diagonal, never inf or dropped
    results = phantom_run.outputs.results
    counts = results["analysis"]["imputation"]["hallucinator"]
    assert counts["by_status"]["missing_pred"] == 4 and counts["by_status"]["failed"] == 4
    assert results["analysis"]["imputation"]["steady"]["imputed_cells"] == 0
    notes = {note["note"].split(":")[0] for note in results["run_notes"]["imputed_cells"]}
    assert any("no prediction file" in note for note in notes) and any(
        note.endswith(".nii.gz") for note in notes
    )


def test_a_contaminated_model_is_shown_but_excluded_from_ranking_tests_and_power(phantom_run):
    analysis = phantom_run.outputs.results["analysis"]
    decision = {entry["model"]: entry for entry in analysis["contamination"]}["memoriser"]
    assert decision["contaminated"] and "segquality-phantom/v1" in decision["reason"]
    assert "memoriser" not in analysis["ranked_models"]
    for family in analysis["families"]:
        assert {e["model"] for e in family["estimates"]} == set(MODELS)
        assert "memoriser" not in {m["model"] for m in family["ranking"]["models"]}
        assert all("memoriser" not in (p["model_a"], p["model_b"]) for p in family["pairwise"])
        assert "memoriser" not in (family["power"]["model_a"], family["power"]["model_b"])
    # Without its card the memoriser wins liver Dice: the exclusion above is what keeps it out.
    table = read_long_table(phantom_run.outputs.scores_path)
    settings = settings_of(phantom_run.outputs.results)
    uncarded = analyze_table(table, replace(settings, model_cards=()))
    liver = next(f for f in uncarded["families"] if f["structure"] == "liver" and f["metric"] == "dice")
    assert liver["ranking"]["models"][0]["model"] == "memoriser"


def test_error_profiles_show_in_subgroups_failure_modes_and_worst_cases(phantom_run):
    analysis = phantom_run.outputs.results["analysis"]
    column = next(entry for entry in analysis["subgroups"]["columns"] if entry["column"] == "site")
    site = {
        entry["group"]: {e["model"]: e["mean"] for e in entry["estimates"]}
        for entry in column["slices"]
        if entry["structure"] == "liver" and entry["metric"] == "dice"
    }
    assert site["B"]["dilated"] < site["A"]["dilated"] - 0.05  # dilated by two voxels at site B
    test = next(
        t
        for t in column["tests"]
        if (t["structure"], t["metric"], t["model"]) == ("liver", "dice", "dilated")
    )
    assert test["kruskal_p"] < 0.05 and set(test["n_patients"]) == {"A", "B"}
    pooled = {e["model"]: e for e in analysis["failure_modes"] if e["structure"] is None}
    assert pooled["kidney_misser"]["modes"]["missed"]["estimate"] > 0
    # The hallucinator's blob lies far from the spleen; the dilated model's organs are all too large.
    assert pooled["hallucinator"]["modes"]["distant_false_positive"]["estimate"] > 0
    assert pooled["dilated"]["modes"]["boundary_bias"]["estimate"] > 0.5
    assert pooled["steady"]["failure_rate"]["estimate"] == 0
    assert pooled["kidney_misser"]["failure_rate"]["method"] == "wilson"
    worst = analysis["worst_cases"]["hallucinator"][0]
    assert worst["value"] == 0 and worst["status"] in ("failed", "missing_pred")
    liver = next(f for f in analysis["families"] if f["structure"] == "liver" and f["metric"] == "dice")
    ranks = {entry["model"]: entry["rank"] for entry in liver["ranking"]["models"]}
    assert ranks["steady"] < ranks["dilated"]
    pair = next(p for p in liver["pairwise"] if (p["model_a"], p["model_b"]) == ("steady", "dilated"))
    # One voxel of over-segmentation costs Dice beyond noise on all 6 patients, but 6 patients allow only 64
    # sign vectors: p >= 2/64, above Holm's 0.05/6, and the primary interval says "not separable" with it.
    assert pair["difference"]["estimate"] > 0.05 and pair["p_value"] == 2 / 64
    assert pair["verdict"] == "not_separable" and pair["difference"]["low"] <= 0 <= pair["difference"]["high"]
    assert "no pair can be called different" in liver["resolution_note"]
    html = phantom_run.outputs.report_path.read_text(encoding="utf-8")
    assert "cannot call any pair different at this resolution" in html


def test_results_json_records_config_hash_seed_versions_and_file_hashes(phantom_run):
    results = load_results(phantom_run.outputs.results_path)
    assert results["config_hash"] == config_hash(results["config"])
    assert results["seed"] == 0 and results["n_resamples"] == 200
    assert {"numpy", "scipy", "pandas", "torch", "SegQualityReviewLib"} <= set(results["versions"])
    gt_file = phantom_run.cohort.root / "gt" / "P001_baseline.nii.gz"
    assert results["file_hashes"][str(gt_file)] == file_sha256(gt_file)
    assert results["scores_sha256"] == file_sha256(phantom_run.outputs.scores_path)


def test_reanalyze_reproduces_every_number_and_fails_when_a_score_changes(phantom_run, tmp_path, capsys):
    for name in ("cases.csv", "results.json"):
        shutil.copy(phantom_run.outputs.out_dir / name, tmp_path / name)
    assert reanalyze(tmp_path / "results.json") == []
    assert main(["reanalyze", str(tmp_path / "results.json")]) == 0
    table = pd.read_csv(tmp_path / "cases.csv", dtype=str, keep_default_na=False)
    row = table.index[
        (table["model"] == "steady") & (table["metric"] == "dice") & (table["structure"] == "liver")
    ][0]
    table.loc[row, "value"] = "0.5"
    table.to_csv(tmp_path / "cases.csv", index=False)
    assert main(["reanalyze", str(tmp_path / "results.json")]) == 1
    err = capsys.readouterr().err
    assert "analysis.families[0]" in err and "entry(ies) differ" in err


def test_an_interrupted_run_resumes_where_it_stopped(phantom_run, test_config, tmp_path, monkeypatch):
    out = tmp_path / "out"
    scored = []
    original = scoring_module.score_cell

    def interrupted_after_three(task):
        if len(scored) == 3:
            raise KeyboardInterrupt
        scored.append(task.key)
        return original(task)

    monkeypatch.setattr(scoring_module, "score_cell", interrupted_after_three)
    with pytest.raises(KeyboardInterrupt):
        run_compare(test_config(phantom_run.cohort), out, progress=False)
    assert sorted(path.stem for path in cache_folder(out).glob("*.json")) == sorted(scored)
    assert not out.exists()  # nothing half-written: the outputs appear only when the run completes
    monkeypatch.setattr(scoring_module, "score_cell", lambda task: scored.append(task.key) or original(task))
    outputs = run_compare(test_config(phantom_run.cohort), out, progress=False)
    n_cells = phantom_run.cohort.n_cases * len(MODELS)
    assert len(scored) == n_cells and len(set(scored)) == n_cells  # every cell scored exactly once
    assert outputs.results["scores_sha256"] == phantom_run.outputs.results["scores_sha256"]
    assert json.loads(outputs.results_path.read_text())["analysis"] == phantom_run.outputs.results["analysis"]
