"""``segquality select`` on a real case, as a user runs it (bad input: Testing/corpus)."""

from __future__ import annotations

import csv
import json

import numpy as np

from SegQualityReviewLib.cli import main
from SegQualityReviewLib.io import read_structures, read_volume
from SegQualityReviewLib.segmenters.output import read_segmentation


def test_select_writes_the_label_image_its_map_the_table_and_the_gain(shared_data, tmp_path, capsys):
    folder = shared_data / "totalsegmentator" / "ct_sm"
    maps = shared_data / "labelmaps"
    out = tmp_path / "selected.nii.gz"
    code = main(
        ["select", "--image", str(folder / "image.nii.gz"),
         "--seg", f"fast={folder / 'pred_total_fast_v2.nii.gz'}",
         "--seg", f"total-2023={folder / 'pred_total_v2_nnunetv2.1_2023-10.nii.gz'}",
         "--labels", str(maps / "totalsegmentator_total_v2.json"),
         "--seg-labels", f"total-2023={maps / 'totalsegmentator_total_v2_before_2024-03-14.json'}",
         "--reference", str(folder / "pred_total_v2.nii.gz"),
         "--reference-labels", str(maps / "totalsegmentator_total_v2.json"),
         "--mode", "classical", "--device", "cpu", "--out", str(out)]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "selected.labels.json", "selected.nii.gz", "selected.reference.json", "selected.selection.csv"
    ]  # fmt: skip
    with open(tmp_path / "selected.selection.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["structure", "chosen_model", "chosen_predicted_dice", "reassigned_voxels",
                             "predicted_dice_fast", "predicted_dice_total-2023"]  # fmt: skip
    selected = read_segmentation(out)
    assert [row["structure"] for row in rows] == list(selected.names)
    # Matched by name: the 2023 model's old rib ids are read with its own label map.
    old = read_structures(
        folder / "pred_total_v2_nnunetv2.1_2023-10.nii.gz",
        label_map=maps / "totalsegmentator_total_v2_before_2024-03-14.json",
    )
    fast = read_structures(
        folder / "pred_total_fast_v2.nii.gz", label_map=maps / "totalsegmentator_total_v2.json"
    )
    for row in rows:
        chosen = {"fast": fast, "total-2023": old}[row["chosen_model"]].mask(row["structure"])
        if row["reassigned_voxels"] == "0":
            np.testing.assert_array_equal(selected.mask(row["structure"]), chosen)
        if chosen.any():
            predicted = [float(row[f"predicted_dice_{m}"] or -1) for m in ("fast", "total-2023")]
            assert float(row["chosen_predicted_dice"]) == max(predicted)
    assert read_volume(out).geometry == read_volume(folder / "image.nii.gz").geometry
    gain = json.loads((tmp_path / "selected.reference.json").read_text())
    assert gain["dice_gain"] == gain["mean_dice"]["selection"] - gain["best_single_mean_dice"]
    assert f"Dice gain {gain['dice_gain']:+.4f}" in captured.out
    assert "structures selected" in captured.err and "Traceback" not in captured.err
