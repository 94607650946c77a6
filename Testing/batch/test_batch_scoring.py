"""Scoring cells on tiny synthetic volumes: labels matched by name, grid mismatches, resampling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from SegQualityReviewLib.batch import CompareConfig, ModelSource, ScoringSettings
from SegQualityReviewLib.batch.cache import ScoreCache
from SegQualityReviewLib.batch.cases import match_cases
from SegQualityReviewLib.batch.scoring import build_tasks, score_all


def write_labels(path: Path, labels: np.ndarray, *, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = sitk.GetImageFromArray(labels.astype(np.uint8))
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    sitk.WriteImage(image, str(path))


def write_label_map(path: Path, names_by_value: dict[int, str]) -> Path:
    path.write_text(json.dumps({"labels": {str(v): n for v, n in names_by_value.items()}}), encoding="utf-8")
    return path


def two_organs() -> np.ndarray:
    labels = np.zeros((12, 16, 16), np.uint8)
    labels[3:9, 2:7, 2:7] = 1  # liver
    labels[3:9, 9:14, 9:14] = 2  # spleen
    return labels


def score(tmp_path: Path, *, resample: bool = False) -> dict:
    config = CompareConfig(
        gt_dir=tmp_path / "gt",
        gt_label_map=tmp_path / "gt_labels.json",
        models=(ModelSource("swapped_ids", tmp_path / "pred", tmp_path / "pred_labels.json"),),
        scoring=ScoringSettings(resample_pred=resample),
        workers=1,
    )
    cases, _ = match_cases(config)
    tasks, _ = build_tasks(config, cases)
    results = score_all(tasks, ScoreCache(tmp_path / f"cache_{resample}"), progress=False)
    return {
        (r.case_id, row["structure"]): (row["status"], row["dice"], r.note) for r in results for row in r.rows
    }


def test_labels_match_by_name_and_a_grid_mismatch_fails_the_cell_unless_resampled(tmp_path):
    reference = two_organs()
    write_label_map(tmp_path / "gt_labels.json", {1: "liver", 2: "spleen"})
    write_label_map(tmp_path / "pred_labels.json", {7: "Spleen", 3: "LIVER"})  # other ids, same names
    swapped = np.zeros_like(reference)
    swapped[reference == 1], swapped[reference == 2] = 3, 7
    for case_id in ("same_grid", "shifted_grid"):
        write_labels(tmp_path / "gt" / f"{case_id}.nii.gz", reference)
    write_labels(tmp_path / "pred" / "same_grid.nii.gz", swapped)
    write_labels(tmp_path / "pred" / "shifted_grid.nii.gz", swapped, origin=(0.0, 0.0, 3.0))
    cells = score(tmp_path)
    assert cells[("same_grid", "liver")][:2] == ("ok", 1.0) and cells[("same_grid", "spleen")][:2] == (
        "ok",
        1.0,
    )
    status, dice, note = cells[("shifted_grid", "liver")]
    assert status == "failed" and dice == 0.0 and "not on the same voxel grid" in note
    resampled = score(tmp_path, resample=True)
    status, dice, _ = resampled[("shifted_grid", "liver")]
    assert status == "ok" and 0.0 < dice < 1.0  # three slices out of six overlap after resampling: Dice 0.5
    assert abs(dice - 0.5) < 1e-9
