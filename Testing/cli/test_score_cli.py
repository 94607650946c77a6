"""`segquality score` end to end: by-name matching on real data, and one clear line for each bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import SimpleITK as sitk

from SegQualityReviewLib.cli import main

COLUMNS = (
    "structure,status,failure_mode,dice,iou,precision,recall,hd,hd95,nsd,assd,masd,"
    "volume_pred_ml,volume_gt_ml,volume_diff_ml"
).split(",")


def _rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS
        return {row["structure"]: row for row in reader}


def _error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def _write(path, array, spacing=(1.0, 1.0, 1.0)):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    sitk.WriteImage(image, str(path))
    return str(path)


def test_totalsegmentator_fast_vs_total_scores_every_structure_by_name(shared_data, tmp_path):
    folder, maps = shared_data / "totalsegmentator" / "ct_sm", shared_data / "labelmaps"
    out = tmp_path / "scores.csv"
    code = main(
        ["score", "--pred", str(folder / "pred_total_fast_v2.nii.gz"), "--gt", str(folder / "pred_total_v2.nii.gz"),
         "--pred-labels", str(maps / "totalsegmentator_total_v2.json"),
         "--gt-labels", str(maps / "totalsegmentator_total_v2.json"), "--device", "cpu", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    rows = _rows(out)
    assert len(rows) == len(json.loads((maps / "totalsegmentator_total_v2.json").read_text())["labels"]) - 1
    assert rows["liver"]["status"] == "ok" and float(rows["liver"]["dice"]) > 0.85
    assert float(rows["liver"]["hd95"]) > 0 and 0 < float(rows["liver"]["nsd"]) <= 1
    both_empty = [row for row in rows.values() if row["status"] == "both_empty"]
    assert both_empty and all(row["dice"] == "" for row in both_empty)


def test_old_rib_ids_match_new_ones_by_name(shared_data, tmp_path):
    folder, maps = shared_data / "totalsegmentator" / "ct_sm", shared_data / "labelmaps"
    out = tmp_path / "scores.csv"
    assert main(
        ["score", "--pred", str(folder / "pred_total_v2_nnunetv2.1_2023-10.nii.gz"),
         "--pred-labels", str(maps / "totalsegmentator_total_v2_before_2024-03-14.json"),
         "--gt", str(folder / "pred_total_v2.nii.gz"), "--gt-labels", str(maps / "totalsegmentator_total_v2.json"),
         "--device", "cpu", "--out", str(out)]
    ) == 0  # fmt: skip
    ribs = [row for name, row in _rows(out).items() if name.startswith("rib_") and row["status"] == "ok"]
    assert ribs and np.median([float(row["dice"]) for row in ribs]) > 0.7


def test_without_label_maps_every_value_is_a_structure(tmp_path):
    labels = np.zeros((8, 8, 8), dtype=np.uint8)
    labels[2:6, 2:6, 2:6] = 3
    gt = _write(tmp_path / "gt.nii.gz", labels)
    out = tmp_path / "scores.csv"
    assert main(["score", "--pred", gt, "--gt", gt, "--out", str(out), "--device", "cpu"]) == 0
    rows = _rows(out)
    assert list(rows) == ["label_3"]
    assert float(rows["label_3"]["dice"]) == 1.0 and float(rows["label_3"]["hd"]) == 0.0


def test_missing_file_is_one_clear_line(tmp_path, capsys):
    gt = _write(tmp_path / "gt.nii.gz", np.ones((3, 3, 3), dtype=np.uint8))
    code = main(
        ["score", "--pred", str(tmp_path / "absent.nii.gz"), "--gt", gt, "--out", str(tmp_path / "s.csv")]
    )
    assert code == 2
    assert _error_line(capsys) == f"segquality score: error: {tmp_path / 'absent.nii.gz'}: file not found"
    assert not (tmp_path / "s.csv").exists()


def test_not_an_image_and_nan_and_unknown_label_are_clear_errors(tmp_path, capsys):
    gt = _write(tmp_path / "gt.nii.gz", np.ones((3, 3, 3), dtype=np.uint8))
    text = tmp_path / "pred.nii.gz"
    text.write_text("hello")
    assert main(["score", "--pred", str(text), "--gt", gt, "--out", str(tmp_path / "s.csv")]) == 2
    assert "pred.nii.gz: not a readable image" in _error_line(capsys)

    nan = np.ones((3, 3, 3), dtype=np.float32)
    nan[0, 0, 0] = np.nan
    pred = _write(tmp_path / "nan.nrrd", nan)
    assert main(["score", "--pred", pred, "--gt", gt, "--out", str(tmp_path / "s.csv")]) == 2
    assert "nan.nrrd: the mask holds NaN" in _error_line(capsys)

    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"1": "liver"}))
    unknown = _write(tmp_path / "unknown.nii.gz", np.full((3, 3, 3), 2, dtype=np.uint8))
    code = main(["score", "--pred", unknown, "--pred-labels", str(labels), "--gt", gt, "--gt-labels", str(labels),
                 "--out", str(tmp_path / "s.csv")])  # fmt: skip
    assert code == 2
    assert "unknown.nii.gz: label values 2 are not in the label map" in _error_line(capsys)


def test_amos_geometry_mismatch_names_both_files_and_resample_opts_in(shared_data, tmp_path, capsys):
    folder = shared_data / "sam_med3d" / "amos_0013_labels_only"
    pred, gt = folder / "pred_sammed3d_kidney_right.nii.gz", folder / "gt.nii.gz"
    amos, kidney_only = shared_data / "labelmaps" / "amos.json", tmp_path / "kidney.json"
    kidney_only.write_text(json.dumps({"labels": {"1": "right kidney"}}))
    argv = ["score", "--pred", str(pred), "--pred-labels", str(kidney_only), "--gt", str(gt), "--gt-labels", str(amos),
            "--device", "cpu", "--out", str(tmp_path / "s.csv")]  # fmt: skip
    assert main(argv) == 2
    line = _error_line(capsys)
    assert str(pred) in line and str(gt) in line and "spacing (1.5, 1.5, 1.5) vs (0.781, 0.781, 5)" in line
    assert main(argv + ["--resample-pred"]) == 0
    rows = _rows(tmp_path / "s.csv")
    assert rows["right kidney"]["status"] in ("ok", "empty_pred")
    assert rows["spleen"]["status"] == "not_supported"


def test_console_script_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "SegQualityReviewLib", "score", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--nsd-tolerance" in result.stdout
