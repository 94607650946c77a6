"""``segquality estimate`` and the estimator commands' help, as a user meets them."""

from __future__ import annotations

import csv
import json

import pytest

from SegQualityReviewLib.cli import build_parser, main


@pytest.mark.parametrize("command", ["estimate", "train-estimator", "eval-estimator"])
def test_help_prints_percent_signs_once(command, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    text = capsys.readouterr().out
    assert "%%" not in text and "90%" in text


def test_the_csv_has_a_row_per_declared_structure_with_its_status(shared_data, tmp_path, capsys):
    folder = shared_data / "pyradiomics"
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"labels": {"1": "lesion", "2": "edema"}}))
    out = tmp_path / "quality.csv"
    code = main(
        [
            "estimate",
            "--image",
            str(folder / "brain1_image.nrrd"),
            "--seg",
            str(folder / "brain1_label.nrrd"),
            "--labels",
            str(labels),
            "--sequence",
            "T1c",
            "--mode",
            "classical",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rows = {row["structure"]: row for row in csv.DictReader(out.open())}
    assert set(rows) == {"lesion", "edema"}
    assert rows["lesion"]["status"] == "ok" and 0.0 <= float(rows["lesion"]["predicted_dice"]) <= 1.0
    assert rows["edema"]["status"] == "not_evaluable" and rows["edema"]["predicted_dice"] == ""
    assert list(rows["lesion"])[:7] == [
        "structure",
        "status",
        "predicted_dice",
        "interval_low",
        "interval_high",
        "flagged",
        "worst_slice",
    ]
    side = json.loads(out.with_suffix(".slices.json").read_text())
    assert set(side) == {"lesion", "edema"}
    assert "2 structures (1 empty)" in capsys.readouterr().err


def test_progress_lines_and_bad_channels(shared_data, tmp_path, capsys):
    folder = shared_data / "pyradiomics"
    common = [
        "estimate",
        "--image",
        str(folder / "brain2_image.nrrd"),
        "--seg",
        str(folder / "brain2_label.nrrd"),
    ]
    assert main([*common, "--mode", "classical", "--progress", "--out", str(tmp_path / "q.csv")]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("progress ")]
    assert lines and lines[-1].startswith("progress 1.000")
    assert main([*common, "--channel", "T1c", "--out", str(tmp_path / "q.csv")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "--channel 'T1c'" in error[0]
