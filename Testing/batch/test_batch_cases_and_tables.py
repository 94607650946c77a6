"""Matching files by case id, the case table, and reading long score tables from elsewhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from SegQualityReviewLib.batch import (
    BatchConfigError,
    CompareConfig,
    ModelSource,
    ScoreTableError,
    read_long_table,
)
from SegQualityReviewLib.batch.case_ids import case_id_of
from SegQualityReviewLib.batch.cases import match_cases


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_case_ids_strip_image_suffixes_including_slicer_segmentations():
    assert case_id_of(Path("case_01.nii.gz")) == "case_01"
    assert case_id_of(Path("a.b.seg.nrrd")) == "a.b"
    assert case_id_of(Path("notes.txt")) is None


def test_files_match_by_case_id_and_a_missing_prediction_is_kept_as_none(tmp_path):
    for case_id in ("c1", "c2", "c3"):
        touch(tmp_path / "gt" / f"{case_id}.nii.gz")
        touch(tmp_path / "images" / f"{case_id}_0000.nii.gz")
    touch(tmp_path / "a" / "c1.nii.gz")
    touch(tmp_path / "a" / "c3.nrrd")
    touch(tmp_path / "a" / "stray.nii.gz")
    config = CompareConfig(
        gt_dir=tmp_path / "gt", models=(ModelSource("a", tmp_path / "a"),), image_dir=tmp_path / "images"
    )
    cases, unmatched = match_cases(config)
    assert [c.case_id for c in cases] == ["c1", "c2", "c3"]
    assert [c.patient_id for c in cases] == ["c1", "c2", "c3"]
    assert cases[1].prediction_paths["a"] is None and cases[2].prediction_paths["a"].name == "c3.nrrd"
    assert cases[0].image_path.name == "c1_0000.nii.gz"
    assert unmatched == {"a": ["stray"]}


def test_the_case_table_sets_patients_and_metadata_and_must_name_existing_cases(tmp_path):
    touch(tmp_path / "gt" / "c1.nii.gz")
    touch(tmp_path / "gt" / "c2.nii.gz")
    table = tmp_path / "cases.csv"
    table.write_text("case_id,patient_id,site\nc1,p1,A\nc2,p1,B\n", encoding="utf-8")
    config = CompareConfig(
        gt_dir=tmp_path / "gt", models=(ModelSource("a", tmp_path / "gt"),), cases_csv=table
    )
    cases, _ = match_cases(config)
    assert [(c.patient_id, c.metadata["site"]) for c in cases] == [("p1", "A"), ("p1", "B")]
    table.write_text("case_id,patient_id\nc1,p1\nc9,p2\n", encoding="utf-8")
    with pytest.raises(BatchConfigError, match="case 'c9' has no ground-truth file"):
        match_cases(config)
    table.write_text("case_id,site\nc1,A\n", encoding="utf-8")
    with pytest.raises(BatchConfigError, match="needs a 'patient_id' column"):
        match_cases(config)


def test_a_plain_external_table_gets_default_status_and_a_blank_value_needs_a_policy(tmp_path):
    path = tmp_path / "challenge.csv"
    path.write_text(
        "case_id,patient_id,model,structure,metric,value,center\n"
        "c1,p1,A,liver,dice,0.9,X\nc1,p1,B,liver,dice,,X\n",
        encoding="utf-8",
    )
    with pytest.raises(ScoreTableError) as refused:
        read_long_table(path)
    message = str(refused.value)
    assert "\n" not in message and str(path) in message and "row 3" in message and "model 'B'" in message
    assert "missing" in message and "not_evaluable" in message
    table = read_long_table(path, blank="not_evaluable")
    assert table["status"].tolist() == ["ok", ""]  # resolved, and counted, by the analysis
    assert table["failure_mode"].tolist() == ["", ""]
    assert np.isnan(table["value"].iloc[1]) and table["center"].tolist() == ["X", "X"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("case_id,model,structure,metric,value\nc1,A,s,dice,1\n", "needs a 'patient_id' column"),
        (
            "case_id,patient_id,model,structure,metric,value,status\nc1,p,A,s,dice,1,great\n",
            "unknown status 'great'",
        ),
        ("case_id,patient_id,model,structure,metric,value\nc1,p,A,s,dice,high\n", "non-numeric"),
        (
            "case_id,patient_id,model,structure,metric,value\nc1,p,A,s,dice,1\nc1,p,A,s,dice,0.5\n",
            "appears twice",
        ),
        (
            "case_id,patient_id,model,structure,metric,value\nc1,p,A,s,dice,1\nc1,q,B,s,dice,1\n",
            "two patient ids",
        ),
    ],
)
def test_malformed_score_tables_raise_one_line_errors(tmp_path, text, message):
    path = tmp_path / "scores.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScoreTableError, match=message):
        read_long_table(path)
