"""``segquality models`` and ``segquality segment`` as a user runs them."""

from __future__ import annotations

import shutil

from SegQualityReviewLib.cli import main
from SegQualityReviewLib.io import LabelMap


def test_models_lists_builtins_as_available_and_optional_packages_with_the_reason(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    by_name = {line.split()[0]: line for line in lines if line and not line.startswith(" ")}
    assert "available" in by_name["classical-ct"].split()
    assert "unavailable" in by_name["nnunet"].split()
    assert any("pip install nnunetv2" in line for line in lines)


def test_segment_writes_labels_and_their_names_and_streams_progress(shared_data, tmp_path, capsys):
    image = tmp_path / "ct_sm.nii.gz"
    shutil.copy(shared_data / "totalsegmentator/ct_sm/image.nii.gz", image)
    out = tmp_path / "S.nii.gz"
    code = main(
        ["segment", "--image", str(image), "--model", "classical-body", "--device", "cpu", "--out", str(out)]
    )
    captured = capsys.readouterr()
    assert code == 0 and captured.out.strip() == str(out)
    assert "PROGRESS 1.000 done" in captured.err
    assert LabelMap.load(tmp_path / "S.labels.json").names == ("body",)


def test_segment_with_an_unknown_model_fails_with_one_line(shared_data, tmp_path, capsys):
    code = main(
        [
            "segment",
            "--image",
            str(shared_data / "totalsegmentator/ct_sm/image.nii.gz"),
            "--model",
            "no-such-model",
            "--out",
            str(tmp_path / "S.nii.gz"),
            "--quiet",
        ]
    )
    error = capsys.readouterr().err.strip()
    assert code == 2
    assert error.startswith("segquality segment: error: model 'no-such-model'") and "unknown model" in error
    assert len(error.splitlines()) == 1
    assert not (tmp_path / "S.nii.gz").exists()
