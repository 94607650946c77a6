"""Labelled cases the estimator learns from: image, reference, real model outputs, patient and split.

The default catalogue covers ``../shared/data``; ``load_case_file`` reads one's own cases from JSON so the
estimator can be retrained or fine-tuned on local labelled data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputFileError, SegQualityError

SPLITS = ("train", "calibration", "test", "heldout_family")


class CaseFileError(SegQualityError):
    """A case list (JSON) is malformed: a missing key, an unknown split, or a file that does not exist."""


@dataclass(frozen=True)
class ModelOutput:
    """A real segmenter's output for a case; ``family`` groups versions of one method (held out together)."""

    family: str
    model: str
    path: Path
    label_map: Path | None = None


@dataclass(frozen=True)
class LabelledCase:
    """One image with its reference segmentation; ``patient`` decides the split, never the case."""

    case_id: str
    patient: str
    split: str
    modality: str
    image: Path
    reference: Path
    reference_label_map: Path | None = None
    model_outputs: tuple[ModelOutput, ...] = ()


def shared_data_cases(root: str | Path) -> list[LabelledCase]:
    """The catalogue of ``../shared/data`` with its fixed patient split.

    TotalSegmentator ``ct_sm`` is slices 82-111 of ``ct`` (identical voxels): one patient, both in training.
    The BraTS-Toolkit case (5 BraTS-2020 algorithms against their majority-vote fusion) is the held-out
    segmenter family: neither the patient nor any BraTS algorithm output is seen in training.
    """
    root = Path(root)
    maps = root / "labelmaps"
    ts, dm, pr = root / "totalsegmentator", root / "deepmedic_brats2015", root / "pyradiomics"
    brats13, roi = maps / "brats_2013_2015.json", maps / "binary_roi.json"
    ts_v1, ts_v2 = maps / "totalsegmentator_total_v1.json", maps / "totalsegmentator_total_v2.json"
    ts_v2_old = maps / "totalsegmentator_total_v2_before_2024-03-14.json"
    brats20 = maps / "brats_2017_2020.json"
    tk = root / "brats_toolkit" / "TCGA-DU-7294"
    cases = [
        LabelledCase(
            "ts_ct",
            "ts_example",
            "train",
            "CT",
            ts / "ct/image.nii.gz",
            ts / "ct/pred_total_v1.nii.gz",
            ts_v1,
            (
                ModelOutput("totalsegmentator_fast", "fast_v1", ts / "ct/pred_total_fast_v1.nii.gz", ts_v1),
                ModelOutput(
                    "totalsegmentator_fast", "fast_v2", ts / "ct/pred_total_fast_v2_forcesplit.nii.gz", ts_v2
                ),
            ),
        ),
        LabelledCase(
            "ts_ct_sm",
            "ts_example",
            "train",
            "CT",
            ts / "ct_sm/image.nii.gz",
            ts / "ct_sm/pred_total_v2.nii.gz",
            ts_v2,
            (
                ModelOutput(
                    "totalsegmentator_fast", "fast_v2", ts / "ct_sm/pred_total_fast_v2.nii.gz", ts_v2
                ),
                ModelOutput(
                    "totalsegmentator_fast",
                    "fast_bodyseg_v2",
                    ts / "ct_sm/pred_total_fast_bodyseg_v2.nii.gz",
                    ts_v2,
                ),
                ModelOutput(
                    "totalsegmentator_total",
                    "total_v2_2023_10",
                    ts / "ct_sm/pred_total_v2_nnunetv2.1_2023-10.nii.gz",
                    ts_v2_old,
                ),
            ),
        ),
        LabelledCase(
            "lung1", "lung1", "calibration", "CT", pr / "lung1_image.nrrd", pr / "lung1_label.nrrd", roi
        ),
        LabelledCase(
            "brain1", "brain1", "train", "MR", pr / "brain1_image.nrrd", pr / "brain1_label.nrrd", roi
        ),
        LabelledCase(
            "breast1", "breast1", "train", "MR", pr / "breast1_image.nrrd", pr / "breast1_label.nrrd", roi
        ),
        LabelledCase(
            "brain2", "brain2", "test", "MR", pr / "brain2_image.nrrd", pr / "brain2_label.nrrd", roi
        ),
        LabelledCase(
            "brats2021_01646",
            "brats2021_01646",
            "train",
            "MR",
            root / "sam_med3d/BraTS2021_01646/image_flair.nii.gz",
            root / "sam_med3d/BraTS2021_01646/gt_edema.nii.gz",
            roi,
        ),
        LabelledCase(
            "ts_ct_dicom",
            "ts_ct_dicom",
            "test",
            "CT",
            ts / "ct_dicom/dicom",
            ts / "ct_dicom/pred_total_v2.nii.gz",
            ts_v2,
        ),
        LabelledCase(
            "tcga_du_7294",
            "tcga_du_7294",
            "heldout_family",
            "MR",
            tk / "image_flair.nii.gz",
            tk / "fusion_mav.nii.gz",
            brats20,
            tuple(
                ModelOutput("brats2020_algorithms", name, tk / f"pred_{name}.nii.gz", brats20)
                for name in ("hnfnetv1-20", "isen-20", "sanet0-20", "scan-20", "yixinmpl-20")
            ),
        ),
    ]
    dm_splits = {1: "train", 2: "train", 3: "calibration", 4: "test"}
    for number, split in dm_splits.items():
        folder = dm / f"brats_2013_pat000{number}_1"
        cases.append(
            LabelledCase(
                f"brats2013_pat{number}",
                f"brats2013_pat{number}",
                split,
                "MR",
                folder / "image_flair_zscore.nii.gz",
                folder / "gt.nii.gz",
                brats13,
            )
        )
    return cases


