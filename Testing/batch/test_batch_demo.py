"""The demo's studies: the synthetic phantom end to end, and BraTS algorithms vs their fusion on real data."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from SegQualityReviewLib.batch import reanalyze, run_compare, run_demo
from SegQualityReviewLib.batch.demo import demo_studies


def test_synthetic_demo_writes_an_index_and_a_reproducible_study(tmp_path):
    runs = run_demo(tmp_path / "demo", shared_data=None, n_resamples=200, workers=1, progress=False)
    assert [run.study.name for run in runs] == ["phantom"]
    index = (tmp_path / "demo" / "index.html").read_text(encoding="utf-8")
    assert 'href="phantom/report.html"' in index and "SYNTHETIC" in index
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
    assert "ET (GD-enhancing tumor)" in html and "worst slice of TCGA-DU-7294" in html
