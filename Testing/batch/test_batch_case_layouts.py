"""compare accepts the case layouts score accepts: per-case folders of binary masks, and a reader layout
(<case>/<reader>/<structure>.nrrd) named with a {case} pattern; the Batch tab finds those cases too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from SegQualityReviewLib.batch import CompareConfig, ModelSource, run_compare
from SegQualityReviewLib.batch.cache import file_sha256
from SegQualityReviewLib.batch.cases import match_cases
from SegQualityReviewLib.review import case_files


def write_mask(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    image.SetSpacing((1.0, 1.0, 2.0))
    sitk.WriteImage(image, str(path))


def reader_layout(root: Path, *, n_cases: int = 4) -> Path:
    """<case>/<reader>/<structure>.nrrd, as the head-and-neck inter-reader data comes."""
    rng = np.random.default_rng(0)
    for case in range(n_cases):
        for reader in ("oncologist", "radiographer"):
            for structure, centre in (("Brainstem", 8), ("Parotid-Lt", 20)):
                mask = np.zeros((10, 32, 32), bool)
                shift = int(rng.integers(0, 2)) if reader == "radiographer" else 0
                mask[3:7, centre - 3 + shift : centre + 3 + shift, 10:16] = True
                write_mask(root / f"case{case}" / reader / f"{structure}.nrrd", mask)
    return root


def test_a_folder_of_per_case_mask_folders_is_a_set_of_cases(tmp_path):
    root = reader_layout(tmp_path / "hn")
    config = CompareConfig(
        gt_dir=root / "{case}" / "oncologist",
        models=(ModelSource("radiographer", root / "{case}" / "radiographer"),),
        workers=1,
    )
    cases, unmatched = match_cases(config)
    assert [case.case_id for case in cases] == ["case0", "case1", "case2", "case3"] and unmatched == {}
    assert cases[0].gt_path == root / "case0" / "oncologist"
    outputs = run_compare(config, tmp_path / "out", progress=False)
    dice = outputs.results["analysis"]["families"][0]
    assert {f["structure"] for f in outputs.results["analysis"]["families"]} == {"Brainstem", "Parotid-Lt"}
    assert dice["n_patients"] == 4 and dice["estimates"][0]["mean"]["method"] == "t"
    folder = root / "case0" / "oncologist"
    assert outputs.results["file_hashes"][str(folder)] == file_sha256(folder)
    # The Batch tab finds the case's folders by the same rule.
    found = case_files(outputs.results, "case2")
    assert found == {
        "reference": root / "case2" / "oncologist",
        "radiographer": root / "case2" / "radiographer",
    }


def test_plain_per_case_folders_beside_files_are_cases_too(tmp_path):
    mask = np.zeros((6, 16, 16), bool)
    mask[2:4, 4:10, 4:10] = True
    write_mask(tmp_path / "gt" / "a" / "liver.nii.gz", mask)
    write_mask(tmp_path / "gt" / "b" / "liver.nii.gz", mask)
    write_mask(tmp_path / "pred" / "a" / "liver.nii.gz", mask)
    config = CompareConfig(gt_dir=tmp_path / "gt", models=(ModelSource("m", tmp_path / "pred"),), workers=1)
    cases, _ = match_cases(config)
    assert [(case.case_id, case.prediction_paths["m"]) for case in cases] == [
        ("a", tmp_path / "pred" / "a"),
        ("b", None),
    ]
    a_folder_hash = file_sha256(tmp_path / "gt" / "a")
    write_mask(tmp_path / "gt" / "a" / "spleen.nii.gz", mask)
    assert file_sha256(tmp_path / "gt" / "a") != a_folder_hash  # a new mask in the folder re-scores the case
