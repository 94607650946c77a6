"""The demo's studies: the synthetic phantom end to end, and BraTS algorithms vs their fusion on real data."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from SegQualityReviewLib.batch import reanalyze, run_compare, run_demo
from SegQualityReviewLib.batch.demo import demo_studies


def test_synthetic_demo_writes_an_index_and_a_reproducible_study_and_says_the_real_ones_did_not_run(tmp_path):
    absent = tmp_path / "no-shared-data"
    runs = run_demo(tmp_path / "demo", shared_data=absent, n_resamples=200, workers=1, progress=False)
    assert [run.study.name for run in runs] == ["phantom"]
    index = (tmp_path / "demo" / "index.html").read_text(encoding="utf-8")
    assert 'href="phantom/report.html"' in index and "SYNTHETIC" in index
    assert "17 head-and-neck CTs" in index and "did not run" in index and str(absent) in index
    results = runs[0].outputs.results
    assert results["n_resamples"] == 200 and results["analysis"]["n_patients"] == 14
    assert reanalyze(runs[0].outputs.results_path) == []


def test_brats_algorithms_vs_fusion_flags_the_two_that_hallucinate_enhancing_tumour(shared_data, tmp_path):
    study = next(s for s in demo_studies(shared_data) if s.name == "brats_toolkit")
    outputs = run_compare(
        replace(study.build(tmp_path / "inputs"), workers=1), tmp_path / "out", progress=False
    )
    table = pd.read_csv(outputs.scores_path, keep_default_na=False)
    enhancing = table[(table["structure"] == "ET (GD-enhancing tumor)") & (table["metric"] == "dice")]
    by_model = dict(zip(enhancing["model"], zip(enhancing["status"], enhancing["failure_mode"])))
    assert by_model["hnfnetv1-20"] == by_model["sanet0-20"] == ("empty_gt", "hallucinated")
    assert {by_model[m][0] for m in ("isen-20", "scan-20", "yixinmpl-20")} == {"both_empty"}
    edema = table[(table["structure"] == "ED (peritumoral edema)") & (table["metric"] == "dice")]
    assert (edema["status"] == "ok").all() and (edema["value"].astype(float) > 0.85).all()
    analysis = outputs.results["analysis"]
    assert analysis["n_patients"] == 1
    assert all("descriptive only" in family["note"] for family in analysis["families"])
    assert analysis["imputation"]["sanet0-20"]["by_status"]["empty_gt"] == 1
    html = outputs.report_path.read_text(encoding="utf-8")
    assert "ET (GD-enhancing tumor)" in html and "failure of sanet0-20 on TCGA-DU-7294" in html
    assert html.count("This study has one patient") == 1  # said once, in one line


@pytest.mark.slow
def test_the_inter_reader_study_reads_both_readers_in_place_and_gives_real_intervals(shared_data, tmp_path):
    study = next(s for s in demo_studies(shared_data) if s.name == "hn_inter_reader")
    config = study.build(tmp_path / "inputs")
    assert "{case}" in str(config.gt_dir) and config.gt_dir.parts[-1] == "oncologist"
    cases = pd.read_csv(config.cases_csv, dtype=str)
    assert len(cases) == 17 and set(cases["split"]) == {"test", "validation"}
    # Two patients keep the test short; the demo runs all 17.
    cases.head(2).to_csv(tmp_path / "two.csv", index=False)
    outputs = run_compare(
        replace(config, cases_csv=tmp_path / "two.csv", workers=1), tmp_path / "out", progress=False
    )
    analysis = outputs.results["analysis"]
    assert analysis["n_patients"] == 2 and len(analysis["structures"]) == 21
    canal = next(f for f in analysis["families"] if (f["structure"], f["metric"]) == ("Spinal-Canal", "dice"))
    (estimate,) = canal["estimates"]
    assert (
        estimate["mean"]["method"] == "t"
        and estimate["mean"]["n"] == 2
        and estimate["mean"]["estimate"] > 0.9
    )
    assert canal["ranking"] is None and "1 uncontaminated model" in canal["note"]
    assert not list((tmp_path / "inputs").rglob("*.nrrd"))  # nothing copied