def cases_from(*, shared_data: Path | None = None, case_file: Path | None = None) -> list[LabelledCase]:
    """The cases of ``train-estimator`` and ``eval-estimator``: the shared-data catalogue or a case list."""
    if shared_data is None:
        return load_case_file(case_file)
    if not (Path(shared_data) / "manifest.json").is_file():
        raise InputFileError(f"{shared_data}: not the shared data folder (no manifest.json)")
    return shared_data_cases(shared_data)


def load_case_file(path: str | Path) -> list[LabelledCase]:
    """Read cases from JSON: ``[{"case_id", "patient", "split", "modality", "image", "reference",
    "reference_label_map"?, "model_outputs"?: [{"family", "model", "path", "label_map"?}]}]``; relative
    paths are taken from the JSON file's folder."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: case list not found")
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CaseFileError(f"{path}: not a readable JSON case list ({error})") from None
    if not isinstance(entries, list):
        raise CaseFileError(f"{path}: expected a JSON list of cases")
    base = path.parent
    cases = []
    for number, entry in enumerate(entries):
        try:
            outputs = tuple(
                ModelOutput(
                    o["family"], o["model"], _file(base, o["path"]), _optional(base, o.get("label_map"))
                )
                for o in entry.get("model_outputs", ())
            )
            case = LabelledCase(
                case_id=str(entry["case_id"]),
                patient=str(entry["patient"]),
                split=str(entry["split"]),
                modality=str(entry["modality"]),
                image=_file(base, entry["image"]),
                reference=_file(base, entry["reference"]),
                reference_label_map=_optional(base, entry.get("reference_label_map")),
                model_outputs=outputs,
            )
        except (KeyError, TypeError) as error:
            raise CaseFileError(f"{path}: case {number} lacks {error}") from None
        if case.split not in SPLITS:
            raise CaseFileError(
                f"{path}: case '{case.case_id}' has split '{case.split}', not one of {SPLITS}"
            )
        cases.append(case)
    return cases


def _file(base: Path, value: str) -> Path:
    return (base / value) if not Path(value).is_absolute() else Path(value)


def _optional(base: Path, value: str | None) -> Path | None:
    return None if value is None else _file(base, value)
