"""The Logic's compare: `segquality compare` in a separate process, its progress, its summary in a table node."""

from __future__ import annotations

import yaml

from SegQualityReviewLib import mrml_bridge
from SegQualityReviewLib.batch.phantom import write_phantom_cohort


def _two_model_config(cohort) -> dict:
    """The cohort's config with absolute paths, two models and the dice metric only."""
    config = yaml.safe_load(cohort.config_path.read_text())
    config["models"] = [m for m in config["models"] if m["name"] in ("steady", "dilated")]
    config["analysis"] = {"metrics": ["dice"], "n_resamples": 200}
    for section, key in (("ground_truth", "dir"), ("ground_truth", "label_map"), ("images", "dir")):
        config[section][key] = str(cohort.root / config[section][key])
    config["cases"] = str(cohort.root / config["cases"])
    for model in config["models"]:
        for key in ("dir", "label_map", "card"):
            model[key] = str(cohort.root / model[key])
    return config


def test_compare_runs_the_batch_out_of_process_and_fills_the_summary_table(scene, module, tmp_path):
    cohort = write_phantom_cohort(tmp_path / "cohort", n_patients=6)
    config = _two_model_config(cohort)
    reports = []
    result = module.SegQualityReviewLogic().compare(
        config,
        outputFolder=tmp_path / "out",
        workers=1,
        progress=lambda fraction, message: reports.append((fraction, message)),
    )

    # The Batch tab's progress bar: the process's progress lines arrive, one per scored cell, then 1.0.
    fractions = [fraction for fraction, _ in reports]
    n_cells = cohort.n_cases * 2
    assert len(fractions) >= n_cells and fractions[0] < 0.1 and fractions[-1] == 1.0
    assert all(earlier < later for earlier, later in zip(fractions, fractions[1:]))
    assert reports[-1][1] == "done" and any(
        message == f"scored {n_cells}/{n_cells} cells" for _, message in reports
    )

    assert result.reportPath == tmp_path / "out" / "report.html" and result.reportPath.is_file()
    rows = mrml_bridge.read_table(result.summaryTableNode)
    assert {(row["structure"], row["model"]) for row in rows} == {
        (s, m) for s in ("liver", "spleen", "kidney_left", "kidney_right") for m in ("steady", "dilated")
    }
    liver = [row for row in rows if row["structure"] == "liver"]
    # "dilated" grows every organ by one voxel or more: it ranks below "steady", with an interval.
    assert [row["model"] for row in liver] == ["steady", "dilated"] and liver[0]["rank"] == "1"
    assert all(float(row["ci_low"]) <= float(row["mean"]) <= float(row["ci_high"]) for row in liver)
    assert {row["model"] for row in result.worstCases} == {"steady", "dilated"}


def test_compare_with_predicted_quality_ranks_without_the_references_too(scene, module, tmp_path):
    cohort = write_phantom_cohort(tmp_path / "cohort", n_patients=5)
    reports = []
    result = module.SegQualityReviewLogic().compare(
        _two_model_config(cohort),
        outputFolder=tmp_path / "out",
        workers=1,
        progress=lambda fraction, message: reports.append((fraction, message)),
        predictedQuality=True,
        estimatorMode="classical",
    )
    block = result.results["predicted_quality"]
    assert block["models"] == ["steady", "dilated"] and block["estimator"]["mode"] == "classical"
    assert block["agreement_with_reference"]["true_order"] == ["steady", "dilated"]
    n_cells = cohort.n_cases * 2
    assert any(message == f"estimated {n_cells}/{n_cells} cells" for _, message in reports)
    fractions = [fraction for fraction, _ in reports]
    assert all(earlier <= later for earlier, later in zip(fractions, fractions[1:]))
    assert "Ranked without the references" in result.reportPath.read_text(encoding="utf-8")
